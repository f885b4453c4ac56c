"""The stepwise wear model of Eq. 20, its prior (§5.2) and the rule that keeps physically expected curves.

    x[0] = 0,    x[k+1] = x[k] + 0.4 b exp(0.4 a k)        (Eq. 20, noise-free state)
    y[k] = x[k] + nu,    nu ~ N(0, 0.002)                   (observed wear; 0.002 is the variance)

Russell and Wang write the noise inside the recursion; its public code adds it to each observed value
(``noise_power`` = variance 0.002, standard deviation 0.045 mm), which is what is done here: the wear
itself grows deterministically, the measurement scatters.

Prior: a, b ~ N(0, ``prior_scale``^2), ``prior_scale`` 1 as §5.2 writes (the public code uses 0.3). Curves
for k = 0..24 are drawn and a (a, b) is kept only when its noise-free curve is physically expected
(``physically_expected``), Russell and Wang's three exclusions made explicit as the public code does them:

1. never decreasing: every x[k] >= 0 (with x[0] = 0 this holds exactly when b >= 0);
2. not too steep: x[k] <= exp(0.2 k) - 1 for every k (0.22 mm after 1 cut, 1.7 mm after 5, 6.4 after 10);
3. exponential, i.e. accelerating: the mean second difference of the curve is positive (a > 0, b > 0).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

STEPS = 25  # k = 0..24
NOISE_VAR = 0.002
RATE = 0.4


def steps(a: np.ndarray, b: np.ndarray, k: np.ndarray) -> np.ndarray:
    """The increments 0.4 b exp(0.4 a k) for each parameter pair (rows) and step k (columns)."""
    return RATE * np.asarray(b)[:, None] * np.exp(RATE * np.asarray(a)[:, None] * np.asarray(k)[None, :])


def curves(params: np.ndarray, n_steps: int = STEPS, k0: int = 0, x0: float | np.ndarray = 0.0) -> np.ndarray:
    """Noise-free curves x[k0], ..., x[k0 + n_steps - 1] from x[k0] = x0, one row per (a, b)."""
    params = np.asarray(params, dtype=np.float64)
    increments = steps(params[:, 0], params[:, 1], np.arange(k0, k0 + n_steps - 1))
    start = np.broadcast_to(np.asarray(x0, dtype=np.float64), (len(params),))
    return np.concatenate([start[:, None], start[:, None] + np.cumsum(increments, axis=1)], axis=1)


def observe(x: np.ndarray, rng: np.random.Generator, noise_var: float = NOISE_VAR) -> np.ndarray:
    """Measured wear: the curve plus N(0, noise_var) on every value."""
    return x + np.sqrt(noise_var) * rng.standard_normal(x.shape)


def upper_bound(n_steps: int = STEPS) -> np.ndarray:
    return np.exp(0.2 * np.arange(n_steps)) - 1.0


def physically_expected(x: np.ndarray) -> np.ndarray:
    """The rejection rule on noise-free curves ``x`` (rows of k = 0..n-1): True where a curve is kept."""
    x = np.atleast_2d(x)
    bounded = (x >= 0).all(axis=1) & (x <= upper_bound(x.shape[1]) + 1e-12).all(axis=1)
    second = np.diff(x, n=2, axis=1)
    return bounded & (second.mean(axis=1) > 0)


@dataclass
class Simulations:
    """Parameters (n, 2) and their observed curves (n, 25), all physically expected."""

    params: np.ndarray
    observed: np.ndarray
    drawn: int  # how many prior draws it took


def simulate(
    n: int,
    prior_scale: float = 1.0,
    noise_var: float = NOISE_VAR,
    seed: int = 0,
    n_steps: int = STEPS,
    draw: Callable[[np.random.Generator, int], np.ndarray] | None = None,
) -> Simulations:
    """``n`` accepted (a, b) from the prior with their noisy observed curves. ``draw(rng, count)``: another
    prior to draw (count, 2) parameters from (default N(0, ``prior_scale``^2 I)); the rejection rule holds
    for every prior."""
    rng = np.random.default_rng(seed)
    kept_params, kept_curves, drawn = [], [], 0
    have = 0
    while have < n:
        batch = max(4 * (n - have), 10_000)
        params = draw(rng, batch) if draw is not None else prior_scale * rng.standard_normal((batch, 2))
        x = curves(params, n_steps)
        ok = physically_expected(x)
        drawn += batch
        kept_params.append(params[ok])
        kept_curves.append(x[ok])
        have += int(ok.sum())
    params = np.concatenate(kept_params)[:n]
    return Simulations(params, observe(np.concatenate(kept_curves)[:n], rng, noise_var), drawn)


def log_prior(params: np.ndarray, prior_scale: float = 1.0, n_steps: int = STEPS) -> np.ndarray:
    """Log-density (up to a constant) of the prior the flow learns: N(0, scale^2 I) restricted to the
    physically expected parameters; -inf outside them."""
    params = np.atleast_2d(params)
    ok = physically_expected(curves(params, n_steps))
    lp = -0.5 * np.sum(params**2, axis=1) / prior_scale**2
    return np.where(ok, lp, -np.inf)


def log_likelihood(params: np.ndarray, observed: np.ndarray, noise_var: float = NOISE_VAR) -> np.ndarray:
    """log p(y[0..n-1] | a, b) under the measurement model (independent Gaussian errors)."""
    x = curves(np.atleast_2d(params), len(observed))
    return -0.5 * np.sum((x - observed[None, :]) ** 2, axis=1) / noise_var


def wear_table(
    cases: int = 6,
    seed: int = 0,
    prior_scale: float = 1.0,
    min_cuts: int = 14,
    max_cuts: int = 23,
    noise_var: float = NOISE_VAR,
):
    """Measured wear of ``cases`` simulated tools (columns case, cut, VB): parameters from the prior, kept
    when the tool ends between 0.4 and 1.6 mm after its 14 to 23 cuts (the milling data's range), the
    measurements noisy and never negative. The embedded default's evaluation curves."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    rows = []
    case = 0
    while case < cases:
        params = simulate(64, prior_scale, noise_var, seed=int(rng.integers(1 << 31))).params
        for a, b in params:
            n = int(rng.integers(min_cuts, max_cuts + 1))
            x = curves(np.array([[a, b]]), n)[0]
            if 0.4 <= x[-1] <= 1.6 and case < cases:
                case += 1
                measured = np.clip(observe(x, rng, noise_var), 0.0, None)
                rows += [{"case": case, "cut": k + 1, "VB": round(float(v), 4)} for k, v in enumerate(measured)]
    return pd.DataFrame(rows)
