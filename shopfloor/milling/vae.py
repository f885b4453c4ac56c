"""The beta-VAE of the seed: a temporal convolutional network (TCN) encoder and decoder over sub-cuts.

Encoder, per layer: TCN (residual blocks of two dilated causal convolutions, one block per dilation,
skip connections summed, SELU) -> batch norm -> max-pool by 2; then two dense maps to the latent mean
and log-variance. Decoder, mirrored: dense (SELU) -> per layer: upsample by 2 -> batch norm -> TCN; a
last convolution to the signals with a sigmoid. Loss: binary cross-entropy of the reconstruction
(targets are min-max scaled signals) plus beta times the KL divergence from N(0, I), the KL divided by
``window * signals`` as the seed's Keras model does. ``arch="cnn"`` swaps each TCN for plain dilated
convolutions (same padding, no residuals), the seed's hunch for a simpler model.

Training: Adam, batch 256, early stopping on the validation loss (min delta 2e-4, best weights
restored), the seed's settings.
"""

from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn

from shopfloor.progress import bar

ARCHS = ("tcn", "cnn")


@dataclass
class VAEConfig:
    """Hyperparameters; the defaults are the seed's best model (beta 3.92, 21 codings, 16 filters, kernel
    3, dilations 1-2-4-8, 2 layers)."""

    latent: int = 21
    beta: float = 3.92
    filters: int = 16
    kernel: int = 3
    dilations: tuple[int, ...] = (1, 2, 4, 8)
    layers: int = 2
    lr: float = 1e-3
    arch: str = "tcn"
    batch_size: int = 256
    epochs: int = 200
    patience: int = 8
    min_delta: float = 2e-4
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.dilations = tuple(int(d) for d in self.dilations)
        if self.arch not in ARCHS:
            raise ValueError(f"arch must be one of {ARCHS}, got {self.arch!r}")

    def to_dict(self) -> dict:
        out = asdict(self)
        out["dilations"] = list(self.dilations)
        out.pop("extra")
        return out


class _CausalConv(nn.Conv1d):
    """A 1-D convolution that sees only the present and the past (left padding)."""

    def __init__(self, cin: int, cout: int, kernel: int, dilation: int) -> None:
        super().__init__(cin, cout, kernel, dilation=dilation)
        self.left = (kernel - 1) * dilation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(nn.functional.pad(x, (self.left, 0)))


class _ResidualBlock(nn.Module):
    def __init__(self, cin: int, cout: int, kernel: int, dilation: int) -> None:
        super().__init__()
        self.conv1 = _CausalConv(cin, cout, kernel, dilation)
        self.conv2 = _CausalConv(cout, cout, kernel, dilation)
        self.match = nn.Conv1d(cin, cout, 1) if cin != cout else nn.Identity()
        self.act = nn.SELU()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.act(self.conv2(self.act(self.conv1(x))))
        return self.act(h + self.match(x)), h


class TCN(nn.Module):
    """One stack of residual blocks, one per dilation; the output is the sum of the blocks' skip outputs."""

    def __init__(self, cin: int, filters: int, kernel: int, dilations: tuple[int, ...]) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(_ResidualBlock(cin if i == 0 else filters, filters, kernel, d)
                                    for i, d in enumerate(dilations))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = 0
        for block in self.blocks:
            x, skip = block(x)
            skips = skips + skip
        return skips


class DilatedCNN(nn.Module):
    """Plain dilated convolutions (same padding, SELU), one per dilation."""

    def __init__(self, cin: int, filters: int, kernel: int, dilations: tuple[int, ...]) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for i, d in enumerate(dilations):
            layers += [nn.Conv1d(cin if i == 0 else filters, filters, kernel, dilation=d, padding="same"), nn.SELU()]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def _stack(config: VAEConfig, cin: int) -> nn.Module:
    kind = TCN if config.arch == "tcn" else DilatedCNN
    return kind(cin, config.filters, config.kernel, config.dilations)


class BetaVAE(nn.Module):
    """Windows (batch, window, signals) in; reconstruction, latent mean and log-variance out."""

    def __init__(self, window: int, signals: int, config: VAEConfig) -> None:
        super().__init__()
        if window % (2 ** config.layers):
            raise ValueError(f"window {window} must be divisible by 2^layers = {2 ** config.layers}")
        self.window, self.signals, self.config = window, signals, config
        f, reduced = config.filters, window // (2 ** config.layers)
        enc: list[nn.Module] = []
        for i in range(config.layers):
            enc += [_stack(config, signals if i == 0 else f), nn.BatchNorm1d(f), nn.MaxPool1d(2)]
        self.encoder = nn.Sequential(*enc, nn.Flatten())
        self.mean = nn.Linear(f * reduced, config.latent)
        self.log_var = nn.Linear(f * reduced, config.latent)
        self.expand = nn.Sequential(nn.Linear(config.latent, f * reduced), nn.SELU(), nn.Unflatten(1, (f, reduced)))
        dec: list[nn.Module] = []
        for _ in range(config.layers):
            dec += [nn.Upsample(scale_factor=2), nn.BatchNorm1d(f), _stack(config, f)]
        self.decoder = nn.Sequential(*dec, nn.Conv1d(f, signals, config.kernel, padding="same"), nn.Sigmoid())

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.encoder(x.transpose(1, 2))
        return self.mean(h), self.log_var(h)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.expand(z)).transpose(1, 2)

    def forward(self, x: torch.Tensor, sample: bool = True) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, log_var = self.encode(x)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * log_var) if sample else mu
        return self.decode(z), mu, log_var


