"""One estimator for the whole detector: min-max scaler, beta-VAE(s) and the decision threshold.

``fit`` scales with the training windows (all of them, as the seed), trains each VAE on the training
windows that are not from failed cuts, stops early on the validation windows that are not failed either,
then sets the decision threshold on the validation windows' scores (F1- or F2-optimal: flag a window when
its score reaches the threshold). Scores:

* ``latent``: KL divergence of the window's posterior from the prior N(0, I) (the seed's latent-space
  score). An ensemble averages its members' KL, each standardized by its mean and spread on the
  training windows, so no member dominates by scale.
* ``input``: mean squared reconstruction error over time and signals (from the latent mean), and
  ``input_per_signal``, the same per signal.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from shopfloor.classify.selection import best_threshold
from shopfloor.milling.data import WindowScaler
from shopfloor.milling.vae import BetaVAE, VAEConfig, encode, fit_vae, kl_divergence

SCORES = ("latent", "input")
THRESHOLD_METRICS = ("f1", "f2")


@dataclass
class Member:
    """One trained VAE and the spread of its KL scores on the training windows (for ensembles)."""

    model: BetaVAE
    config: VAEConfig
    kl_mean: float
    kl_std: float
    info: dict


class MillingAnomalyDetector:
    """Scaler + VAE(s) + threshold, with scikit-learn's ``fit`` / ``predict`` and a ``scores`` method."""

    def __init__(self, configs: list[VAEConfig] | VAEConfig | None = None, score: str = "latent",
                 threshold_metric: str = "f1", seed: int = 0, progress: bool = False) -> None:
        if score not in SCORES:
            raise ValueError(f"score must be one of {SCORES}, got {score!r}")
        if threshold_metric not in THRESHOLD_METRICS:
            raise ValueError(f"threshold_metric must be one of {THRESHOLD_METRICS}, got {threshold_metric!r}")
        configs = configs if configs is not None else VAEConfig()
        self.configs = [configs] if isinstance(configs, VAEConfig) else list(configs)
        self.score, self.threshold_metric, self.seed, self.progress = score, threshold_metric, seed, progress

    # ------------------------------------------------------------ fitting
    def fit(self, X_train: np.ndarray, failed_train: np.ndarray, X_valid: np.ndarray | None = None,
            failed_valid: np.ndarray | None = None, learn: np.ndarray | None = None) -> MillingAnomalyDetector:
        """``X_*``: raw windows (n, window, signals); ``failed_*``: 1 for windows of failed cuts; ``learn``:
        the training windows the VAEs learn from (default: those not failed; the scaler sees them all)."""
        self.scaler_ = WindowScaler().fit(X_train)
        train = self.scaler_.transform(X_train[learn if learn is not None else failed_train == 0])
        valid = self.scaler_.transform(X_valid[failed_valid == 0]) if X_valid is not None else None
        self.window_, self.signals_ = X_train.shape[1], X_train.shape[2]
        self.members_ = []
        for k, config in enumerate(self.configs):
            model, info = fit_vae(train, valid, config, seed=self.seed + k, progress=self.progress,
                                  desc=f"beta-VAE {k + 1}/{len(self.configs)}" if len(self.configs) > 1 else "beta-VAE")
            self.members_.append(self._member(model, config, info, train))
        self.threshold_ = np.inf
        if X_valid is not None and failed_valid is not None and failed_valid.any():
            self.set_threshold(X_valid, failed_valid)
        return self

    @staticmethod
    def _member(model: BetaVAE, config: VAEConfig, info: dict, train_scaled: np.ndarray) -> Member:
        mu, lv, _ = encode(model, train_scaled)
        kl = kl_divergence(mu, lv)
        return Member(model, config, float(kl.mean()), float(kl.std() or 1.0), info)

    @classmethod
    def from_members(cls, members: list[Member], scaler: WindowScaler, score: str = "latent",
                     threshold_metric: str = "f1", seed: int = 0) -> MillingAnomalyDetector:
        """A detector from VAEs already trained (the search's best few, for an ensemble)."""
        out = cls([m.config for m in members], score=score, threshold_metric=threshold_metric, seed=seed)
        out.scaler_, out.members_, out.threshold_ = scaler, list(members), np.inf
        out.window_, out.signals_ = members[0].model.window, members[0].model.signals
        return out

    def set_threshold(self, X: np.ndarray, failed: np.ndarray) -> float:
        """The F1- or F2-optimal threshold of the chosen score on ``X`` (validation windows)."""
        self.threshold_, self.threshold_value_ = best_threshold(failed, self.scores(X)[self.score],
                                                                self.threshold_metric)
        return self.threshold_

    # ------------------------------------------------------------ scoring
    def scores(self, X: np.ndarray) -> dict[str, np.ndarray]:
        """``latent``, ``input`` (n,) and ``input_per_signal`` (n, signals) for raw windows ``X``."""
        scaled = self.scaler_.transform(np.asarray(X, dtype=np.float64))
        kls, errors = [], []
        with torch.inference_mode():
            for member in self.members_:
                mu, lv, recon = encode(member.model, scaled)
                kls.append(kl_divergence(mu, lv))
                errors.append(np.mean(np.square(scaled - recon), axis=1))
        if len(kls) == 1:
            latent = kls[0]
        else:
            latent = np.mean([(k - m.kl_mean) / m.kl_std for k, m in zip(kls, self.members_, strict=True)], axis=0)
        per_signal = np.mean(errors, axis=0)
        return {"latent": latent.astype(np.float64), "input": per_signal.mean(axis=1).astype(np.float64),
                "input_per_signal": per_signal.astype(np.float64)}

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        return self.scores(X)[self.score]

    def predict(self, X: np.ndarray) -> np.ndarray:
        """True where the chosen score reaches the threshold (a window of a failed tool)."""
        return self.decision_function(X) >= self.threshold_

    @property
    def n_parameters(self) -> int:
        return sum(sum(p.numel() for p in m.model.parameters()) for m in self.members_)
