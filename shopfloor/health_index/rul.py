"""Remaining useful life from a health index: how many steps a unit has left, given its HI so far.

A regression of the remaining life on what the HI says at each step (its value, its recent mean and
slope, and the step's age), fitted on training units that ran to failure. The target is capped
(``cap``, 125 cycles by default, the usual piecewise-linear convention for C-MAPSS): early in a life
nothing distinguishes 200 cycles left from 300. Features are causal, so the estimate at a step only uses
the HI up to that step.

``nasa_score`` is the asymmetric scoring function of the PHM 2008 challenge (Saxena et al.): with
``d = predicted - true`` remaining life, ``exp(-d/13) - 1`` for early predictions (d < 0) and
``exp(d/10) - 1`` for late ones, summed over units; late predictions cost more.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from shopfloor.forest import regressor_predict
from shopfloor.health_index.prepare import rolling

CAP = 125.0
SLOPE_WINDOW = 10


def hi_features(hi: np.ndarray) -> np.ndarray:
    """(T, 4) causal features of a HI curve: value, mean of the last 5 steps, slope over the last
    ``SLOPE_WINDOW`` steps (per step), and the step index."""
    h = np.asarray(hi, dtype=float)[:, None]
    t = np.arange(len(h), dtype=float)[:, None]
    mean5, _ = rolling(h, 5)
    mean_h, _ = rolling(h, SLOPE_WINDOW)
    mean_t, std_t = rolling(t, SLOPE_WINDOW)
    mean_th, _ = rolling(t * h, SLOPE_WINDOW)
    cov = mean_th - mean_t * mean_h
    slope = np.divide(cov, std_t**2, out=np.zeros_like(cov), where=std_t > 0)
    return np.hstack([h, mean5, slope, t])


class RulModel:
    """``fit`` on the HI curves of units that ran to failure; ``predict`` the remaining steps of each
    step of a unit's HI curve."""

    def __init__(self, cap: float = CAP, seed: int = 0) -> None:
        self.cap, self.seed = cap, seed

    def fit(self, his: Sequence[np.ndarray]) -> RulModel:
        from sklearn.ensemble import HistGradientBoostingRegressor

        x = np.vstack([hi_features(h) for h in his])
        y = np.concatenate([np.minimum(np.arange(len(h))[::-1], self.cap) for h in his]).astype(float)
        self.model = HistGradientBoostingRegressor(max_iter=200, learning_rate=0.05, random_state=self.seed).fit(x, y)
        return self

    def predict(self, hi: np.ndarray) -> np.ndarray:
        compiled = self.__dict__.setdefault("_compiled", {})  # its trees as a Forest, built on first use
        return np.clip(regressor_predict(self.model, hi_features(hi), compiled), 0.0, self.cap)


def nasa_score(predicted: np.ndarray, true: np.ndarray) -> float:
    d = np.asarray(predicted, float) - np.asarray(true, float)
    return float(np.sum(np.where(d < 0, np.exp(-d / 13.0) - 1.0, np.exp(d / 10.0) - 1.0)))
