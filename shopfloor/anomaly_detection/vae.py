"""The beta-VAE of von Hahn and Mechefske for milling sub-cuts: a temporal convolutional network (TCN) encoder
and decoder, re-expressed in torch from their published Keras model.

Encoder, per layer: TCN -> batch norm -> max-pool by 2; then two dense maps to the latent mean and log-variance.
Decoder, mirrored: dense (SELU) -> per layer: upsample by 2 -> batch norm -> TCN; a last convolution to the
signals with a SELU (their best model) or a sigmoid. The TCN is Remy's keras-tcn as their model configures it: a
1x1 convolution of the input to ``filters`` channels, then one residual block per dilation (two causal dilated
convolutions, each followed by ReLU; a 1x1 convolution on the residual path of every block but the last; SELU
after the residual sum), the blocks' skip outputs summed. Convolutions start He-normal, dense layers
Glorot-uniform; batch norm uses Keras' momentum 0.99 and epsilon 1e-3. Loss: binary cross-entropy of the
reconstruction with the prediction clipped to [1e-7, 1 - 1e-7] (Keras'; a SELU output may leave [0, 1]) plus
beta times the KL divergence from N(0, I), the KL divided by ``window * signals`` as their Keras model does.
``arch="cnn"`` swaps each TCN for plain dilated convolutions (same padding, no residuals), the authors' hunch
for a simpler model.

Training: Adam (1e-3), batch 1024, early stopping on the validation loss (min delta 2e-4, patience 30-49 in
their search, best weights restored).
"""

from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass, field
from typing import cast

import numpy as np
import torch
from torch import nn

from shopfloor.progress import bar

ARCHS = ("tcn", "cnn")
OUTPUTS = ("selu", "sigmoid")
#: Keras' clip of predictions inside binary cross-entropy.
CLIP = 1e-7
#: Keras' BatchNormalization defaults in torch terms (torch's momentum is 1 - Keras').
BN_MOMENTUM, BN_EPS = 0.01, 1e-3


@dataclass
class VAEConfig:
    """Hyperparameters; the defaults are the published best model (beta 3.92, 21 codings, 16 filters, kernel 3,
    dilations 1-2-4-8, 2 layers, SELU output) with their training schedule (batch 1024, Adam 1e-3)."""

    latent: int = 21
    beta: float = 3.92
    filters: int = 16
    kernel: int = 3
    dilations: tuple[int, ...] = (1, 2, 4, 8)
    layers: int = 2
    lr: float = 1e-3
    arch: str = "tcn"
    output: str = "selu"
    batch_size: int = 1024
    epochs: int = 200
    patience: int = 40
    min_delta: float = 2e-4
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.dilations = tuple(int(d) for d in self.dilations)
        if self.arch not in ARCHS:
            raise ValueError(f"arch must be one of {ARCHS}, got {self.arch!r}")
        if self.output not in OUTPUTS:
            raise ValueError(f"output must be one of {OUTPUTS}, got {self.output!r}")

    def to_dict(self) -> dict:
        out = asdict(self)
        out["dilations"] = list(self.dilations)
        out.pop("extra")
        return out


def _he_normal(conv: nn.Conv1d) -> nn.Conv1d:
    """Keras' he_normal: a normal truncated at two standard deviations, scaled so its spread is sqrt(2 / fan_in)."""
    fan_in = conv.in_channels * conv.kernel_size[0]
    std = math.sqrt(2.0 / fan_in) / 0.87962566103423978
    nn.init.trunc_normal_(conv.weight, std=std, a=-2 * std, b=2 * std)
    if conv.bias is not None:
        nn.init.zeros_(conv.bias)
    return conv


def _glorot(layer: nn.Linear | nn.Conv1d) -> nn.Linear | nn.Conv1d:
    nn.init.xavier_uniform_(layer.weight)
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)
    return layer


