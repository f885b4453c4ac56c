"""A RealNVP-style normalizing flow for tabular rows (Dinh et al. 2017; Eqs. 9-11 and 18 of the
normalizing-flows-for-manufacturing paper).

Each affine coupling block keeps the features picked by its mask and transforms the others:

    y_S = x_S,    y_S' = x_S' * exp(s(x_S)) + t(x_S),    log|det J| = sum s(x_S)      (Eqs. 9-10)
    x_S' = (y_S' - t(x_S)) * exp(-s(x_S))                                              (Eq. 11)

Masks alternate (even/odd features) from block to block so that every feature is transformed. A block
may also take a context vector c (Russell and Wang's conditional flow, §2 and Fig. 1's dotted path): the
conditioner then sees [x_S, c], and the flow models p(x | c) (the prognosis's posterior of the wear
model's parameters given the observed wear). The scale is soft-clamped by
``tanh_alpha(s) = alpha * tanh(s / alpha)`` with a learnable alpha per block (Eq. 18), which keeps
``exp(s)`` finite early in training. The base distribution is a standard normal;
features are standardized first and that affine map enters ``log_prob``, so densities are exact in
the units of the table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import pandas as pd
import torch
from torch import nn

from shopfloor.errors import DataError
from shopfloor.synth.base import Synthesizer, step_budget
from shopfloor.synth.table import ColumnSpec, TableEncoder


class AffineCoupling(nn.Module):
    """One coupling block: conditioner MLP on the kept features (and the context, if any) gives scale and
    shift of the others."""

    mask: torch.Tensor  # a registered buffer: 1 where the input passes unchanged

    def __init__(
        self,
        mask: torch.Tensor,
        hidden_units: int,
        hidden_layers: int,
        alpha: float = 2.0,
        context_dim: int = 0,
        slope: float = 0.1,
    ) -> None:
        super().__init__()
        dim = mask.numel()
        self.register_buffer("mask", mask)
        layers: list[nn.Module] = []
        width = dim + context_dim
        for _ in range(hidden_layers):
            layers += [nn.Linear(width, hidden_units), nn.LeakyReLU(slope) if slope else nn.ReLU()]
            width = hidden_units
        last = nn.Linear(width, 2 * dim)
        nn.init.zeros_(last.weight)  # start as the identity map
        nn.init.zeros_(last.bias)
        self.net = nn.Sequential(*layers, last)
        self.log_alpha = nn.Parameter(torch.tensor(math.log(alpha)))

    def _scale_shift(
        self, kept: torch.Tensor, context: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        raw_s, t = self.net(kept if context is None else torch.cat([kept, context], dim=1)).chunk(2, dim=1)
        alpha = self.log_alpha.exp()
        free = 1.0 - self.mask
        return alpha * torch.tanh(raw_s / alpha) * free, t * free

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Data -> noise direction; returns ``(y, log|det J|)`` per row."""
        s, t = self._scale_shift(x * self.mask, context)
        return x * self.mask + (1.0 - self.mask) * (x * torch.exp(s) + t), s.sum(dim=1)

    def inverse(self, y: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        s, t = self._scale_shift(y * self.mask, context)  # y_S = x_S: the conditioner sees the same input
        return y * self.mask + (1.0 - self.mask) * ((y - t) * torch.exp(-s))


class RealNVP(nn.Module):
    """Stacked coupling blocks with alternating masks and a standard-normal base; with ``context_dim`` > 0
    every block also takes the context, and the flow is conditional. ``alpha`` starts each block's scale bound
    (its tanh_alpha, trained); ``slope`` is the conditioners' leaky-ReLU slope (0: ReLU)."""

    def __init__(
        self,
        dim: int,
        n_blocks: int,
        hidden_units: int,
        hidden_layers: int,
        context_dim: int = 0,
        alpha: float = 2.0,
        slope: float = 0.1,
    ) -> None:
        super().__init__()
        even = (torch.arange(dim) % 2 == 0).float()
        self.blocks = nn.ModuleList(
            AffineCoupling(
                even if k % 2 == 0 else 1.0 - even,
                hidden_units,
                hidden_layers,
                alpha=alpha,
                context_dim=context_dim,
                slope=slope,
            )
            for k in range(n_blocks)
        )

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        logdet = torch.zeros(len(x), dtype=x.dtype, device=x.device)
        for block in self.blocks:
            x, ld = block(x, context)
            logdet = logdet + ld
        return x, logdet

    def inverse(self, z: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        for block in reversed(self.blocks):
            z = cast(AffineCoupling, block).inverse(z, context)
        return z

    def log_prob(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        z, logdet = self(x, context)
        return -0.5 * (z**2).sum(dim=1) - 0.5 * z.shape[1] * math.log(2 * math.pi) + logdet


@dataclass
class FlowConfig:
    n_blocks: int = 6
    hidden_units: int = 64
    hidden_layers: int = 2
    steps: int = 1500  # optimizer steps
    batch_size: int = 64
    learning_rate: float = 1e-3
    weight_decay: float = 1e-5


class FlowSynthesizer(Synthesizer):
    """Maximum-likelihood RealNVP on a mixed-type table; ``log_prob`` gives exact densities.

    Numeric columns are standardized; discrete values are dequantized (``TableEncoder`` with
    ``dequantize``): integers become ``x + u`` and one-hot entries ``e + u``, ``u ~ U(0, 1)`` drawn afresh
    for every batch, so the flow fits a density that does not collapse onto the lattice of the discrete
    values; sampling floors the integers and takes each block's argmax.
    """

    Config = FlowConfig
    label = "flow"

    @staticmethod
    def search_space(trial, max_steps: int = 1500) -> dict[str, Any]:
        """Depth and width of the coupling stack, and the Adam settings."""
        return {
            "n_blocks": trial.suggest_int("n_blocks", 2, 10),
            "hidden_units": trial.suggest_int("hidden_units", 16, 256, log=True),
            "hidden_layers": trial.suggest_int("hidden_layers", 1, 3),
            "steps": step_budget(trial, max_steps),
            "batch_size": trial.suggest_categorical("batch_size", [16, 32, 64, 128]),
            "learning_rate": trial.suggest_float("learning_rate", 1e-4, 5e-3, log=True),
            "weight_decay": trial.suggest_float("weight_decay", 1e-6, 1e-3, log=True),
        }

    def _encoded(self, table: pd.DataFrame, rng: np.random.Generator | None = None) -> torch.Tensor:
        return torch.tensor(self.encoder.encode(table[self.columns], rng), dtype=torch.float32)

    def fit(self, table: pd.DataFrame, specs: list[ColumnSpec] | None = None) -> FlowSynthesizer:
        cfg = self.config
        self.encoder = TableEncoder("standard", dequantize=True).fit(table, specs)
        if self.encoder.dim < 2:
            raise DataError("table", "a coupling flow needs at least 2 encoded columns")
        self.columns = list(self.encoder.columns)
        noise = np.random.default_rng(self.seed)
        discrete = bool(self.encoder.blocks) or any(s.kind == "integer" for s in self.encoder.numeric)
        data = self._encoded(table, noise)
        torch.manual_seed(self.seed)
        self.flow = RealNVP(data.shape[1], cfg.n_blocks, cfg.hidden_units, cfg.hidden_layers)
        opt = torch.optim.Adam(self.flow.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
        rng = torch.Generator().manual_seed(self.seed)
        batch = min(cfg.batch_size, len(data))
        epochs, per_epoch = self._plan(len(data), batch, cfg.steps)
        self._start_history()
        done = 0
        for epoch in self._epochs(epochs):
            if discrete and epoch:
                data = self._encoded(table, noise)  # fresh dequantization noise
            order = torch.randperm(len(data), generator=rng)
            total = 0.0
            for step in range(per_epoch):
                if done == cfg.steps:
                    break
                loss = -self.flow.log_prob(data[order[step * batch : (step + 1) * batch]]).mean()
                opt.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(self.flow.parameters(), 10.0)
                opt.step()
                total += loss.item()
                done += 1
            self._end_epoch(epoch, nll=total / per_epoch)
        self.flow.eval()
        return self

    @torch.no_grad()
    def sample(self, num_rows: int, seed: int | None = None) -> pd.DataFrame:
        rng = self._sampling_rng(seed)
        z = torch.randn(num_rows, self.encoder.dim, generator=rng)
        return self.encoder.decode(self.flow.inverse(z).double().numpy())

    @torch.no_grad()
    def log_prob(self, table: pd.DataFrame) -> np.ndarray:
        """Exact log-density of each row in the table's own units (standardization included; for discrete
        columns, of the values as they are, i.e. at the corner of their dequantization cell)."""
        if not self.columns:
            raise RuntimeError("fit the synthesizer before scoring")
        missing = [c for c in self.columns if c not in table.columns]
        if missing:
            raise DataError(missing[0], "column the flow was fitted on is missing")
        lp = self.flow.log_prob(self._encoded(table)).double().numpy()
        return lp - np.log(self.encoder.scale).sum()