def kl_divergence(mu: np.ndarray | torch.Tensor, log_var: np.ndarray | torch.Tensor):
    """KL(N(mu, exp(log_var)) || N(0, I)) per row: 0.5 * sum(exp(log_var) + mu^2 - 1 - log_var); 0 for the
    prior's own mean and variance."""
    if isinstance(mu, torch.Tensor):
        return 0.5 * torch.sum(torch.exp(log_var) + mu ** 2 - 1.0 - log_var, dim=-1)
    return 0.5 * np.sum(np.exp(log_var) + np.square(mu) - 1.0 - log_var, axis=-1)


def vae_loss(model: BetaVAE, x: torch.Tensor) -> torch.Tensor:
    recon, mu, log_var = model(x)
    p = recon.clamp(1e-7, 1 - 1e-7)
    # written out, not F.binary_cross_entropy: targets of held-out windows may leave [0, 1] (no clipping)
    bce = -(x * torch.log(p) + (1 - x) * torch.log(1 - p)).mean()
    return bce + model.config.beta * kl_divergence(mu, log_var).mean() / (model.window * model.signals)


def fit_vae(X_train: np.ndarray, X_valid: np.ndarray | None, config: VAEConfig, seed: int = 0,
            progress: bool = False, desc: str = "beta-VAE", report=None) -> tuple[BetaVAE, dict]:
    """Train on scaled windows; early stopping on ``X_valid``'s loss (on the training loss without it).

    ``report(epoch, valid_loss)`` is called after each epoch (Optuna's pruner); it may raise to stop.
    """
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = BetaVAE(X_train.shape[1], X_train.shape[2], config)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.lr)
    train = torch.from_numpy(np.ascontiguousarray(X_train, dtype=np.float32))
    valid = torch.from_numpy(np.ascontiguousarray(X_valid, dtype=np.float32)) if X_valid is not None else None
    best, best_state, waited, history = math.inf, copy.deepcopy(model.state_dict()), 0, []
    progress_bar = bar(total=config.epochs, desc=desc, unit="epoch", enabled=progress)
    epoch = 0
    for epoch in range(1, config.epochs + 1):
        model.train()
        order = rng.permutation(len(train))
        total = 0.0
        for start in range(0, len(order), config.batch_size):
            batch = train[order[start:start + config.batch_size]]
            if len(batch) < 2:  # batch norm needs two windows
                continue
            loss = vae_loss(model, batch)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += float(loss.detach()) * len(batch)
        train_loss = total / len(train)
        monitored = evaluate_loss(model, valid) if valid is not None else train_loss
        history.append({"epoch": epoch, "train_loss": train_loss, "valid_loss": monitored})
        progress_bar.update()
        progress_bar.set_postfix_str(f"valid loss {monitored:.4f}")
        if report is not None:
            report(epoch, monitored)
        if monitored < best - config.min_delta:
            best, best_state, waited = monitored, copy.deepcopy(model.state_dict()), 0
        else:
            waited += 1
            if waited >= config.patience:
                break
    progress_bar.close()
    model.load_state_dict(best_state)
    model.eval()
    return model, {"epochs": epoch, "best_valid_loss": best, "history": history}


@torch.no_grad()
def evaluate_loss(model: BetaVAE, X: torch.Tensor, batch: int = 1024) -> float:
    model.eval()
    generator_state = torch.get_rng_state()
    torch.manual_seed(0)  # the same noise for every epoch's check: early stopping compares like with like
    total = sum(float(vae_loss(model, X[i:i + batch])) * len(X[i:i + batch]) for i in range(0, len(X), batch))
    torch.set_rng_state(generator_state)
    return total / len(X)


@torch.no_grad()
def encode(model: BetaVAE, X: np.ndarray, batch: int = 2048) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Latent means, log-variances and the reconstruction from the latent means (deterministic, so a
    served score is the same on every call), for scaled windows ``X``."""
    model.eval()
    mus, lvs, recons = [], [], []
    for i in range(0, len(X), batch):
        x = torch.from_numpy(np.ascontiguousarray(X[i:i + batch], dtype=np.float32))
        mu, log_var = model.encode(x)
        mus.append(mu.numpy())
        lvs.append(log_var.numpy())
        recons.append(model.decode(mu).numpy())
    return np.concatenate(mus), np.concatenate(lvs), np.concatenate(recons)


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
