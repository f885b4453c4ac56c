"""Health-index quality metrics of Frusque et al. (Eqs. 10-16).

* correlation (Eq. 10): cosine similarity ``h_hat . h / (||h_hat|| ||h||)`` with a reference HI;
* rescaled RMSE (Eqs. 11-12): RMSE after the least-squares affine map ``h_hat M + m`` onto the reference;
* monotonicity (Eq. 13, modified Mann-Kendall): ``sum_{t<tau} sign(h_tau - h_t)(tau - t) / sum_{t<tau}(tau - t)``,
  1 for a strictly increasing HI, -1 for a strictly decreasing one;
* trendability (Eq. 14): the smallest correlation between the HIs of two units, both resampled to a
  common length;
* prognosability (Eqs. 15-16): ``exp(-std_k(h_fail) / mean_k |h_fail - h_start|)``, 1 when every unit
  fails at the same HI value.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def correlation(h_hat: np.ndarray, h: np.ndarray) -> float:
    h_hat, h = np.asarray(h_hat, float), np.asarray(h, float)
    den = np.linalg.norm(h_hat) * np.linalg.norm(h)
    return float(h_hat @ h / den) if den else 0.0


def rescaled_rmse(h_hat: np.ndarray, h: np.ndarray) -> float:
    h_hat, h = np.asarray(h_hat, float), np.asarray(h, float)
    design = np.column_stack([h_hat, np.ones_like(h_hat)])
    (scale, shift), *_ = np.linalg.lstsq(design, h, rcond=None)
    return float(np.sqrt(np.mean((h_hat * scale + shift - h) ** 2)))


def monotonicity(h: np.ndarray) -> float:
    h = np.asarray(h, float)
    t = np.arange(len(h))
    lag = t[None, :] - t[:, None]  # tau - t
    upper = lag > 0
    if not upper.any():
        return 0.0
    signs = np.sign(h[None, :] - h[:, None])
    return float((signs * lag)[upper].sum() / lag[upper].sum())


def _resample(h: np.ndarray, n: int) -> np.ndarray:
    h = np.asarray(h, float)
    return np.interp(np.linspace(0.0, 1.0, n), np.linspace(0.0, 1.0, len(h)), h)


def trendability(his: Sequence[np.ndarray]) -> float:
    if len(his) < 2:
        return 1.0
    n = max(len(h) for h in his)
    curves = [_resample(h, n) for h in his]
    return float(min(np.corrcoef(a, b)[0, 1] for i, a in enumerate(curves) for b in curves[i + 1:]))


def prognosability(his: Sequence[np.ndarray]) -> float:
    ends = np.array([np.asarray(h, float)[-1] for h in his])
    starts = np.array([np.asarray(h, float)[0] for h in his])
    spread = np.mean(np.abs(ends - starts))
    return float(np.exp(-np.std(ends) / spread)) if spread else 0.0


def hi_report(his: Sequence[np.ndarray], references: Sequence[np.ndarray] | None = None) -> dict[str, float]:
    """Mean monotonicity, trendability, prognosability and, with references, mean correlation and RMSE."""
    out = {"monotonicity": float(np.mean([monotonicity(h) for h in his])), "trendability": trendability(his),
           "prognosability": prognosability(his)}
    if references is not None:
        out["correlation"] = float(np.mean([correlation(h, r) for h, r in zip(his, references, strict=True)]))
        out["rescaled_rmse"] = float(np.mean([rescaled_rmse(h, r) for h, r in zip(his, references, strict=True)]))
    return out
