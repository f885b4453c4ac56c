"""Prognosis from posterior draws of (a, b): wear curves to come, their quantiles, and the cuts left.

Given the first n observed values y[0..n-1], every draw continues Eq. 20 from the last observation
(k0 = n - 1, x[k0] = y[n-1]); the measurement noise is added to the continued curves, as Russell and Wang's code
does, so the 10-90 % band is a band for future *measurements*. The median curve is the point forecast
(Russell and Wang's RMSE uses it).

Remaining cuts to a wear limit: for each draw, the number of cuts after the last observed one until its
noise-free curve reaches the limit, in closed form (a geometric sum); NaN where a draw never reaches it
(b <= 0). Its median and 10 / 90 % quantiles are reported (NaN when more than that share never reaches
the limit).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shopfloor.prognosis.wear_model import NOISE_VAR, RATE, curves

QUANTILES = (0.1, 0.5, 0.9)


@dataclass
class Forecast:
    """Curves for cuts n .. n + horizon - 1 (the cuts after the n observed ones)."""

    cuts: np.ndarray  # the cut indices k of the forecast, starting at n
    median: np.ndarray
    q10: np.ndarray
    q90: np.ndarray
    remaining: np.ndarray  # (q10, median, q90) of the cuts left until the limit (NaN: not reached)
    samples: np.ndarray  # the forecast curves of every draw, (draws, horizon)
    params: np.ndarray  # the draws of (a, b)


def remaining_cuts(params: np.ndarray, x0: float, k0: int, limit: float) -> np.ndarray:
    """Cuts after cut k0 until x reaches ``limit``, for each (a, b) (0 if already there, NaN if never)."""
    a, b = params[:, 0], params[:, 1]
    need = limit - x0
    out = np.full(len(params), np.nan)
    if need <= 0:
        return np.zeros(len(params))
    first = RATE * b * np.exp(RATE * a * k0)  # the next increment
    r = np.exp(RATE * a)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        linear = np.abs(a) < 1e-9
        # sum_{j<m} first * r^j >= need  <=>  r^m >= 1 + need (r - 1) / first   (r > 1);  m >= need / first (r = 1)
        ratio = 1.0 + need * (r - 1.0) / first
        m_geo = np.ceil(np.log(ratio) / np.log(r) - 1e-9)
        m_lin = np.ceil(need / first - 1e-9)
        m = np.where(linear, m_lin, m_geo)
        reachable = (first > 0) & (linear | (r > 1) | (ratio > 0))
        reachable &= np.isfinite(m) & (m >= 1)
    out[reachable] = m[reachable]
    return out


def forecast(
    params: np.ndarray,
    observed: np.ndarray,
    horizon: int,
    limit: float = 0.7,
    noise_var: float = NOISE_VAR,
    seed: int = 0,
) -> Forecast:
    """Continue each draw from the last observed value for ``horizon`` cuts; quantiles over draws."""
    observed = np.asarray(observed, dtype=np.float64)
    k0 = len(observed) - 1
    x = curves(params, horizon + 1, k0=k0, x0=observed[-1])[:, 1:]
    rng = np.random.default_rng(seed)
    measured = x + np.sqrt(noise_var) * rng.standard_normal(x.shape)
    q10, med, q90 = np.quantile(measured, QUANTILES, axis=0)
    left = remaining_cuts(params, float(observed[-1]), k0, limit)
    # a count of cuts: quantiles taken among the draws' own values (never between a finite one and "never")
    ranks = np.quantile(np.where(np.isnan(left), np.inf, left), QUANTILES, method="inverted_cdf")
    return Forecast(
        np.arange(k0 + 1, k0 + 1 + horizon),
        med,
        q10,
        q90,
        np.where(np.isfinite(ranks), ranks, np.nan),
        measured,
        params,
    )


def rmse(forecast_median: np.ndarray, future: np.ndarray) -> float:
    """RMSE of the median forecast against the values that followed (as many as both have)."""
    n = min(len(forecast_median), len(future))
    return float(np.sqrt(np.mean((forecast_median[:n] - future[:n]) ** 2)))


def coverage(result: Forecast, future: np.ndarray) -> float:
    """Share of the values that followed inside the 10-90 % band."""
    n = min(len(result.median), len(future))
    inside = (future[:n] >= result.q10[:n]) & (future[:n] <= result.q90[:n])
    return float(inside.mean())
