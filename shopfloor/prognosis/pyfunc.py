"""The prognosis model in the model contract: a tool's wear so far in, its forecast and the cuts left out.

Input: one or more wear sequences (mm, in cut order, starting at the new tool), each of any length from
2 up. For each, ``draws`` posterior samples of (a, b) are drawn with the model's fixed seed, so the same
sequence always gets the same answer (served or through the pyfunc). Outputs per sequence: the median and
10 / 90 % curves of the next ``horizon`` cuts, and the median and 10 / 90 % quantiles of the cuts left
until the wear passes ``limit`` (null / NaN where it is not reached by that share of the draws).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from shopfloor.contract import Output, Sequences, SequenceSchema, ShopfloorModel
from shopfloor.defaults import PROGNOSIS
from shopfloor.prognosis.curve_fit import CurveFit
from shopfloor.prognosis.curves import MAX_WEAR
from shopfloor.prognosis.forecast import forecast
from shopfloor.prognosis.posterior import WearPosterior


class PrognosisPyfunc(ShopfloorModel[SequenceSchema, Sequences]):
    KIND = "prognosis"
    ANSWER = "median"

    @staticmethod
    def _first(values) -> np.ndarray:
        """The first forecast step of each logged curve."""
        return np.array([v[0] if isinstance(v, list | np.ndarray) else v for v in values], dtype=float)

    @classmethod
    def live_metrics(cls, outputs, label, table) -> dict[str, float]:
        """With label the wear measured at the next cut: ``mae`` of the first forecast step, ``coverage`` of its
        10-90 % band."""
        median = cls._first(outputs["median"])
        metrics = {"mae": float(np.mean(np.abs(median - label)))}
        if "q10" in outputs and "q90" in outputs:
            metrics["coverage"] = float(
                np.mean((cls._first(outputs["q10"]) <= label) & (label <= cls._first(outputs["q90"])))
            )
        return metrics

    def __init__(
        self,
        posterior: WearPosterior | CurveFit,
        horizon: int = 15,
        limit: float = 0.7,
        draws: int = PROGNOSIS.draws,
        seed: int = 0,
        prior_scale: float = 1.0,
    ) -> None:
        self.posterior, self.horizon, self.limit, self.draws, self.seed = posterior, horizon, limit, draws, seed
        self.prior_scale = prior_scale
        self.inputs = SequenceSchema("wear", min_length=2, max_length=1000, lower=0.0, upper=MAX_WEAR, unit="mm")
        shape = (horizon,)
        self.outputs_ = (
            Output("median", "FP64", shape, f"median wear (mm) of each of the next {horizon} cuts"),
            Output("q10", "FP64", shape, "10 % quantile of the wear of each of the next cuts"),
            Output("q90", "FP64", shape, "90 % quantile of the wear of each of the next cuts"),
            Output("remaining_cuts", "FP64", description=f"median cuts left until the wear reaches {limit:g} mm"),
            Output("remaining_cuts_q10", "FP64", description="10 % quantile of the cuts left"),
            Output("remaining_cuts_q90", "FP64", description="90 % quantile of the cuts left (null: not reached)"),
        )

    @property
    def OUTPUTS(self) -> tuple[Output, ...]:  # type: ignore[override]  # noqa: N802 - the horizon sets the curves' length per model
        return self.outputs_

    def details(self) -> dict:
        return {
            "horizon": self.horizon,
            "vb_limit": self.limit,
            "draws": self.draws,
            "seed": self.seed,
            "prior_scale": self.prior_scale,
            "posterior": self.posterior.config.to_dict(),
        }

    def stack(self, batches: Sequence[Sequences]) -> Sequences:
        """Each tool's curve is forecast on its own (same seed), so curves sent together are forecast in one call."""
        return Sequences.stacked(batches)

    def predict_rows(self, rows: Sequences) -> dict[str, np.ndarray]:
        out: dict[str, list[Any]] = {o.name: [] for o in self.OUTPUTS}
        for values in rows.values:
            params = self.posterior.sample(values, self.draws, seed=self.seed)
            result = forecast(params, values, self.horizon, self.limit, seed=self.seed)
            out["median"].append(result.median)
            out["q10"].append(result.q10)
            out["q90"].append(result.q90)
            out["remaining_cuts_q10"].append(result.remaining[0])
            out["remaining_cuts"].append(result.remaining[1])
            out["remaining_cuts_q90"].append(result.remaining[2])
        return {k: np.asarray(v, dtype=np.float64) for k, v in out.items()}
