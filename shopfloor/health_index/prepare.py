"""What happens to a unit's rows before the health-index model sees them: operating regimes, a unit's own
baseline, rolling statistics. Everything here is causal: a row's features depend on that row and the
rows before it, never on later ones, so a HI served for a unit's rows so far never changes when more
rows arrive.

* ``OperatingRegimes``: machines run at several set points (C-MAPSS FD002/FD004: six), and a sensor's
  level depends on the set point more than on the wear. The regimes are found by k-means on the
  standardized set-point columns of the training rows (the number by the silhouette score, one when no
  clustering is clearly better), and each sensor is standardized with its own regime's mean and
  standard deviation before anything else.
* ``UnitFeatures``: subtracting each unit's own early level (the mean of its first ``baseline`` rows,
  an expanding mean until that many rows exist) removes the unit-to-unit offsets that have nothing to
  do with wear; the mean and standard deviation over the last ``window`` rows smooth cycle-to-cycle
  noise and expose growing scatter.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from shopfloor.errors import DataError


def life_steps(length: int, value: float) -> int:
    """``value`` steps, or the share ``value`` (< 1) of a life of ``length`` steps (at least one)."""
    if value <= 0:
        raise DataError("healthy-steps/failed-steps", f"must be positive, got {value}")
    return max(1, int(round(value * length))) if value < 1 else int(value)


class OperatingRegimes:
    """Per-regime standardization of sensors, the regimes found from set-point columns."""

    def __init__(
        self, columns: Sequence[str], n_regimes: int | None = None, max_regimes: int = 8, seed: int = 0
    ) -> None:
        self.columns, self.n_regimes, self.max_regimes, self.seed = list(columns), n_regimes, max_regimes, seed

    def fit(self, rows: pd.DataFrame, sensors: Sequence[str]) -> OperatingRegimes:
        from sklearn.cluster import KMeans
        from sklearn.metrics import silhouette_score

        missing = [c for c in self.columns if c not in rows.columns]
        if missing:
            raise DataError(missing[0], "operating-condition column not found")
        self.sensors = list(sensors)
        settings = rows[self.columns].to_numpy(float)
        self._mean, spread = settings.mean(axis=0), settings.std(axis=0)
        self._scale = np.where(spread > 1e-12, spread, 1.0)
        x = (settings - self._mean) / self._scale
        sample = np.random.default_rng(self.seed).permutation(len(x))[:5000]
        if self.n_regimes:
            best = KMeans(self.n_regimes, n_init=10, random_state=self.seed).fit(x)
        else:
            best, score = None, 0.5  # below this silhouette, one regime is the honest answer
            for k in range(2, self.max_regimes + 1):
                km = KMeans(k, n_init=10, random_state=self.seed).fit(x)
                value = silhouette_score(x[sample], km.labels_[sample])
                if value > score:
                    best, score = km, value
        self.kmeans = best
        labels = self.regime(rows)
        values = rows[self.sensors].to_numpy(float)
        self.stats = {}
        for r in np.unique(labels):
            part = values[labels == r]
            std = part.std(axis=0)
            self.stats[int(r)] = (part.mean(axis=0), np.where(std > 1e-12, std, 1.0))
        return self

    @property
    def count(self) -> int:
        return 1 if self.kmeans is None else self.kmeans.n_clusters

    def regime(self, rows: pd.DataFrame) -> np.ndarray:
        if self.kmeans is None:
            return np.zeros(len(rows), dtype=int)
        return self.kmeans.predict((rows[self.columns].to_numpy(float) - self._mean) / self._scale)

    def transform(self, rows: pd.DataFrame) -> np.ndarray:
        """The sensors of ``rows``, each standardized within its row's regime."""
        labels = self.regime(rows)
        values = rows[self.sensors].to_numpy(float)
        out = np.empty_like(values)
        for r, (mean, std) in self.stats.items():
            mask = labels == r
            out[mask] = (values[mask] - mean) / std
        return out


class UnitFeatures:
    """Causal per-unit features of a (T, F) array: minus the unit's early level, then the rows themselves
    or their rolling mean and standard deviation over the last ``window`` rows."""

    def __init__(self, baseline: int = 0, window: int = 0) -> None:
        self.baseline, self.window = baseline, window

    def transform(self, unit: np.ndarray) -> np.ndarray:
        x = np.asarray(unit, dtype=float)
        if self.baseline:
            counts = np.minimum(np.arange(1, len(x) + 1), self.baseline)[:, None]
            early = np.cumsum(x, axis=0)
            early = early[np.minimum(np.arange(len(x)), self.baseline - 1)]  # sum of rows 0..min(t, b-1)
            x = x - early / counts
        if self.window > 1:
            return np.hstack(rolling(x, self.window))
        return x

    @property
    def multiplier(self) -> int:
        """Output columns per input column."""
        return 2 if self.window > 1 else 1


def rolling(x: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """(mean, standard deviation) over the last ``window`` rows of each row (fewer at the start)."""
    csum = np.cumsum(np.vstack([np.zeros((1, x.shape[1])), x]), axis=0)
    csq = np.cumsum(np.vstack([np.zeros((1, x.shape[1])), x**2]), axis=0)
    end = np.arange(1, len(x) + 1)
    start = np.maximum(0, end - window)
    n = (end - start)[:, None]
    mean = (csum[end] - csum[start]) / n
    var = np.maximum((csq[end] - csq[start]) / n - mean**2, 0.0)
    return mean, np.sqrt(var)
