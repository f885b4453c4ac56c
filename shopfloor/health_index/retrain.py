"""Retraining a health-index model on new run-to-failure units.

New rows are units that ran to failure, in the champion's columns (unit, time, operating conditions,
features), each unit's rows ending at its failure: a table as ``shopfloor run health-index`` takes, or the
logged answers whose outcome shows the failure (``shopfloor.monitoring.training_rows.run_to_failure_log``).
The challenger is the champion's method and remaining-life estimator with the champion's settings, refitted
on the champion's own training units (logged with it) plus the new adaptation units; it keeps the champion's
operating regimes and remaining-life interval. Both are scored as the health-index pipeline scores held-out
units (``shopfloor.health_index.selection.at_cuts``): each unit cut at random steps, the rank correlation of the HI
there with the life left, and the remaining-life error.
"""

from __future__ import annotations

import copy
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shopfloor.errors import DataError
from shopfloor.retraining.base import KindRetrainer


class HealthIndexRetrainer(KindRetrainer):
    KIND = "health-index"

    def group_column(self, champion: Any) -> str:
        return champion.unit

    def log_rows(self, model: str, champion: Any, label: str, since: Any = None, root: Any = None) -> pd.DataFrame:
        from shopfloor.monitoring.training_rows import run_to_failure_log

        return run_to_failure_log(model, champion.inputs.names, champion.unit, champion.time, since, root)

    def read(self, path: str, champion: Any, label: str = "", time_column: str = "") -> pd.DataFrame:
        from shopfloor.data.ingest import read_table

        table = read_table(path)
        return self.checked(table, champion)

    def checked(self, table: pd.DataFrame, champion: Any) -> pd.DataFrame:
        """The champion's columns of ``table``, each unit in time order and long enough for the model."""
        names = champion.inputs.names
        missing = [c for c in names if c not in table.columns]
        if missing:
            raise DataError(
                missing[0], f"column of the champion's inputs is missing from the new data ({len(missing)} missing)"
            )
        if table.empty:
            raise DataError("data", "the new data have no rows")
        for column in names[1:]:
            if not pd.api.types.is_numeric_dtype(table[column]):
                raise DataError(column, "column is not numeric")
        rows = table[names].copy()
        for column in champion.inputs.columns:  # typed as trained (the log keeps every number as a float)
            if column.type == "long" and pd.api.types.is_float_dtype(rows[column.name]):
                values = rows[column.name]
                if (values.dropna() % 1 != 0).any():
                    raise DataError(column.name, "the champion takes whole numbers in this column")
                rows[column.name] = values.astype("int64")
        unit, stamp = champion.unit, champion.time
        rows = rows.sort_values([unit, stamp], kind="stable").reset_index(drop=True)
        for key, g in rows.groupby(unit, sort=False):
            if g[stamp].duplicated().any():
                raise DataError(f"{stamp} (unit {key})", "time repeats within a unit")
            if len(g) < max(2, champion.min_rows):
                raise DataError(
                    f"{unit}={key}", f"{len(g)} rows, fewer than the model's window of {champion.min_rows} steps"
                )
            if g[champion.features].isna().any().any():
                raise DataError(f"{unit}={key}", "feature values are missing; fill or drop them first")
        return rows

    @staticmethod
    def _frames(champion: Any, table: pd.DataFrame | None) -> list[pd.DataFrame]:
        if table is None or table.empty:
            return []
        return [g for _, g in table.groupby(champion.unit, sort=True)]

    def challenger(
        self, champion: Any, adapt: pd.DataFrame, *, reference: pd.DataFrame | None, seed: int, settings: dict[str, Any]
    ) -> tuple[Any, dict[str, Any]]:
        from shopfloor.health_index.pyfunc import HealthIndexPyfunc
        from shopfloor.health_index.selection import unit_arrays

        started = time.perf_counter()
        old = self._frames(champion, reference)
        new = self._frames(champion, adapt)
        arrays = unit_arrays(old + new, champion.features, champion.regimes)
        try:
            model = copy.deepcopy(champion.model).fit(arrays)
        except ValueError as exc:  # a unit too short for the healthy and failed ends, say
            raise DataError("data", f"the {champion.method} health index could not be refitted: {exc}") from exc
        his = [np.asarray(model.transform(x), dtype=float) for x in arrays]
        rul = copy.deepcopy(champion.rul).fit(arrays, his)
        types = {c.name: c.type for c in champion.inputs.columns}
        fitted = HealthIndexPyfunc(
            model,
            champion.features,
            champion.unit,
            champion.time,
            types,
            rul=rul,
            regimes=champion.regimes,
            window=champion.min_rows,
            method=champion.method,
            rul_method=champion.rul_method,
            rul_interval=champion.rul_interval,
        )
        return fitted, {
            "method": f"refit ({champion.method}, remaining life from {champion.rul_method})",
            "units_before": len(old),
            "units_added": len(new),
            "seconds": time.perf_counter() - started,
        }

    def score(self, model: Any, rows: pd.DataFrame) -> dict[str, float]:
        from shopfloor.health_index.selection import at_cuts

        frames = []
        for _, g in rows.groupby(model.unit, sort=True):
            g = g.sort_values(model.time)
            answered = model.predict(None, g[model.inputs.names])
            frames.append(g.assign(**{c: answered[c].to_numpy() for c in answered.columns}))
        if len(frames) < 2:
            raise DataError("data", "scoring a health index needs at least two held-out units")
        found = at_cuts(frames)
        return {**found, "neg_rul_rmse": -found["rul_rmse"]}

    def example(self, rows: pd.DataFrame, model: Any) -> pd.DataFrame:
        first = rows[rows[model.unit] == rows[model.unit].iloc[0]].sort_values(model.time)
        return first[model.inputs.names].head(max(5, model.min_rows))

    def training_rows(self, adapt: str, contract: Any) -> dict[str, Any]:
        """The units the challenger was refitted on: the champion's own (when logged with it) and the adaptation
        units, logged as its reference so the next retraining adds to them again. A new unit whose id is
        already among the champion's is suffixed with the champion's version (``7-v3``)."""
        from shopfloor.registry import REFERENCE, reference_rows

        new = pd.read_parquet(adapt)
        before = reference_rows(contract.version.run_id)
        if before is not None and not before.empty:
            unit, suffix = contract.details["unit"], f"-v{contract.version.version}"
            clash = new[unit].isin(set(before[unit]))
            if clash.any():
                new[unit] = new[unit].astype(str).where(~clash, new[unit].astype(str) + suffix)
                before = before.assign(**{unit: before[unit].astype(str)})
            new = pd.concat([before, new[before.columns]], ignore_index=True)
        out = Path(tempfile.mkdtemp(prefix="shopfloor-reference-")) / "train.parquet"
        new.to_parquet(out, index=False)
        return {REFERENCE: out}
