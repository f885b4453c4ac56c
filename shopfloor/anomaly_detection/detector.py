"""The beta-VAE detector as one estimator: min-max scaler, beta-VAE(s) and the decision threshold.

``fit`` scales with all training windows (as von Hahn and Mechefske do), trains each VAE on the training
windows of the ``train_on`` tool classes (healthy only by default, as theirs), stops early on the validation
windows of the same classes, then sets the decision threshold on all validation windows' scores (F1- or
F2-optimal: flag a window when its score reaches the threshold). Scores:

* ``latent``: KL divergence of the window's posterior from the prior N(0, I) (their latent-space score). An
  ensemble averages its members' KL, each standardized by its mean and spread on the training windows, so no
  member dominates by scale.
* ``input``: mean squared reconstruction error over time and signals (from the latent mean), and
  ``input_per_signal``, the same per signal.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from shopfloor.anomaly_detection.base import DEFAULT_TRAIN_ON, SubcutDetector, training_mask
from shopfloor.anomaly_detection.data import FAILED, WindowScaler
from shopfloor.anomaly_detection.vae import BetaVAE, VAEConfig, encode, fit_vae, kl_divergence

SCORES = ("latent", "input")


@dataclass
class Member:
    """One trained VAE and the spread of its KL scores on the training windows (for ensembles)."""

    model: BetaVAE
    config: VAEConfig
    kl_mean: float
    kl_std: float
    info: dict


class MillingAnomalyDetector(SubcutDetector):
    """Scaler + VAE(s) + threshold, with scikit-learn's ``fit`` / ``predict`` and a ``scores`` method."""

    name = "beta_vae"

    def __init__(
        self,
        configs: list[VAEConfig] | VAEConfig | None = None,
        score: str = "latent",
        threshold_metric: str = "f1",
        seed: int = 0,
        train_on: str = DEFAULT_TRAIN_ON,
        progress: bool = False,
    ) -> None:
        super().__init__(threshold_metric)
        if score not in SCORES:
            raise ValueError(f"score must be one of {SCORES}, got {score!r}")
        configs = configs if configs is not None else VAEConfig()
        self.configs = [configs] if isinstance(configs, VAEConfig) else list(configs)
        self.score, self.seed, self.train_on, self.progress = score, seed, train_on, progress

    # ------------------------------------------------------------ fitting
    def fit(
        self,
        X_train: np.ndarray,
        class_train: np.ndarray,
        X_valid: np.ndarray | None = None,
        class_valid: np.ndarray | None = None,
        learn: np.ndarray | None = None,
    ) -> MillingAnomalyDetector:
        """``X_*``: raw windows (n, window, signals); ``class_*``: each window's tool class (0 healthy, 1 degraded,
        2 failed); ``learn``: the training windows the VAEs learn from (default: those of the ``train_on``
        classes; checked against them); the scaler sees every training window."""
        learn = training_mask(class_train, self.train_on, learn)
        self.scaler_ = WindowScaler().fit(X_train)
        train = self.scaler_.transform(X_train[learn])
        valid = None
        if X_valid is not None and class_valid is not None:
            valid = self.scaler_.transform(X_valid[training_mask(class_valid, self.train_on)])
        self.window_, self.signals_ = X_train.shape[1], X_train.shape[2]
        self.members_ = []
        for k, config in enumerate(self.configs):
            model, info = fit_vae(
                train,
                valid,
                config,
                seed=self.seed + k,
                progress=self.progress,
                desc=f"beta-VAE {k + 1}/{len(self.configs)}" if len(self.configs) > 1 else "beta-VAE",
            )
            self.members_.append(member(model, config, info, train))
        self.threshold_ = np.inf
        if X_valid is not None and class_valid is not None and (np.asarray(class_valid) == FAILED).any():
            self.set_threshold(X_valid, (np.asarray(class_valid) == FAILED).astype(int))
        return self

    @classmethod
    def from_members(
        cls,
        members: list[Member],
        scaler: WindowScaler,
        score: str = "latent",
        threshold_metric: str = "f1",
        seed: int = 0,
        train_on: str = DEFAULT_TRAIN_ON,
    ) -> MillingAnomalyDetector:
        """A detector from VAEs already trained (the search's best few, for an ensemble)."""
        out = cls(
            [m.config for m in members], score=score, threshold_metric=threshold_metric, seed=seed, train_on=train_on
        )
        out.scaler_, out.members_, out.threshold_ = scaler, list(members), np.inf
        out.window_, out.signals_ = members[0].model.window, members[0].model.signals
        return out

    # ------------------------------------------------------------ scoring
    def scores(self, X: np.ndarray) -> dict[str, np.ndarray]:
        """``latent``, ``input`` (n,) and ``input_per_signal`` (n, signals) for raw windows ``X``."""
        scaled = self.scaler_.transform(np.asarray(X, dtype=np.float64))
        kls, errors = [], []
        with torch.inference_mode():
            for m in self.members_:
                mu, lv, recon = encode(m.model, scaled)
                kls.append(kl_divergence(mu, lv))
                errors.append(np.mean(np.square(scaled - recon), axis=1))
        if len(kls) == 1:
            latent = kls[0]
        else:
            latent = np.mean([(k - m.kl_mean) / m.kl_std for k, m in zip(kls, self.members_, strict=True)], axis=0)
        per_signal = np.mean(errors, axis=0)
        return {
            "latent": latent.astype(np.float64),
            "input": per_signal.mean(axis=1).astype(np.float64),
            "input_per_signal": per_signal.astype(np.float64),
        }

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        return self.scores(X)[self.score]

    def details(self) -> dict:
        return super().details() | {
            "score": self.score,
            "train_on": self.train_on,
            "members": [m.config.to_dict() for m in self.members_],
        }

    @property
    def n_parameters(self) -> int:
        return sum(sum(p.numel() for p in m.model.parameters()) for m in self.members_)


def member(model: BetaVAE, config: VAEConfig, info: dict, train_scaled: np.ndarray) -> Member:
    """A trained VAE with the mean and spread of its KL on the (scaled) windows it learned from."""
    mu, lv, _ = encode(model, train_scaled)
    kl = kl_divergence(mu.astype(np.float64), lv.astype(np.float64))
    return Member(model, config, float(kl.mean()), float(kl.std() or 1.0), info)
