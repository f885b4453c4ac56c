"""Health-index quality metrics of Frusque et al. (Eqs. 10-16), as written, and the Pearson forms beside them.

* correlation (Eq. 10): cosine similarity ``h_hat . h / (||h_hat|| ||h||)`` with a reference HI
  (``correlation_pearson``: Pearson's r, which ignores the offset the cosine form rewards);
* rescaled RMSE (Eqs. 11-12): one affine map ``h' = h_hat M + m`` shared by all units, chosen so that the
  estimated and reference HIs have the same mean over a steady window (Frusque et al.'s cycles 100-150 of
  the milling runs; here a share of each unit's life, default 40-60 %) and the same maximum over all
  units; then ``||h' - h||_F`` per unit (``rescaled_rmse_per_unit``: the older per-unit least-squares
  fit, which flatters);
* monotonicity (Eq. 13, modified Mann-Kendall): ``sum_{t<tau} sign(h_tau - h_t)(tau - t) /
  sum_{t<tau}(tau - t)``, 1 for a strictly increasing HI, -1 for a strictly decreasing one;
* trendability (Eq. 14): the smallest Eq. 10 correlation (cosine) between the HIs of two units,
  resampled to a common length; ``pairwise_trendability`` gives every pair, so that the median and the
  5th percentile can be reported beside the minimum (one odd unit sets the minimum alone); the
  Pearson form is ``trendability_pearson``;
* prognosability (Eqs. 15-16): each unit is read at ``t_P``, the first step at which its HI reaches the
  highest value ever reached by the least-worn unit (the unit whose HI peaks lowest); then
  ``exp(-std_k(h_{t_P}) / mean_k |h_{t_P} - h_0|)``. ``prognosability_last`` reads the last step instead.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def correlation(h_hat: np.ndarray, h: np.ndarray) -> float:
    """Eq. 10: cosine similarity."""
    h_hat, h = np.asarray(h_hat, float), np.asarray(h, float)
    den = np.linalg.norm(h_hat) * np.linalg.norm(h)
    return float(h_hat @ h / den) if den else 0.0


def correlation_pearson(h_hat: np.ndarray, h: np.ndarray) -> float:
    h_hat, h = np.asarray(h_hat, float), np.asarray(h, float)
    if h_hat.std() == 0 or h.std() == 0:
        return 0.0
    return float(np.corrcoef(h_hat, h)[0, 1])


def shared_rescaling(
    his: Sequence[np.ndarray], refs: Sequence[np.ndarray], window: tuple[float, float] = (0.4, 0.6)
) -> tuple[float, float]:
    """Eq. 11: (M, m) such that ``h M + m`` has the references' mean over the steady ``window`` (shares
    of each unit's life) and their maximum over all units."""

    def steady(curves: Sequence[np.ndarray]) -> float:
        parts = [
            np.asarray(c, float)[int(window[0] * len(c)) : max(int(window[1] * len(c)), int(window[0] * len(c)) + 1)]
            for c in curves
        ]
        return float(np.mean(np.concatenate(parts)))

    m1, m2 = steady(his), steady(refs)
    big1, big2 = max(float(np.max(h)) for h in his), max(float(np.max(r)) for r in refs)
    scale = (big2 - m2) / (big1 - m1) if big1 != m1 else 1.0
    return scale, m2 - m1 * scale


def rescaled_rmse(
    his: Sequence[np.ndarray], refs: Sequence[np.ndarray], window: tuple[float, float] = (0.4, 0.6)
) -> list[float]:
    """Eq. 12 per unit, after the shared map of Eq. 11: ``||h M + m - h_ref||_F``."""
    scale, shift = shared_rescaling(his, refs, window)
    return [
        float(np.linalg.norm(np.asarray(h, float) * scale + shift - np.asarray(r, float)))
        for h, r in zip(his, refs, strict=True)
    ]


def rescaled_rmse_per_unit(h_hat: np.ndarray, h: np.ndarray) -> float:
    """The per-unit least-squares affine fit and its RMSE (not Frusque et al.'s: each unit gets its own map)."""
    h_hat, h = np.asarray(h_hat, float), np.asarray(h, float)
    design = np.column_stack([h_hat, np.ones_like(h_hat)])
    (scale, shift), *_ = np.linalg.lstsq(design, h, rcond=None)
    return float(np.sqrt(np.mean((h_hat * scale + shift - h) ** 2)))


def monotonicity(h: np.ndarray) -> float:
    """Eq. 13, the modified Mann-Kendall index."""
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


def pairwise_trendability(his: Sequence[np.ndarray], form: str = "cosine") -> np.ndarray:
    """The Eq. 10 (``cosine``) or Pearson correlation of every pair of units' HIs at a common length."""
    n = max(len(h) for h in his)
    curves = [_resample(h, n) for h in his]
    score = correlation if form == "cosine" else correlation_pearson
    return np.array([score(a, b) for i, a in enumerate(curves) for b in curves[i + 1 :]])


def trendability(his: Sequence[np.ndarray]) -> float:
    """Eq. 14: the smallest pairwise (cosine) correlation."""
    return float(pairwise_trendability(his).min()) if len(his) > 1 else 1.0


def trendability_pearson(his: Sequence[np.ndarray]) -> float:
    return float(pairwise_trendability(his, "pearson").min()) if len(his) > 1 else 1.0


def prognosability(his: Sequence[np.ndarray]) -> float:
    """Eqs. 15-16: each unit read where it first reaches the peak of the least-worn unit."""
    curves = [np.asarray(h, float) for h in his]
    level = min(float(c.max()) for c in curves)
    at = np.array([c[int(np.argmax(c >= level))] for c in curves])
    starts = np.array([c[0] for c in curves])
    spread = np.mean(np.abs(at - starts))
    return float(np.exp(-np.std(at) / spread)) if spread else 0.0


def prognosability_last(his: Sequence[np.ndarray]) -> float:
    """Coble's form at the last step of each unit."""
    ends = np.array([np.asarray(h, float)[-1] for h in his])
    starts = np.array([np.asarray(h, float)[0] for h in his])
    spread = np.mean(np.abs(ends - starts))
    return float(np.exp(-np.std(ends) / spread)) if spread else 0.0


def hi_report(his: Sequence[np.ndarray], references: Sequence[np.ndarray] | None = None) -> dict[str, float]:
    """Every metric for one set of units (one fold): monotonicity (mean over units), trendability (cosine
    minimum, median, 5th percentile, and the Pearson minimum), prognosability (Eq. 16 and last-step form)
    and, with references (a ground-truth HI), mean correlation (cosine and Pearson) and shared-map RMSE."""
    pairs = pairwise_trendability(his) if len(his) > 1 else np.ones(1)
    out = {
        "monotonicity": float(np.mean([monotonicity(h) for h in his])),
        "trendability": float(pairs.min()),
        "trendability_median": float(np.median(pairs)),
        "trendability_p5": float(np.percentile(pairs, 5)),
        "trendability_pearson": trendability_pearson(his),
        "prognosability": prognosability(his),
        "prognosability_last": prognosability_last(his),
    }
    if references is not None:
        pairs_ref = list(zip(his, references, strict=True))
        out["correlation"] = float(np.mean([correlation(h, r) for h, r in pairs_ref]))
        out["correlation_pearson"] = float(np.mean([correlation_pearson(h, r) for h, r in pairs_ref]))
        out["rescaled_rmse"] = float(np.mean(rescaled_rmse(his, references)))
    return out
