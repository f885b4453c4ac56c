"""Russell and Wang's image synthesis: an autoencoder trained with BCE, then, with it frozen, a RealNVP on its
latent codes; new images are flow samples decoded (their Eq. 14), and the ablation decodes standard-normal codes
without the flow (their Eq. 19). Fitted on defect images it makes defect images; fitted on good images, the
flow's negative log-likelihood of an image's code scores how unlike the good ones it is.

As in the authors' code, every training image is randomly flipped left-right and uniformly dequantized
(``(255 x + u) / 256``, u ~ U(0, 1), which keeps values in [0, 1] for BCE), and the flow's conditioners are one
hidden layer of 512 ReLU units in 8 coupling blocks with alternating checkerboard masks, its scales bounded by a
trained tanh_alpha starting at alpha = 1, trained with Adam at 1e-3 halved at even intervals and gradients
clipped at norm 0.5. They train the autoencoder for 300 epochs and the flow for 4,700 on a GPU; here both run
for a number of optimizer steps (``AutoencoderConfig.steps``, ``FlowConfig.steps``) that fits a CPU budget.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F

from shopfloor.surface_inspection.networks import Autoencoder
from shopfloor.synth.flow import RealNVP


@dataclass(frozen=True)
class AutoencoderConfig:
    latent: int = 16  # Russell and Wang: 16
    # Theirs: 64 filters, batches of 128, learning rate 1e-4 for 300 epochs of 50 copies of each image, on a GPU.
    # Measured on two CPU cores, one step of a batch of 64 takes 0.31 s with 16 filters and 0.079 s with 8 (the
    # linear layers dominate); 8 filters, batches of 32 and 1,500 steps at 1e-3 train in about a minute.
    filters: int = 8
    lr: float = 1e-3
    steps: int = 1500
    batch_size: int = 32


@dataclass(frozen=True)
class FlowConfig:
    blocks: int = 8
    hidden: int = 512
    lr: float = 1e-3
    steps: int = 2000
    halvings: int = 4  # the learning rate is halved this many times, at even intervals (theirs: every 500 epochs)
    batch_size: int = 128
    copies: int = 8  # augmented copies of each image whose codes the flow learns


def augmented(images: np.ndarray, rng: np.random.Generator) -> torch.Tensor:
    """A random left-right flip and uniform dequantization of each [n, 64, 64] image, as [n, 1, 64, 64]."""
    flip = rng.random(len(images)) < 0.5
    batch = np.where(flip[:, None, None], images[:, :, ::-1], images)
    noisy = (np.rint(batch * 255) + rng.random(batch.shape)) / 256
    return torch.as_tensor(noisy[:, None], dtype=torch.float32)


def as_batch(images: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(np.ascontiguousarray(images)[:, None], dtype=torch.float32)


def fit_autoencoder(images: np.ndarray, config: AutoencoderConfig, seed: int = 0) -> tuple[Autoencoder, dict]:
    """The autoencoder trained by BCE on ``images`` ([n, 64, 64] in [0, 1])."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = Autoencoder(config.latent, config.filters)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.lr)
    started, losses = time.perf_counter(), []
    model.train()
    for _ in range(config.steps):
        batch = augmented(images[rng.integers(0, len(images), min(config.batch_size, len(images)))], rng)
        loss = F.binary_cross_entropy(model(batch), batch)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(float(loss.detach()))
    model.eval()
    return model, {"ae_seconds": time.perf_counter() - started, "ae_bce": float(np.mean(losses[-50:]))}


@torch.no_grad()
def encode(model: Autoencoder, images: np.ndarray, batch: int = 256) -> np.ndarray:
    return np.concatenate([model.encode(as_batch(images[i : i + batch])).numpy() for i in range(0, len(images), batch)])


@torch.no_grad()
def decode(model: Autoencoder, codes: np.ndarray, batch: int = 256) -> np.ndarray:
    out = [
        model.decode(torch.as_tensor(codes[i : i + batch], dtype=torch.float32)) for i in range(0, len(codes), batch)
    ]
    return torch.cat(out)[:, 0].numpy()


@torch.no_grad()
def reconstruction_error(model: Autoencoder, images: np.ndarray) -> np.ndarray:
    """Mean squared error of each image's reconstruction."""
    return ((decode(model, encode(model, images)) - images) ** 2).mean(axis=(1, 2))


def fit_flow(
    model: Autoencoder, images: np.ndarray, config: FlowConfig, seed: int = 0, start: RealNVP | None = None
) -> tuple[RealNVP, dict]:
    """A RealNVP on the frozen autoencoder's codes of augmented copies of ``images`` (``start``: a trained flow
    of the same shape whose copy continues training)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed + 1)
    with torch.no_grad():
        codes = torch.cat([model.encode(augmented(images, rng)) for _ in range(config.copies)])
    if start is not None:
        import copy

        flow = copy.deepcopy(start).train()
    else:
        flow = RealNVP(codes.shape[1], config.blocks, config.hidden, 1, alpha=1.0, slope=0.0)
    optimiser = torch.optim.Adam(flow.parameters(), lr=config.lr)
    every = max(1, config.steps // (config.halvings + 1))
    schedule = torch.optim.lr_scheduler.StepLR(optimiser, every, 0.5)
    started, losses = time.perf_counter(), []
    for _ in range(config.steps):
        batch = codes[torch.randint(0, len(codes), (min(config.batch_size, len(codes)),))]
        loss = -flow.log_prob(batch).mean() / codes.shape[1]
        optimiser.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(flow.parameters(), 0.5)
        optimiser.step()
        schedule.step()
        losses.append(float(loss.detach()))
    flow.eval()
    return flow, {"flow_seconds": time.perf_counter() - started, "flow_nll": float(np.mean(losses[-50:]))}


@torch.no_grad()
def flow_nll(flow: RealNVP, codes: np.ndarray) -> np.ndarray:
    """The flow's negative log-likelihood of each code (higher: less like what it learned)."""
    return -flow.log_prob(torch.as_tensor(codes, dtype=torch.float32)).numpy()


@torch.no_grad()
def sample(model: Autoencoder, n: int, flow: RealNVP | None, seed: int = 0) -> np.ndarray:
    """``n`` images decoded from standard-normal draws pushed through the inverse flow (Eq. 14), or decoded as
    they are when ``flow`` is None (the Gaussian ablation, Eq. 19)."""
    generator = torch.Generator().manual_seed(seed)
    noise = torch.randn(n, model.latent, generator=generator)
    codes = flow.inverse(noise) if flow is not None else noise
    return decode(model, codes.numpy())


def settings(ae: AutoencoderConfig, flow: FlowConfig) -> dict:
    return {**{f"ae_{k}": v for k, v in asdict(ae).items()}, **{f"flow_{k}": v for k, v in asdict(flow).items()}}
