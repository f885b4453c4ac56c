"""Retraining a tool-wear prognosis on new wear curves.

The posterior of Russell and Wang is learned from simulated curves, so new measured curves enter through the prior:
each adaptation curve's (a, b) is fitted by least squares to Eq. 20 (started from the champion's posterior median),
and the challenger's prior is an even mixture of the champion's N(0, s^2 I) and a Gaussian over the fitted (a, b)
(its spread widened by ``WIDEN`` so a few curves do not pin it). Curves are simulated from that prior under the same
rejection rule and the champion's GRU and flow continue training on them for a few epochs (a warm start; its
starting weights stay unless an epoch beats them on the simulated validation curves). A champion that is the curve
fit (``shopfloor.prognosis.curve_fit``) has nothing to continue: its challenger fits each tool under that same
mixture prior, taken as one Gaussian. Champion and challenger forecast each held-out curve after its first
``observed`` cuts and are compared by the error of the median forecast on the cuts that followed (and the 10-90 %
band's coverage), as the prognosis pipeline evaluates.

New rows are a wear table (columns ``case``, ``cut``, ``VB``: one tool per case), as ``shopfloor run
prognosis --data`` takes, or the logged wear sequences with the measured next wear
(``shopfloor.monitoring.training_rows.wear_curves``).
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from shopfloor.defaults import PROGNOSIS
from shopfloor.errors import DataError
from shopfloor.retraining.base import KindRetrainer

CASE, CUT, WEAR = PROGNOSIS.case, "cut", PROGNOSIS.wear
#: sd added to the fitted prior's spread. Chosen on ten simulated validation fleets (seeds 200-209, none reported)
#: as the smallest mean RMSE with a mean 10-90 % band coverage of at least 0.7, after a first benchmark showed the
#: band too narrow with 0.05: 0.05 -> RMSE 0.140, coverage 0.70; 0.1 -> 0.144, 0.72; 0.2 -> 0.176, 0.76;
#: 0.3 -> 0.203, 0.80 (the champion: 0.211, 0.89).
WIDEN = 0.1
MIN_CUTS = 3  # a held-out curve needs cuts to observe and cuts to forecast


def curves_of(rows: pd.DataFrame) -> dict[object, np.ndarray]:
    return {k: g.sort_values(CUT)[WEAR].to_numpy(float) for k, g in rows.groupby(CASE, sort=True)}


def fit_params(curve: np.ndarray, start: np.ndarray) -> np.ndarray:
    """(a, b) of Eq. 20's noise-free curve closest to ``curve`` (least squares), from ``start``."""
    from scipy.optimize import least_squares

    from shopfloor.prognosis.wear_model import curves

    def residual(theta: np.ndarray) -> np.ndarray:
        return curves(theta[None, :], len(curve))[0] - curve

    return least_squares(residual, start, bounds=([-5.0, 0.0], [5.0, 5.0])).x


def _like(champion: Any, posterior: Any) -> Any:
    """A model with ``posterior`` and every forecast setting of ``champion``."""
    from shopfloor.prognosis.pyfunc import PrognosisPyfunc

    return PrognosisPyfunc(
        posterior,
        horizon=champion.horizon,
        limit=champion.limit,
        draws=champion.draws,
        seed=champion.seed,
        prior_scale=champion.prior_scale,
    )