class _CausalConv(nn.Conv1d):
    """A 1-D convolution that sees only the present and the past (left padding)."""

    def __init__(self, cin: int, cout: int, kernel: int, dilation: int) -> None:
        super().__init__(cin, cout, kernel, dilation=dilation)
        self.left = (kernel - 1) * dilation
        _he_normal(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(nn.functional.pad(x, (self.left, 0)))


class ResidualBlock(nn.Module):
    """Two causal dilated convolutions with ReLU; the residual path is a 1x1 convolution (identity in the last
    block); SELU after the sum. Returns the block's output and its skip output (the convolutions' result)."""

    def __init__(self, filters: int, kernel: int, dilation: int, last: bool) -> None:
        super().__init__()
        self.convs = nn.Sequential(
            _CausalConv(filters, filters, kernel, dilation),
            nn.ReLU(),
            _CausalConv(filters, filters, kernel, dilation),
            nn.ReLU(),
        )
        self.residual = nn.Identity() if last else _he_normal(nn.Conv1d(filters, filters, 1))
        self.act = nn.SELU()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.convs(x)
        return self.act(self.residual(x) + h), h


class TCN(nn.Module):
    """A 1x1 convolution to ``filters`` channels, then one residual block per dilation; the output is the sum of
    the blocks' skip outputs (the whole sequence, causal)."""

    def __init__(self, cin: int, filters: int, kernel: int, dilations: tuple[int, ...]) -> None:
        super().__init__()
        self.inlet = _he_normal(nn.Conv1d(cin, filters, 1))
        self.blocks = nn.ModuleList(
            ResidualBlock(filters, kernel, d, last=i == len(dilations) - 1) for i, d in enumerate(dilations)
        )

    @property
    def receptive_field(self) -> int:
        """Samples of the past (the present included) that one output sees."""
        convs = [cast(nn.Conv1d, cast(ResidualBlock, b).convs[0]) for b in self.blocks]
        return 1 + sum(2 * (c.kernel_size[0] - 1) * c.dilation[0] for c in convs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.inlet(x)
        skips = x.new_zeros(())
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
            layers += [
                _he_normal(nn.Conv1d(cin if i == 0 else filters, filters, kernel, dilation=d, padding="same")),
                nn.SELU(),
            ]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def _stack(config: VAEConfig, cin: int) -> nn.Module:
    kind = TCN if config.arch == "tcn" else DilatedCNN
    return kind(cin, config.filters, config.kernel, config.dilations)


def _norm(channels: int) -> nn.BatchNorm1d:
    return nn.BatchNorm1d(channels, momentum=BN_MOMENTUM, eps=BN_EPS)


class BetaVAE(nn.Module):
    """Windows (batch, window, signals) in; reconstruction, latent mean and log-variance out."""

    def __init__(self, window: int, signals: int, config: VAEConfig) -> None:
        super().__init__()
        if window % (2**config.layers):
            raise ValueError(f"window {window} must be divisible by 2^layers = {2**config.layers}")
        self.window, self.signals, self.config = window, signals, config
        f, reduced = config.filters, window // (2**config.layers)
        enc: list[nn.Module] = []
        for i in range(config.layers):
            enc += [_stack(config, signals if i == 0 else f), _norm(f), nn.MaxPool1d(2)]
        self.encoder = nn.Sequential(*enc, nn.Flatten())
        self.mean = _glorot(nn.Linear(f * reduced, config.latent))
        self.log_var = _glorot(nn.Linear(f * reduced, config.latent))
        self.expand = nn.Sequential(
            _glorot(nn.Linear(config.latent, f * reduced)), nn.SELU(), nn.Unflatten(1, (f, reduced))
        )
        dec: list[nn.Module] = []
        for _ in range(config.layers):
            dec += [nn.Upsample(scale_factor=2), _norm(f), _stack(config, f)]
        out = _glorot(nn.Conv1d(f, signals, config.kernel, padding="same"))
        self.decoder = nn.Sequential(*dec, out, nn.SELU() if config.output == "selu" else nn.Sigmoid())

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
        log_var = cast(torch.Tensor, log_var)
        return 0.5 * torch.sum(torch.exp(log_var) + mu**2 - 1.0 - log_var, dim=-1)
    return 0.5 * np.sum(np.exp(log_var) + np.square(mu) - 1.0 - log_var, axis=-1)


def vae_loss(model: BetaVAE, x: torch.Tensor) -> torch.Tensor:
    recon, mu, log_var = model(x)
    p = recon.clamp(CLIP, 1 - CLIP)  # no gradient where the output leaves the clip, as in Keras
    # written out, not F.binary_cross_entropy: targets of held-out windows may leave [0, 1] (no clipping)
    bce = -(x * torch.log(p) + (1 - x) * torch.log(1 - p)).mean()
    return bce + model.config.beta * kl_divergence(mu, log_var).mean() / (model.window * model.signals)


def fit_vae(
    X_train: np.ndarray,
    X_valid: np.ndarray | None,
    config: VAEConfig,
    seed: int = 0,
    progress: bool = False,
    desc: str = "beta-VAE",
    report=None,
    start: BetaVAE | None = None,
) -> tuple[BetaVAE, dict]:
    """Train on scaled windows; early stopping on ``X_valid``'s loss (on the training loss without it).

    ``report(epoch, valid_loss)`` is called after each epoch (Optuna's pruner); it may raise to stop.
    ``start``: a trained VAE of the same shape to continue from (its copy is trained; a warm start).
    """
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = copy.deepcopy(start) if start is not None else BetaVAE(X_train.shape[1], X_train.shape[2], config)
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
        for first in range(0, len(order), config.batch_size):
            batch = train[order[first : first + config.batch_size]]
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
    total = sum(float(vae_loss(model, X[i : i + batch])) * len(X[i : i + batch]) for i in range(0, len(X), batch))
    torch.set_rng_state(generator_state)
    return total / len(X)


@torch.no_grad()
def encode(model: BetaVAE, X: np.ndarray, batch: int = 2048) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Latent means, log-variances and the reconstruction from the latent means (deterministic, so a
    served score is the same on every call), for scaled windows ``X``."""
    model.eval()
    mus, lvs, recons = [], [], []
    for i in range(0, len(X), batch):
        x = torch.from_numpy(np.ascontiguousarray(X[i : i + batch], dtype=np.float32))
        mu, log_var = model.encode(x)
        mus.append(mu.numpy())
        lvs.append(log_var.numpy())
        recons.append(model.decode(mu).numpy())
    return np.concatenate(mus), np.concatenate(lvs), np.concatenate(recons)


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
