"""DeepSAD (Ruff et al., ICLR 2020) with the diversity regularizer of Frusque et al. ("2DS").

The encoder is a bias-free MLP (Frusque et al.'s three dense layers: 32 and 32 units with ReLU, then a
linear map to the 16-dimensional embedding): with biases the network could map every input onto the
centre ``c`` and the hypersphere would collapse. ``c`` is the mean embedding of the rows labelled
healthy after a first forward pass (of all rows when none is labelled), with components near zero
pushed to +-eps (a zero component is trivially matched by zero weights): a centre the healthy rows
actually sit at, so they can be pulled onto it. Loss (Eq. 1), for embeddings ``y_i = phi(x_i) - c``:

    mu/n * sum_unlabelled ||y_i||^2  +  eta/n * sum_labelled (||y_i||^2)^{l_i}  +  weight decay

with ``l_i = +1`` for rows known healthy (pulled in) and ``-1`` for rows known failed (pushed out
through the inverse distance); Frusque et al. keep the labelled terms at weight 1 (``eta``) and
down-weights the unlabelled one to 0.1 (``mu``), since the unlabelled middle of a life may already be
degraded. The diversity term (Eqs. 2-3), on the batch Gram matrix ``C = Y^T Y`` (no division by the
batch size: Frusque et al.'s scale, at which lambda = 0.001 balances it against the DeepSAD loss), is
``-ln det(C) + tr(C)``: smallest at ``C = I``, it keeps the embedding full rank so that its dimensions
carry different information for the fusion step. It is computed with ``slogdet`` on ``C + jitter I``.
Defaults are Frusque et al.'s §III-D: 1000 epochs of Adam at 5e-4, batches of 128, weight decay 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from shopfloor.defaults import with_overrides
from shopfloor.platform.budget import check
from shopfloor.progress import bar

HEALTHY, UNLABELLED, FAILED = 1, 0, -1


def diversity_loss(embeddings: torch.Tensor, jitter: float = 1e-4) -> torch.Tensor:
    """``-ln det(C) + tr(C)`` with the Gram matrix ``C = Y^T Y`` (Eq. 2), stable through slogdet and a jitter."""
    dim = embeddings.shape[1]
    gram = embeddings.T @ embeddings + jitter * torch.eye(dim, dtype=embeddings.dtype)
    sign, logdet = torch.linalg.slogdet(gram)
    return -logdet + torch.trace(gram)


def deepsad_loss(
    embeddings: torch.Tensor, labels: torch.Tensor, mu: float = 0.1, eta: float = 1.0, eps: float = 1e-6
) -> torch.Tensor:
    """Eq. 1 without the weight decay (that is the optimizer's), averaged over the batch as Ruff et al.
    do: unlabelled rows pulled to the centre with weight ``mu``; labelled rows pulled in (healthy) or
    pushed out by the inverse distance (failed) with weight ``eta``."""
    dist = (embeddings**2).sum(dim=1)
    unlabelled = labels == UNLABELLED
    labelled = ~unlabelled
    power = labels[labelled].to(embeddings.dtype)
    total = mu * dist[unlabelled].sum() + eta * ((dist[labelled] + eps) ** power).sum()
    return total / len(embeddings)


def _encoder(n_in: int, hidden: tuple[int, ...], n_out: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    width = n_in
    for units in hidden:
        layers += [nn.Linear(width, units, bias=False), nn.ReLU()]
        width = units
    layers.append(nn.Linear(width, n_out, bias=False))
    return nn.Sequential(*layers)


@dataclass
class DeepSADConfig:
    """Frusque et al.'s settings (§III-D, appendix A) as defaults."""

    hidden: tuple[int, ...] = (32, 32)
    embedding_dim: int = 16
    epochs: int = 1000
    batch_size: int = 128
    learning_rate: float = 5e-4
    weight_decay: float = 1.0
    mu: float = 0.1  # weight of the unlabelled term
    eta: float = 1.0  # weight of the labelled terms
    diversity: float = 0.0  # lambda; > 0 gives 2DS (Frusque et al.: 0.001)
    pretrain_epochs: int = 0  # autoencoder pretraining of the encoder
    center_eps: float = 0.1


class DeepSAD:
    """scikit-learn style: ``fit(X, labels)``, ``transform(X)`` (embedding minus centre), ``score(X)``
    (squared distance to the centre, DeepSAD's own anomaly score)."""

    def __init__(self, config: DeepSADConfig | None = None, seed: int = 0, progress: bool = False, **overrides):
        self.config = with_overrides(config, DeepSADConfig, overrides)
        self.seed = seed
        self.progress = progress
        self.history: list[float] = []

    def fit(self, x: np.ndarray, labels: np.ndarray | None = None) -> "DeepSAD":
        cfg = self.config
        torch.manual_seed(self.seed)
        data = torch.tensor(np.asarray(x, dtype=np.float32))
        lab = torch.tensor(np.zeros(len(data), int) if labels is None else np.asarray(labels, int))
        self.encoder = _encoder(data.shape[1], cfg.hidden, cfg.embedding_dim)
        if cfg.pretrain_epochs:
            self._pretrain(data)
        with torch.no_grad():
            healthy = lab == HEALTHY
            center = self.encoder(data[healthy] if healthy.any() else data).mean(dim=0)
        small = center.abs() < cfg.center_eps
        center[small] = torch.where(center[small] < 0, -cfg.center_eps, cfg.center_eps)
        self.center = center
        opt = torch.optim.Adam(self.encoder.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
        rng = torch.Generator().manual_seed(self.seed)
        batch = min(cfg.batch_size, len(data))
        self.history = []
        for _ in bar(range(cfg.epochs), desc="DeepSAD", unit="epoch", enabled=self.progress):
            order = torch.randperm(len(data), generator=rng)
            total = 0.0
            for start in range(0, len(data) - batch + 1, batch):
                idx = order[start : start + batch]
                emb = self.encoder(data[idx]) - self.center
                loss = deepsad_loss(emb, lab[idx], cfg.mu, cfg.eta)
                if cfg.diversity > 0:
                    loss = loss + cfg.diversity * diversity_loss(emb)
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += loss.item()
            self.history.append(total)
            check("DeepSAD")  # a run's time limit stops a fit that would overrun it (shopfloor.platform.budget)
        self.encoder.eval()
        return self

    def _pretrain(self, data: torch.Tensor) -> None:
        cfg = self.config
        decoder = _encoder(cfg.embedding_dim, tuple(reversed(cfg.hidden)), data.shape[1])
        params = list(self.encoder.parameters()) + list(decoder.parameters())
        opt = torch.optim.Adam(params, lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
        for _ in range(cfg.pretrain_epochs):
            loss = ((decoder(self.encoder(data)) - data) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()

    @torch.no_grad()
    def transform(self, x: np.ndarray) -> np.ndarray:
        """The 2DS/DeepSAD embedding ``phi(x) - c`` of each row."""
        data = torch.tensor(np.asarray(x, dtype=np.float32))
        return (self.encoder(data) - self.center).numpy().astype(np.float64)

    def score(self, x: np.ndarray) -> np.ndarray:
        """Squared distance to the centre: DeepSAD's anomaly score, the "DeepSAD" baseline HI."""
        return (self.transform(x) ** 2).sum(axis=1)
