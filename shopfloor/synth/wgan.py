"""Wasserstein GAN for minority-class rows (Dahdal et al., §III-A; Arjovsky et al. 2017; Gulrajani et al. 2017).

Generator: noise -> N hidden LeakyReLU layers -> one output per encoded column: tanh for numeric columns
(scaled to [-1, 1] by ``TableEncoder``) and, for each categorical or boolean column, a softmax over its
one-hot block drawn with the Gumbel-softmax trick during training (so the critic sees near one-hot
vectors, as real rows are) and read by argmax when sampling, so a generated category is always one seen
in training; integers are rounded. Critic: rows -> N hidden LeakyReLU layers -> one linear output.
RMSProp for both, as in Dahdal et al. The Wasserstein loss is kept Lipschitz either by weight clipping (the
original WGAN, the default) or by a gradient penalty (WGAN-GP); Optuna searches both. The budget is a
number of generator steps (each after ``n_critic`` critic steps), not of epochs: a minority table of a
few dozen rows gets as many updates as a large one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
import torch
from torch import nn

from shopfloor.synth.base import Synthesizer, step_budget
from shopfloor.synth.table import ColumnSpec, TableEncoder


@dataclass
class WGANConfig:
    """Architecture and training settings; the Optuna search space covers most of them."""

    noise_dim: int = 64
    hidden_layers: int = 2
    hidden_units: int = 128
    steps: int = 1500  # generator updates
    batch_size: int = 32
    learning_rate: float = 5e-4
    n_critic: int = 5
    penalty: str = "clip"  # "clip" (weight clipping, the original WGAN) or "gp" (gradient penalty)
    gp_weight: float = 10.0
    clip_value: float = 0.01
    temperature: float = 0.2  # of the Gumbel-softmax over one-hot blocks


def _mlp(n_in: int, n_out: int, layers: int, units: int, out_act: nn.Module | None) -> nn.Sequential:
    """``layers`` hidden LeakyReLU layers of ``units`` units, a linear output and an optional activation."""
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
    """WGAN on a mixed-type table (see the module docstring)."""

    Config = WGANConfig
    label = "WGAN"

    def __init__(self, config: WGANConfig | None = None, seed: int = 0, progress: bool = True, **overrides) -> None:
        super().__init__(config, seed, progress, **overrides)
        if self.config.penalty not in {"gp", "clip"}:
            raise ValueError("penalty must be 'gp' or 'clip'")

    @staticmethod
    def search_space(trial, max_steps: int = 1500) -> dict[str, Any]:
        """Dahdal et al.'s WGAN space: noise in [10, 500], 1-5 hidden layers of 32-512 units, plus training."""
        return {
            "noise_dim": trial.suggest_int("noise_dim", 10, 500, log=True),
            "hidden_layers": trial.suggest_int("hidden_layers", 1, 5),
            "hidden_units": trial.suggest_int("hidden_units", 32, 512, log=True),
            "steps": step_budget(trial, max_steps),
            "batch_size": trial.suggest_categorical("batch_size", [16, 32, 64, 128]),
            "learning_rate": trial.suggest_float("learning_rate", 5e-5, 2e-3, log=True),
            "penalty": trial.suggest_categorical("penalty", ["clip", "gp"]),
        }

    def _generate(self, z: torch.Tensor, hard: bool, rng: torch.Generator | None = None) -> torch.Tensor:
        """Generator output: tanh numbers, and per one-hot block a (Gumbel-)softmax or a hard one-hot."""
        raw = self.generator(z)
        numeric = len(self.encoder.numeric)
        parts = [torch.tanh(raw[:, :numeric])]
        for _, block in self.encoder.blocks:
            logits = raw[:, block]
            if hard:
                parts.append(nn.functional.one_hot(logits.argmax(dim=1), logits.shape[1]).to(raw.dtype))
            else:
                uniform = torch.rand(logits.shape, generator=rng).clamp_(1e-9, 1.0 - 1e-9)
                gumbel = -torch.log(-torch.log(uniform))
                parts.append(torch.softmax((logits + gumbel) / self.config.temperature, dim=1))
        return torch.cat(parts, dim=1)

    def fit(self, table: pd.DataFrame, specs: list[ColumnSpec] | None = None) -> WGANSynthesizer:
        cfg = self.config
        self.encoder = TableEncoder("minmax").fit(table, specs)
        self.columns = list(self.encoder.columns)
        data = torch.tensor(self.encoder.encode(table[self.columns]), dtype=torch.float32)
        torch.manual_seed(self.seed)
        width = self.encoder.dim
        self.generator = _mlp(cfg.noise_dim, width, cfg.hidden_layers, cfg.hidden_units, None)
        critic = _mlp(width, 1, cfg.hidden_layers, cfg.hidden_units, None)
        opt_g = torch.optim.RMSprop(self.generator.parameters(), lr=cfg.learning_rate)
        opt_c = torch.optim.RMSprop(critic.parameters(), lr=cfg.learning_rate)
        rng = torch.Generator().manual_seed(self.seed)
        batch = min(cfg.batch_size, len(data))
        epochs, per_epoch = self._plan(len(data), batch, cfg.steps)
        self._start_history()
        done = 0
        for epoch in self._epochs(epochs):
            order = torch.randperm(len(data), generator=rng)
            for step in range(per_epoch):
                if done == cfg.steps:
                    break
                real = data[order[step * batch : (step + 1) * batch]]
                for _ in range(cfg.n_critic):
                    noise = torch.randn(len(real), cfg.noise_dim, generator=rng)
                    fake = self._generate(noise, hard=False, rng=rng).detach()
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
                noise = torch.randn(len(real), cfg.noise_dim, generator=rng)
                loss_g = -critic(self._generate(noise, hard=False, rng=rng)).mean()
                opt_g.zero_grad()
                loss_g.backward()
                opt_g.step()
                done += 1
            self._end_epoch(epoch, critic_loss=loss_c.item(), generator_loss=loss_g.item())
        self.generator.eval()
        return self

    @torch.no_grad()
    def sample(self, num_rows: int, seed: int | None = None) -> pd.DataFrame:
        rng = self._sampling_rng(seed)
        z = torch.randn(num_rows, self.config.noise_dim, generator=rng)
        return self.encoder.decode(self._generate(z, hard=True).numpy())


def _gradient_penalty(critic: nn.Module, real: torch.Tensor, fake: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
    """Gulrajani et al.: push the critic's gradient norm towards 1 on random interpolates."""
    eps = torch.rand(len(real), 1, generator=rng)
    mixed = (eps * real + (1 - eps) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)
    return ((grad.norm(2, dim=1) - 1.0) ** 2).mean()
