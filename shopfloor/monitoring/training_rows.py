"""Production rows as training rows: what a served model was asked, with what really happened.

The logged inputs of every answer that has an outcome become the table a retraining run would take from a
user's file, so they go through the same checks, split and scoring. Each kind's retrainer
(``shopfloor.kinds``) calls the reader of its own rows:

- classifier: the model's raw columns plus the label column; outcomes written as its registered class names,
  so the minority class stays the fault class whatever the mix of the new rows;
- health index: run-to-failure units (unit, time, conditions, features), each unit's rows once (requests
  resend a unit's history) and only units whose failure is on record (an outcome of 0 steps left);
- anomaly detector: sub-cuts with their cut (the business key, else the request) and label (1: failed tool);
- wear prognosis: wear curves (case, cut, VB): each answered sequence with the wear measured at the next cut,
  the longest per tool (the business key), or per request without a key, where a curve that is the start of
  a longer one is left out.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from shopfloor.data.splitfiles import write_split
from shopfloor.errors import DataError
from shopfloor.monitoring.outcomes import joined
from shopfloor.monitoring.store import INPUT, monitoring_root

LIFE_LEFT = "life_left"  # a health index's outcome: steps the unit still ran after the answer


def _with_outcomes(model: str, since: datetime | None, root: Path | None, column: str | None = None) -> pd.DataFrame:
    """Answered rows of ``model`` with their outcome and inputs; ``DataError`` when there are none (or none with
    an input ``column``)."""
    table = joined(model, since=since, root=root)
    if not table.empty and "role" in table.columns and (table["role"] == "shadow").any():
        table = table[table["role"] != "shadow"]  # a shadow answer repeats a request already on record
    if table.empty or (column is not None and column not in table.columns):
        raise DataError(
            "data",
            f"no answers of {model} with an outcome in the prediction log under "
            f"{root or monitoring_root()}: feed outcomes back first (shopfloor feedback)",
        )
    return table


def labelled_log(
    model: str,
    features: list[str],
    label: str,
    labels: dict[str, str] | None = None,
    since: datetime | None = None,
    root: Path | None = None,
) -> pd.DataFrame:
    """The answered rows of ``model`` that have an outcome, as ``features`` + ``label``; ``DataError`` when
    there are none or the log lacks a feature (rows logged by a model with other columns)."""
    table = _with_outcomes(model, since, root)
    missing = [f for f in features if INPUT + f not in table.columns]
    if missing:
        raise DataError(
            missing[0],
            f"the logged answers of {model} have no column {missing[0]!r} (logged by a version with other inputs)",
        )
    rows = table.reindex(columns=[INPUT + f for f in features])
    rows.columns = features  # renamed in place: one copy of the inputs, not three
    logged = rows.notna().all(axis=1).to_numpy()  # versions with fewer columns left out
    # a classifier's 0/1 outcomes as its own class names; any other outcome (a life left, a wear) as it came
    rows[label] = table["label"].astype(int).map({int(k): v for k, v in labels.items()}) if labels else table["label"]
    return rows if logged.all() else rows[logged].reset_index(drop=True)


def run_to_failure_log(
    model: str, columns: list[str], unit: str, time: str, since: datetime | None = None, root: Path | None = None
) -> pd.DataFrame:
    """The logged rows of the units whose failure is on record, each (unit, time) once, in the champion's
    ``columns``; ``DataError`` when no unit's failure is."""
    rows = labelled_log(model, columns, LIFE_LEFT, since=since, root=root)
    rows = rows.drop_duplicates([unit, time], keep="last")
    failed = rows.groupby(unit)[LIFE_LEFT].transform("min") <= 0
    if not failed.any():
        raise DataError(
            "data",
            f"no unit of {model} has its failure on record (an outcome of 0 steps left) "
            f"among {rows[unit].nunique()} unit(s) with outcomes",
        )
    kept = rows[failed & (rows[LIFE_LEFT] >= 0)]
    return kept[columns].sort_values([unit, time], kind="stable").reset_index(drop=True)


def answered_rows(model: str, since: datetime | None, root: Path | None) -> pd.DataFrame:
    """Answered rows with an outcome and their input, each request row once, with the group they belong to:
    the business key, else the request."""
    table = _with_outcomes(model, since, root, column="input").drop_duplicates(["request_id", "row"], keep="last")
    key = table["key"] if "key" in table.columns else pd.Series(None, index=table.index, dtype=object)
    return table.assign(group=key.where(key.notna(), table["request_id"]).astype(str))


def labelled_windows(model: str, since: datetime | None = None, root: Path | None = None) -> pd.DataFrame:
    """Logged sub-cuts with their cut and outcome (columns ``cut``, ``label``, ``subcut``)."""
    table = answered_rows(model, since, root)
    return pd.DataFrame(
        {
            "cut": table["group"].to_numpy(),
            "label": table["label"].to_numpy(float),
            "subcut": [[list(step) for step in w] for w in table["input"]],
        }
    )


def wear_curves(model: str, since: datetime | None = None, root: Path | None = None) -> pd.DataFrame:
    """Logged wear sequences, each with the wear measured at the next cut, as a wear table (case, cut, VB)."""
    table = answered_rows(model, since, root)
    curves: dict[Any, tuple[float, ...]] = {}
    for group, sequence, measured in zip(table["group"], table["input"], table["label"], strict=True):
        curve = (*map(float, sequence), float(measured))
        if len(curve) > len(curves.get(group, ())):
            curves[group] = curve
    starts = {c[:n] for c in curves.values() for n in range(1, len(c))}
    kept = {g: c for g, c in curves.items() if c not in starts}
    return pd.DataFrame([{"case": g, "cut": i + 1, "VB": v} for g, c in kept.items() for i, v in enumerate(c)])


def write_training_rows(model: str, table: pd.DataFrame, root: Path | None = None, answer_order: bool = False) -> Path:
    """New rows taken from the log (a kind's retrainer's ``log_rows``) written as Parquet under the monitoring
    folder: the file a retraining run reads; ``answer_order``: the rows are as answered, oldest first, which the
    file's metadata then says (a retraining holds out the latest)."""
    out = (root or monitoring_root()) / "training" / f"{model}-{datetime.now().strftime('%Y%m%dT%H%M%S%f')}.parquet"
    write_split(table, out, order="time" if answer_order else "random", split="as answered" if answer_order else "")
    return out
