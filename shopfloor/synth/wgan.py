"""Wasserstein GAN for minority-class rows (Dahdal et al., §III-A; Arjovsky et al. 2017; Gulrajani et al. 2017).

Generator: noise -> N hidden LeakyReLU layers -> tanh output, so rows live in [-1, 1] (the
synthesizer scales columns to that range itself). Critic: rows -> N hidden LeakyReLU layers ->
one linear output. RMSProp for both, as in the paper. The Wasserstein loss is kept Lipschitz either
by weight clipping (the original WGAN, the default) or by a gradient penalty (WGAN-GP). On small
minority tables clipping converged faster and more reliably in our runs (each step is also cheaper:
no double backward pass), so Optuna searches both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from shopfloor.synth.base import Synthesizer, check_numeric_table, epoch_budget, restore_dtypes


@dataclass
class WGANConfig:
    """Architecture and training settings; the Optuna search space covers most of them."""

    noise_dim: int = 64
    hidden_layers: int = 2
    hidden_units: int = 128
    epochs: int = 300
    batch_size: int = 32
    learning_rate: float = 5e-4
    n_critic: int = 5
    penalty: str = "clip"  # "clip" (weight clipping, the original WGAN) or "gp" (gradient penalty)
    gp_weight: float = 10.0
    clip_value: float = 0.01


def _mlp(n_in: int, n_out: int, layers: int, units: int, out_act: nn.Module | None) -> nn.Sequential:
    blocks: list[nn.Module] = []
    width = n_in
    for _ in range(layers):
        blocks += [nn.Linear(width, units), nn.LeakyReLU(0.2)]
        width = units
    blocks.append(nn.Linear(width, n_out))
    if out_act is not None:
        blocks.append(out_act)
    return nn.Sequential(*blocks)


class WGANSynthesizer(Synthesizer):
    """WGAN on a numeric table; columns are min-max scaled to [-1, 1] internally."""

    Config = WGANConfig
    label = "WGAN"

    def __init__(self, config: WGANConfig | None = None, seed: int = 0, progress: bool = True, **overrides) -> None:
        super().__init__(config, seed, progress, **overrides)
        if self.config.penalty not in {"gp", "clip"}:
            raise ValueError("penalty must be 'gp' or 'clip'")

    @staticmethod
    def search_space(trial, max_epochs: int = 300) -> dict[str, Any]:
        """The paper's WGAN space: noise in [10, 500], 1-5 hidden layers of 32-512 units, plus training."""
        return {"noise_dim": trial.suggest_int("noise_dim", 10, 500, log=True),
                "hidden_layers": trial.suggest_int("hidden_layers", 1, 5),
                "hidden_units": trial.suggest_int("hidden_units", 32, 512, log=True),
                "epochs": epoch_budget(trial, max_epochs),
                "batch_size": trial.suggest_categorical("batch_size", [16, 32, 64, 128]),
                "learning_rate": trial.suggest_float("learning_rate", 5e-5, 2e-3, log=True),
                "penalty": trial.suggest_categorical("penalty", ["clip", "gp"])}

    def _scale(self, x: np.ndarray) -> np.ndarray:
        return 2.0 * (x - self._lo) / self._span - 1.0

    def _unscale(self, z: np.ndarray) -> np.ndarray:
        return (z + 1.0) / 2.0 * self._span + self._lo

    def fit(self, table: pd.DataFrame) -> "WGANSynthesizer":
        check_numeric_table(table)
        cfg = self.config
        self.columns = [str(c) for c in table.columns]
        self._dtypes = table.dtypes.to_dict()
        x = table.to_numpy(dtype=np.float64)
        self._lo = x.min(axis=0)
        self._span = np.where(x.max(axis=0) - self._lo > 0, x.max(axis=0) - self._lo, 1.0)
        data = torch.tensor(self._scale(x), dtype=torch.float32)
        torch.manual_seed(self.seed)
        n_features = data.shape[1]
        self.generator = _mlp(cfg.noise_dim, n_features, cfg.hidden_layers, cfg.hidden_units, nn.Tanh())
        critic = _mlp(n_features, 1, cfg.hidden_layers, cfg.hidden_units, None)
        opt_g = torch.optim.RMSprop(self.generator.parameters(), lr=cfg.learning_rate)
        opt_c = torch.optim.RMSprop(critic.parameters(), lr=cfg.learning_rate)
        rng = torch.Generator().manual_seed(self.seed)
        batch = min(cfg.batch_size, len(data))
        steps = max(1, len(data) // batch)
        self._start_history()
        for epoch in self._epochs(cfg.epochs):
            order = torch.randperm(len(data), generator=rng)
            for step in range(steps):
                real = data[order[step * batch:(step + 1) * batch]]
                for _ in range(cfg.n_critic):
                    fake = self.generator(torch.randn(len(real), cfg.noise_dim, generator=rng)).detach()
                    loss_c = critic(fake).mean() - critic(real).mean()
                    if cfg.penalty == "gp":
                        loss_c = loss_c + cfg.gp_weight * _gradient_penalty(critic, real, fake, rng)
                    opt_c.zero_grad()
                    loss_c.backward()
                    opt_c.step()
                    if cfg.penalty == "clip":
                        with torch.no_grad():
                            for p in critic.parameters():
                                p.clamp_(-cfg.clip_value, cfg.clip_value)
                loss_g = -critic(self.generator(torch.randn(len(real), cfg.noise_dim, generator=rng))).mean()
                opt_g.zero_grad()
                loss_g.backward()
                opt_g.step()
            self._end_epoch(epoch, critic_loss=loss_c.item(), generator_loss=loss_g.item())
        self.generator.eval()
        return self

    @torch.no_grad()
    def sample(self, num_rows: int, seed: int | None = None) -> pd.DataFrame:
        rng = self._sampling_rng(seed)
        z = torch.randn(num_rows, self.config.noise_dim, generator=rng)
        rows = self._unscale(self.generator(z).numpy().astype(np.float64))
        return restore_dtypes(pd.DataFrame(rows, columns=self.columns), self._dtypes)


def _gradient_penalty(critic: nn.Module, real: torch.Tensor, fake: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
    """Gulrajani et al.: push the critic's gradient norm towards 1 on random interpolates."""
    eps = torch.rand(len(real), 1, generator=rng)
    mixed = (eps * real + (1 - eps) * fake).requires_grad_(True)
    grad, = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)
    return ((grad.norm(2, dim=1) - 1.0) ** 2).mean()
