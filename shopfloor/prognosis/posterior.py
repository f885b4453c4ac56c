"""Amortized posterior p(a, b | observed wear): a GRU summary network and a conditional RealNVP (§3.2, Fig. 8).

The GRU reads the observed wear one value per step; its last output is the context vector. The flow is
the project's RealNVP (``shopfloor.synth.flow``) with every coupling block's conditioner also seeing
the context. Training minimizes the negative log-likelihood of the simulated parameters given their
curves (Eq. 16) with the context taken after 8, 9, ..., 20 observed values, as Russell and Wang's code does
(every length in every batch). A GRU is causal, so one pass over the first 20 values gives all thirteen
contexts at once: the output after step l is exactly the last output for the first l values.

Defaults are Table 1's selected setting: lr 1e-3, 2 GRU layers, GRU output 32, 8 coupling blocks of
hidden size 32; batch 512 and 12,000 / 3,000 simulated curves as Russell and Wang's code. The weights kept are
those of the epoch with the lowest validation NLL (on simulated validation curves).
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from shopfloor.defaults import PROGNOSIS
from shopfloor.progress import bar
from shopfloor.synth.flow import RealNVP


@dataclass
class PosteriorConfig:
    """The network and its training; the pipeline's defaults (``shopfloor.defaults.PROGNOSIS``) unless given."""

    gru_layers: int = PROGNOSIS.gru_layers
    context: int = PROGNOSIS.context
    blocks: int = PROGNOSIS.blocks
    hidden: int = PROGNOSIS.hidden
    lr: float = PROGNOSIS.lr
    epochs: int = PROGNOSIS.epochs
    batch_size: int = 512
    min_length: int = 8
    max_length: int = 20
    patience: int = PROGNOSIS.patience  # epochs without a better validation NLL before stopping; 0: run all epochs

    def to_dict(self) -> dict:
        return asdict(self)


class WearPosterior(nn.Module):
    """Summary GRU + conditional RealNVP over (a, b)."""

    def __init__(self, config: PosteriorConfig) -> None:
        super().__init__()
        self.config = config
        self.gru = nn.GRU(1, config.context, num_layers=config.gru_layers, batch_first=True)
        self.flow = RealNVP(2, config.blocks, config.hidden, hidden_layers=1, context_dim=config.context)

    def contexts(self, observed: torch.Tensor) -> torch.Tensor:
        """GRU outputs after every step: (batch, steps, context)."""
        return self.gru(observed.unsqueeze(-1))[0]

    def context(self, observed: torch.Tensor) -> torch.Tensor:
        """The context of each (complete) sequence: the GRU output after its last value."""
        return self.contexts(observed)[:, -1]

    def log_prob(self, params: torch.Tensor, observed: torch.Tensor) -> torch.Tensor:
        return self.flow.log_prob(params, self.context(observed))

    def training_nll(self, params: torch.Tensor, observed: torch.Tensor) -> torch.Tensor:
        """Mean NLL over the batch and the observation lengths min_length..max_length (one GRU pass)."""
        lo, hi = self.config.min_length, self.config.max_length
        ctx = self.contexts(observed[:, :hi])[:, lo - 1 : hi]  # (batch, lengths, context)
        lengths = ctx.shape[1]
        repeated = params.repeat_interleave(lengths, dim=0)
        return -self.flow.log_prob(repeated, ctx.reshape(-1, ctx.shape[-1])).mean()

    @torch.no_grad()
    def sample(self, observed: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
        """``n`` posterior draws of (a, b) for one observed sequence; the same seed gives the same draws."""
        self.eval()
        x = torch.as_tensor(np.asarray(observed, dtype=np.float32)).reshape(1, -1)
        ctx = self.context(x).expand(n, -1)
        generator = torch.Generator().manual_seed(seed)
        z = torch.randn(n, 2, generator=generator)
        return self.flow.inverse(z, ctx).double().numpy()


def fit_posterior(
    train_params: np.ndarray,
    train_observed: np.ndarray,
    valid_params: np.ndarray,
    valid_observed: np.ndarray,
    config: PosteriorConfig | None = None,
    seed: int = 0,
    progress: bool = False,
    start: WearPosterior | None = None,
) -> tuple[WearPosterior, dict]:
    """Train by NLL; keep the weights of the best validation epoch. ``start``: a trained posterior to continue
    from (its copy is trained, with its own architecture; ``config`` sets the training)."""
    config = config or PosteriorConfig()
    torch.manual_seed(seed)
    model = copy.deepcopy(start) if start is not None else WearPosterior(config)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.lr)
    tp = torch.as_tensor(train_params, dtype=torch.float32)
    to = torch.as_tensor(train_observed, dtype=torch.float32)
    vp = torch.as_tensor(valid_params, dtype=torch.float32)
    vo = torch.as_tensor(valid_observed, dtype=torch.float32)
    generator = torch.Generator().manual_seed(seed)
    best, best_state, best_epoch, waited, history = math.inf, copy.deepcopy(model.state_dict()), 0, 0, []
    if start is not None:  # the weights it starts from stay unless an epoch does better on validation
        model.eval()
        with torch.no_grad():
            best = float(model.training_nll(vp, vo))
    started = time.perf_counter()
    epochs = bar(range(1, config.epochs + 1), desc="flow + GRU", unit="epoch", enabled=progress)
    for epoch in epochs:
        model.train()
        order = torch.randperm(len(tp), generator=generator)
        total = 0.0
        for first in range(0, len(order), config.batch_size):
            idx = order[first : first + config.batch_size]
            loss = model.training_nll(tp[idx], to[idx])
            optimiser.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 10.0)
            optimiser.step()
            total += float(loss.detach()) * len(idx)
        model.eval()
        with torch.no_grad():
            valid = float(model.training_nll(vp, vo))
        history.append({"epoch": epoch, "train_nll": total / len(tp), "valid_nll": valid})
        epochs.set_postfix_str(f"valid NLL {valid:.3f}")
        if valid < best:
            best, best_state, best_epoch, waited = valid, copy.deepcopy(model.state_dict()), epoch, 0
        else:
            waited += 1
            if config.patience and waited >= config.patience:
                break
    model.load_state_dict(best_state)
    model.eval()
    return model, {
        "best_epoch": best_epoch,
        "best_valid_nll": best,
        "epochs": len(history),
        "seconds": time.perf_counter() - started,
        "history": history,
    }
