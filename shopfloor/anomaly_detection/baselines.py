"""The simple sub-cut detectors a practitioner tries before a neural network, each fitted on the same healthy
training windows as the beta-VAE and scored the same way.

* ``RMSDetector``: the root mean square of one raw signal over the sub-cut; the signal and the direction (a
  worn tool may raise or lower it) are chosen by average precision on the validation windows.
* ``MahalanobisDetector``: the Mahalanobis distance (Ledoit-Wolf covariance) of per-signal mean, standard
  deviation and RMS, standardized on the training windows.
* ``IsolationForestDetector``: scikit-learn's isolation forest on the same statistics.
"""

from __future__ import annotations

import numpy as np
from sklearn.covariance import LedoitWolf
from sklearn.ensemble import IsolationForest
from sklearn.metrics import average_precision_score
from sklearn.preprocessing import StandardScaler

from shopfloor.anomaly_detection.base import SubcutDetector


def rms(X: np.ndarray) -> np.ndarray:
    """(n, signals) root mean square of each signal over each window."""
    X = np.asarray(X, dtype=np.float64)
    return np.sqrt(np.mean(np.square(X), axis=1))


def statistics(X: np.ndarray) -> np.ndarray:
    """(n, 3 * signals): per-signal mean, standard deviation and RMS of each window."""
    X = np.asarray(X, dtype=np.float64)
    return np.concatenate([X.mean(axis=1), X.std(axis=1), rms(X)], axis=1)


class _Fitted(SubcutDetector):
    def _shape(self, X: np.ndarray) -> None:
        self.window_, self.signals_ = int(X.shape[1]), int(X.shape[2])


class RMSDetector(_Fitted):
    """The RMS of the one signal (and direction) with the best validation average precision."""

    name = "rms"

    def fit(
        self, X_learn: np.ndarray, X_valid: np.ndarray, failed_valid: np.ndarray, signal_names: tuple[str, ...] = ()
    ) -> RMSDetector:
        self._shape(X_learn)
        values = rms(X_valid)
        options = [(c, sign) for c in range(values.shape[1]) for sign in (1.0, -1.0)]
        aps = [average_precision_score(failed_valid, sign * values[:, c]) for c, sign in options]
        self.signal_, self.sign_ = options[int(np.argmax(aps))]
        names = tuple(signal_names) or tuple(f"signal {i}" for i in range(values.shape[1]))
        self.signal_name_ = names[self.signal_]
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        return self.sign_ * np.sqrt(np.mean(np.square(X[:, :, self.signal_]), axis=1))

    def details(self) -> dict:
        return super().details() | {"signal": self.signal_name_, "direction": "high" if self.sign_ > 0 else "low"}


class MahalanobisDetector(_Fitted):
    """Distance of a window's signal statistics from the healthy windows' (shrunk) covariance."""

    name = "mahalanobis"

    def fit(self, X_learn: np.ndarray, *_: object, **__: object) -> MahalanobisDetector:
        self._shape(X_learn)
        self.scaler_ = StandardScaler().fit(statistics(X_learn))
        self.covariance_ = LedoitWolf().fit(self.scaler_.transform(statistics(X_learn)))
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        return self.covariance_.mahalanobis(self.scaler_.transform(statistics(X)))


class IsolationForestDetector(_Fitted):
    """An isolation forest of the healthy windows' signal statistics (higher: easier to isolate)."""

    name = "isolation_forest"

    def __init__(self, threshold_metric: str = "f1", seed: int = 0, trees: int = 300) -> None:
        super().__init__(threshold_metric)
        self.seed, self.trees = seed, trees

    def fit(self, X_learn: np.ndarray, *_: object, **__: object) -> IsolationForestDetector:
        self._shape(X_learn)
        self.scaler_ = StandardScaler().fit(statistics(X_learn))
        self.forest_ = IsolationForest(n_estimators=self.trees, random_state=self.seed, n_jobs=1)
        self.forest_.fit(self.scaler_.transform(statistics(X_learn)))
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        return -self.forest_.score_samples(self.scaler_.transform(statistics(X)))


BASELINES = {d.name: d for d in (RMSDetector, MahalanobisDetector, IsolationForestDetector)}