class PrognosisRetrainer(KindRetrainer):
    KIND = "prognosis"
    group = CASE

    def log_rows(self, model: str, champion: Any, label: str, since: Any = None, root: Any = None) -> pd.DataFrame:
        from shopfloor.monitoring.training_rows import wear_curves

        return wear_curves(model, since, root)

    def read(self, path: str, champion: Any, label: str = "", time_column: str = "") -> pd.DataFrame:
        from shopfloor.data.ingest import read_table
        from shopfloor.prognosis.curves import load_curves

        table = read_table(path)
        found = load_curves(table, CASE, WEAR, CUT if CUT in table.columns else None)
        order = [k for k in pd.unique(table[CASE]) if k in found]  # as the file lists them: the split is repeatable
        return pd.DataFrame([{CASE: k, CUT: i + 1, WEAR: v} for k in order for i, v in enumerate(found[k])])

    def challenger(
        self, champion: Any, adapt: pd.DataFrame, *, reference: pd.DataFrame | None, seed: int, settings: dict[str, Any]
    ) -> tuple[Any, dict[str, Any]]:
        from shopfloor.prognosis import wear_model as wear_model
        from shopfloor.prognosis.curve_fit import CurveFit
        from shopfloor.prognosis.posterior import fit_posterior

        started = time.perf_counter()
        found = curves_of(adapt)
        starts = [np.median(champion.posterior.sample(c, 2000, seed=seed), axis=0) for c in found.values()]
        fitted = np.array([fit_params(c, s) for c, s in zip(found.values(), starts, strict=True)])
        mean = fitted.mean(axis=0)
        spread = np.cov(fitted.T) if len(fitted) > 2 else np.diag(fitted.std(axis=0) ** 2)
        spread = spread + WIDEN**2 * np.eye(2)
        scale = champion.prior_scale

        def draw(rng: np.random.Generator, count: int) -> np.ndarray:
            fleet = rng.random(count) < 0.5
            wide = scale * rng.standard_normal((count, 2))
            near = rng.multivariate_normal(mean, spread, size=count)
            return np.where(fleet[:, None], near, wide)

        if isinstance(champion.posterior, CurveFit):  # nothing learned to continue: the prior itself moves
            # the mixture's own mean and covariance, as one Gaussian (moment matching)
            wide = scale**2 * np.eye(2)
            prior_mean = 0.5 * mean
            prior_cov = 0.5 * (wide + spread) + 0.25 * np.outer(mean, mean)
            return _like(champion, CurveFit(prior_mean, prior_cov)), {
                "method": f"curve fit under a prior refitted to {len(found)} new curves",
                "curves": len(found),
                "fitted_a": float(mean[0]),
                "fitted_b": float(mean[1]),
                "seconds": time.perf_counter() - started,
            }
        n = int(settings.get("simulations", 6000))
        sims = wear_model.simulate(n, seed=seed, draw=draw)
        cut = int(0.8 * n)
        config = replace(champion.posterior.config, epochs=int(settings.get("fine_tune_epochs", 20)), patience=0)
        posterior, info = fit_posterior(
            sims.params[:cut],
            sims.observed[:cut],
            sims.params[cut:],
            sims.observed[cut:],
            config,
            seed=seed,
            start=champion.posterior,
        )
        return _like(champion, posterior), {
            "method": f"warm start on {cut} curves from a prior refitted to {len(found)} new curves "
            f"(best epoch {info['best_epoch']} of {info['epochs']})",
            "curves": len(found),
            "fitted_a": float(mean[0]),
            "fitted_b": float(mean[1]),
            "best_epoch": info["best_epoch"],
            "seconds": time.perf_counter() - started,
        }

    def score(self, model: Any, rows: pd.DataFrame) -> dict[str, float]:
        from shopfloor.prognosis.forecast import coverage, forecast, rmse

        errors, covered = [], []
        for curve in curves_of(rows).values():
            if len(curve) < MIN_CUTS:
                continue
            seen = min(PROGNOSIS.observed, len(curve) - 1)
            params = model.posterior.sample(curve[:seen], model.draws, seed=model.seed)
            result = forecast(params, curve[:seen], len(curve) - seen, model.limit, seed=model.seed)
            errors.append(rmse(result.median, curve[seen:]))
            covered.append(coverage(result, curve[seen:]))
        if not errors:
            raise DataError("data", f"no held-out wear curve has {MIN_CUTS} cuts or more to score on")
        return {
            "rmse": float(np.mean(errors)),
            "neg_rmse": -float(np.mean(errors)),
            "coverage": float(np.mean(covered)),
        }

    def example(self, rows: pd.DataFrame, model: Any) -> pd.DataFrame:
        first = next(iter(curves_of(rows).values()))
        return pd.DataFrame({"wear": [list(first[:6])]})
