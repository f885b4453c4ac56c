"""The health-index model in the model contract: one unit's rows so far in, the HI, the remaining life and its
interval for each row out.

A request carries the rows of one unit in time order, its whole history or a recent stretch of it (at
least the model's rolling window); each row's HI uses only that row and the ones before it, so the
answer for a prefix never changes when later rows arrive. The whole history is the better input: the
unit's own early level (when the model subtracts it) comes from its first rows. Rows of two units, time
that does not increase, or fewer rows than the window are refused with a ``DataError`` naming the field
(HTTP 400 when served).
"""

from __future__ import annotations

import json
from typing import Any, Protocol

import numpy as np
import pandas as pd

from shopfloor.contract import Column, Output, Rows, ShopfloorModel, TabularSchema
from shopfloor.errors import DataError
from shopfloor.health_index.prepare import OperatingRegimes
from shopfloor.health_index.rul import CAP

HEALTHY_ROWS = 10  # an explanation's reference: each sensor at its level over the unit's first rows sent


class HealthIndex(Protocol):
    """What a health-index model offers: the HI of each of one unit's rows (causal)."""

    def transform(self, unit: np.ndarray) -> np.ndarray: ...


class RulEstimator(Protocol):
    """Remaining steps of each of one unit's rows, from its (prepared) rows and its HI."""

    def predict(self, unit: np.ndarray, hi: np.ndarray) -> np.ndarray: ...


