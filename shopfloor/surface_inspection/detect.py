"""Detect mode: defects nobody labelled. Detectors learn the good images only and score how unlike them an image
is: the latent flow's negative log-likelihood of the image's autoencoder code (the likelihood-based detection
Russell and Wang propose as future work; Rudolph et al.'s DifferNet is the published relative), the
autoencoder's reconstruction error, and the Mahalanobis distance of texture statistics from the good images'
(the simple rival). The threshold of each is the ``quantile`` of its scores on the validation good images
(the share of good images it may flag), and the detector with the best validation ROC-AUC is chosen.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from sklearn.covariance import LedoitWolf
from sklearn.metrics import roc_auc_score

from shopfloor.surface_inspection import synthesis as syn
from shopfloor.surface_inspection.features import texture_features


class TextureDistance:
    """Mahalanobis distance of an image's texture statistics from the good images' (shrunk covariance)."""

    def fit(self, good: np.ndarray) -> TextureDistance:
        x = texture_features(good)
        self.mean_, self.scale_ = x.mean(0), x.std(0) + 1e-9
        self.cov_ = LedoitWolf().fit((x - self.mean_) / self.scale_)
        return self

    def score(self, images: np.ndarray) -> np.ndarray:
        return self.cov_.mahalanobis((texture_features(images) - self.mean_) / self.scale_)


class LatentFlow:
    """The autoencoder and its latent flow fitted on good images: the flow's NLL of an image's code."""

    def __init__(self, ae: syn.AutoencoderConfig, flow: syn.FlowConfig, seed: int = 0) -> None:
        self.ae_config, self.flow_config, self.seed = ae, flow, seed

    def fit(self, good: np.ndarray) -> LatentFlow:
        self.autoencoder_, self.ae_info_ = syn.fit_autoencoder(good, self.ae_config, self.seed)
        self.flow_, self.flow_info_ = syn.fit_flow(self.autoencoder_, good, self.flow_config, self.seed)
        return self

    def score(self, images: np.ndarray) -> np.ndarray:
        return syn.flow_nll(self.flow_, syn.encode(self.autoencoder_, images))


class Reconstruction:
    """The autoencoder's reconstruction error of an image (of a ``LatentFlow`` fitted on good images)."""

    def __init__(self, latent: LatentFlow) -> None:
        self.autoencoder = latent.autoencoder_

    def score(self, images: np.ndarray) -> np.ndarray:
        return syn.reconstruction_error(self.autoencoder, images)


@dataclass
class Detector:
    name: str
    scorer: LatentFlow | Reconstruction | TextureDistance  # score(images): higher is more anomalous
    threshold: float
    valid_auc: float
    seconds: float

    def score(self, images: np.ndarray) -> np.ndarray:
        return self.scorer.score(images)


def compare(
    train_good: np.ndarray,
    valid: np.ndarray,
    valid_defect: np.ndarray,
    ae: syn.AutoencoderConfig,
    flow: syn.FlowConfig,
    quantile: float = 0.95,
    seed: int = 0,
) -> tuple[list[Detector], LatentFlow]:
    """The three detectors fitted on ``train_good``, thresholded and scored on ``valid``."""
    started = time.perf_counter()
    latent = LatentFlow(ae, flow, seed).fit(train_good)
    fitted = time.perf_counter() - started
    started = time.perf_counter()
    texture = TextureDistance().fit(train_good)
    texture_seconds = time.perf_counter() - started
    rows = []
    scorers: tuple[tuple[str, LatentFlow | Reconstruction | TextureDistance, float], ...] = (
        ("flow-nll", latent, fitted),
        ("ae-reconstruction", Reconstruction(latent), latent.ae_info_["ae_seconds"]),
        ("texture-distance", texture, texture_seconds),
    )
    for name, scorer, seconds in scorers:
        s = scorer.score(valid)
        threshold = float(np.quantile(s[valid_defect == 0], quantile))
        rows.append(Detector(name, scorer, threshold, float(roc_auc_score(valid_defect, s)), seconds))
    return rows, latent


def chosen(rows: list[Detector]) -> Detector:
    best = max(r.valid_auc for r in rows)
    return next(r for r in rows if r.valid_auc >= best - 1e-12)
