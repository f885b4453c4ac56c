"""Health indices a reliability engineer fits first: a regression of a unit's causal features onto its life
fraction (0 at the first step, 1 at failure), fitted on units that ran to failure.

They use the same causal features as the 2DS + APAIC model (``UnitFeatures``: the unit's own early level
subtracted, rolling mean and standard deviation, then standardized on the training rows), so a row's HI
depends on that row and the rows before it only. ``estimator="ridge"``: ridge regression with its penalty
chosen by efficient leave-one-out on the training rows (``RidgeCV``); ``"hgb"``: scikit-learn's histogram
gradient boosting.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.preprocessing import StandardScaler

from shopfloor.health_index.prepare import UnitFeatures, life_steps

ESTIMATORS = ("ridge", "hgb")
ALPHAS = (0.1, 1.0, 10.0, 100.0, 1000.0)


def life_fraction(length: int) -> np.ndarray:
    """0 at a unit's first step, 1 at its last (its failure)."""
    return np.arange(length, dtype=float) / max(length - 1, 1)


class SupervisedHI:
    """``fit`` on per-unit (T, F) arrays that end in failure; ``transform`` one unit's rows to its HI (causal)."""

    def __init__(
        self, estimator: str = "ridge", window: int = 0, baseline: bool = False, t_d: float = 30, seed: int = 0
    ) -> None:
        if estimator not in ESTIMATORS:
            raise ValueError(f"estimator must be one of {ESTIMATORS}, got {estimator!r}")
        self.estimator, self.window, self.baseline, self.t_d, self.seed = estimator, window, baseline, t_d, seed

    def fit(self, trajectories: Sequence[np.ndarray]) -> SupervisedHI:
        from sklearn.ensemble import HistGradientBoostingRegressor
        from sklearn.linear_model import RidgeCV

        units = [np.asarray(u, dtype=float) for u in trajectories]
        median_life = int(np.median([len(u) for u in units]))
        self.unit_features = UnitFeatures(
            baseline=life_steps(median_life, self.t_d) if self.baseline else 0, window=self.window
        )
        raw = [self.unit_features.transform(u) for u in units]
        self.scaler = StandardScaler().fit(np.vstack(raw))
        x = self.scaler.transform(np.vstack(raw))
        y = np.concatenate([life_fraction(len(u)) for u in units])
        if self.estimator == "ridge":
            self.model = RidgeCV(alphas=ALPHAS).fit(x, y)
        else:
            self.model = HistGradientBoostingRegressor(max_iter=200, learning_rate=0.05, random_state=self.seed).fit(
                x, y
            )
        return self

    def transform(self, unit: np.ndarray) -> np.ndarray:
        """The HI of each step of one unit (its rows in time order)."""
        x = self.scaler.transform(self.unit_features.transform(np.asarray(unit, dtype=float)))
        return np.asarray(self.model.predict(x), dtype=float)