class HealthIndexPyfunc(ShopfloorModel[TabularSchema, Rows]):
    """Regimes, the chosen health index (2DS + APAIC, APAIC, or a supervised rival) and remaining-life estimator in
    one registered model."""

    KIND = "health-index"
    ANSWER = "health_index"
    OUTPUTS = (
        Output("health_index", "FP64", description="0 healthy ... 1 failed"),
        Output("rul", "FP64", description="estimated remaining steps (capped)"),
        Output("rul_lower", "FP64", description="remaining steps, 10th percentile of held-out errors"),
        Output("rul_upper", "FP64", description="remaining steps, 90th percentile of held-out errors"),
    )

    @classmethod
    def live_metrics(cls, outputs, label, table) -> dict[str, float]:
        """With label the steps a unit still ran after the answer: ``rank_correlation`` (Spearman of the index with
        the life left over every answered row, sign turned so that 1 is perfect), ``rul_ranking`` (the same over
        each request's last row: units ranked as they stood when asked, the pipeline's ``test_rul_ranking``) and
        ``rul_mae``."""
        from scipy.stats import spearmanr

        metrics = (
            {"rul_mae": float(np.mean(np.abs(outputs["rul"].to_numpy(float) - label)))} if "rul" in outputs else {}
        )
        hi = outputs["health_index"].to_numpy(float)
        if len(np.unique(label)) > 1:
            metrics["rank_correlation"] = float(-spearmanr(hi, label).statistic)
        if {"request_id", "row"} <= set(table.columns):
            last = (table.groupby("request_id")["row"].transform("max") == table["row"]).to_numpy()
            if last.sum() >= 3 and len(np.unique(label[last])) > 1:
                metrics["rul_ranking"] = float(-spearmanr(hi[last], label[last]).statistic)
        return metrics

    def __init__(
        self,
        model: HealthIndex,
        features: list[str],
        unit: str,
        time: str,
        types: dict[str, str],
        rul: RulEstimator,
        regimes: OperatingRegimes | None = None,
        window: int = 0,
        method: str = "a2ds",
        rul_method: str = "hi",
        rul_interval: tuple[float, float] = (0.0, 0.0),
    ) -> None:
        """``types``: the contract type of each column (unit, time, conditions, features) as trained;
        ``rul_interval``: offsets added to the remaining-life estimate for its interval."""
        self.model, self.rul, self.regimes = model, rul, regimes
        self.features, self.unit, self.time = list(features), unit, time
        self.method, self.rul_method, self.rul_interval = method, rul_method, tuple(rul_interval)
        conditions = list(regimes.columns) if regimes is not None else []
        self.min_rows = max(1, window)
        self.inputs = TabularSchema(tuple(Column(c, types[c]) for c in (unit, time, *conditions, *self.features)))

    def details(self) -> dict:
        return {
            "unit": self.unit,
            "time": self.time,
            "min_rows": self.min_rows,
            "method": self.method,
            "rul_method": self.rul_method,
            "rul_interval": list(self.rul_interval),
            "conditions": list(self.regimes.columns) if self.regimes is not None else [],
        }

    def predict_rows(self, rows: Rows) -> dict[str, np.ndarray]:
        frame = rows.frame()
        units = frame[self.unit].unique()
        if len(units) != 1:
            raise DataError(
                self.unit,
                f"rows of {len(units)} units ({', '.join(map(str, units[:3]))}...): send one unit's rows per request",
                "several_units",
            )
        stamps = frame[self.time].to_numpy(float)
        if np.any(np.diff(stamps) <= 0):
            at = int(np.argmax(np.diff(stamps) <= 0)) + 1
            raise DataError(
                self.time,
                f"time must increase within the unit; row {at} goes from {stamps[at - 1]:g} to {stamps[at]:g}",
                "time_backwards",
            )
        if len(frame) < self.min_rows:
            raise DataError(
                self.unit, f"{len(frame)} rows, fewer than the model's window of {self.min_rows} steps", "too_short"
            )
        values = self.regimes.transform(frame) if self.regimes is not None else frame[self.features].to_numpy(float)
        hi = np.asarray(self.model.transform(values), dtype=np.float64)
        rul = np.asarray(self.rul.predict(values, hi), dtype=np.float64)
        low, high = self.rul_interval
        return {
            "health_index": hi,
            "rul": rul,
            "rul_lower": np.clip(rul + low, 0.0, CAP),
            "rul_upper": np.clip(rul + high, 0.0, CAP),
        }

    def score_table(self, frame: pd.DataFrame, explain: bool = False) -> pd.DataFrame:
        """Batch scoring: each unit's rows (in time order) scored as one request, the answers in the table's row
        order; with ``explain``, each unit's last row carries its sensors' shares."""
        parts = []
        for _, unit in frame.groupby(self.unit, sort=False):
            ordered = unit.sort_values(self.time, kind="stable")
            scored = super().score_table(ordered).set_axis(ordered.index)
            if explain:
                why = json.dumps(self.explain_rows(self.inputs.from_frame(ordered))["rows"][0])
                scored["explanation"] = [None] * (len(scored) - 1) + [why]
            parts.append(scored)
        return pd.concat(parts).loc[frame.index]

    def explain_rows(self, rows: Rows) -> dict[str, Any]:
        """Why the unit stands where it does: each sensor's share of the last row's health index, against the
        unit's own start (every sensor held at its level over the first ``HEALTHY_ROWS`` rows sent). The shares sum
        to ``health_index`` minus ``baseline_health_index`` (Shapley values of the sensors,
        ``shopfloor.platform.shapley``)."""
        from shopfloor.platform.shapley import group_shapley

        answer = self.predict_rows(rows)  # the same checks: one unit, time forward, enough rows
        frame = rows.frame()
        values = self.regimes.transform(frame) if self.regimes is not None else frame[self.features].to_numpy(float)
        start = values[: max(HEALTHY_ROWS, self.min_rows)].mean(axis=0)

        def last_index(present: np.ndarray) -> float:
            return float(np.asarray(self.model.transform(np.where(present, values, start)))[-1])

        shares, baseline = group_shapley(last_index, len(self.features))
        return {
            "units": "health index (0 healthy ... 1 failed) of the last row sent",
            "reference": f"the unit's own start: each sensor at its level over the first {HEALTHY_ROWS} rows sent",
            "rows": [
                {
                    "health_index": float(answer["health_index"][-1]),
                    "rul": float(answer["rul"][-1]),
                    "baseline_health_index": baseline,
                    "contributions": dict(zip(self.features, shares.tolist(), strict=True)),
                }
            ],
        }
