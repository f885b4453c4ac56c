"""Outcomes: what really happened to a served row (was the part faulty, when did the unit fail, how worn
was the tool), fed back by request id or by business key and stored beside the prediction log.

Storage is append-only: each call writes a file of its own, so two writers at once lose nothing, and a
correction is simply a later row. ``latest_outcomes`` keeps the last one received per request row or key
(last write wins; its ``received`` time says when). Each bad row is named (row number, column, reason) and
left out without dropping the good rows around it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from numbers import Real
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from shopfloor.errors import DataError
from shopfloor.monitoring.store import monitoring_root, outcomes_dir, read_outcomes, read_predictions, write_part

LABEL = "label"


@dataclass
class FeedbackReport:
    """What one feedback call stored and refused."""

    stored: int = 0
    rejected: list[str] = field(default_factory=list)  # "row 3, column 'label': ..." per refused row
    unknown: int = 0  # stored, but no logged prediction has this request id or key (yet)

    def as_dict(self) -> dict[str, Any]:
        return {
            "stored": self.stored,
            "rejected": len(self.rejected),
            "errors": self.rejected[:50],
            "unknown": self.unknown,
        }


def label_parser(labels: Mapping[str, str] | None):
    """How a label value is read: a classifier's 0/1, true/false or one of its two class names (``labels``
    as registered: {"0": healthy name, "1": fault name}); any other model's finite number."""
    names = {str(v): int(k) for k, v in (labels or {}).items()}

    def parse(value: Any) -> float:
        if labels is not None:
            if isinstance(value, bool):
                return float(value)
            if isinstance(value, str) and value in names:
                return float(names[value])
            if isinstance(value, Real) and value in (0, 1):
                return float(value)
            raise ValueError(f"expected 0, 1 or one of {sorted(names)}, got {value!r}"[:120])
        if isinstance(value, bool) or not isinstance(value, Real):
            try:
                value = float(value) if isinstance(value, str) else value
            except ValueError:
                pass
            if isinstance(value, bool) or not isinstance(value, Real):
                raise ValueError(f"not a number: {value!r}"[:120])
        if not math.isfinite(value):
            raise ValueError("NaN and infinite values are not accepted")
        return float(value)

    return parse


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value).strip()
    return text or None


def record_outcomes(
    model: str,
    records: Sequence[Mapping[str, Any]],
    label: str = LABEL,
    key_column: str | None = None,
    labels: Mapping[str, str] | None = None,
    root: Path | None = None,
) -> FeedbackReport:
    """Store the outcomes in ``records`` (each: ``request_id`` and optional ``row``, or ``key_column``; and
    ``label``) for ``model``. Bad rows are named in the report, good ones stored in one new file."""
    root = root or monitoring_root()
    parse = label_parser(labels)
    report, good = FeedbackReport(), []
    received = datetime.now(UTC)
    for i, record in enumerate(records):
        where = f"row {i + 1}"
        request_id = _text(record.get("request_id"))
        key = _text(record.get(key_column)) if key_column else None
        if request_id is None and key is None:
            named = f"'request_id' or '{key_column}'" if key_column else "'request_id'"
            report.rejected.append(f"{where}, column {named}: missing (an outcome needs a request id or a key)")
            continue
        if label not in record:
            report.rejected.append(f"{where}, column '{label}': missing")
            continue
        try:
            value = parse(record[label])
        except ValueError as exc:
            report.rejected.append(f"{where}, column '{label}': {exc}")
            continue
        row = record.get("row", 0)
        if row is None or (isinstance(row, float) and math.isnan(row)):
            row = 0
        if (
            isinstance(row, bool)
            or not isinstance(row, (int, float, np.integer, np.floating))
            or row < 0
            or int(row) != row
        ):
            report.rejected.append(f"{where}, column 'row': expected a row number >= 0, got {row!r}"[:160])
            continue
        good.append({"request_id": request_id, "row": int(row), "key": key, "label": value, "received": received})
    if good:
        table = pa.Table.from_pylist(
            good,
            schema=pa.schema(
                [
                    ("request_id", pa.string()),
                    ("row", pa.int32()),
                    ("key", pa.string()),
                    ("label", pa.float64()),
                    ("received", pa.timestamp("us", tz="UTC")),
                ]
            ),
        )
        write_part(table, outcomes_dir(root, model, received.date()))
        report.stored = len(good)
        report.unknown = _unknown(model, good, root)
    return report


def _unknown(model: str, stored: list[dict], root: Path) -> int:
    logged = read_predictions(model, root=root, inputs=False)
    if logged.empty:
        return len(stored)
    ids, keys = set(logged["request_id"]), set(logged["key"].dropna())
    return sum(1 for s in stored if not (s["request_id"] in ids or (s["key"] is not None and s["key"] in keys)))


def record_file(
    model: str,
    path: str | Path,
    label: str = LABEL,
    key_column: str | None = None,
    labels: Mapping[str, str] | None = None,
    root: Path | None = None,
) -> FeedbackReport:
    """``record_outcomes`` for a CSV or Parquet file of outcomes; a file without an id or key column, or
    without the label column, is a ``DataError`` naming it."""
    from shopfloor.data.ingest import read_table

    table = read_table(path)
    if label not in table.columns:
        raise DataError(label, f"label column not found in {path}; columns are {list(table.columns)[:12]}")
    if "request_id" not in table.columns and (key_column is None or key_column not in table.columns):
        named = f"'request_id' or '{key_column}'" if key_column else "'request_id'"
        raise DataError("request_id", f"{path} has no {named} column to say which prediction each outcome is for")
    records = table.astype(object).where(table.notna(), None).to_dict("records")
    return record_outcomes(model, records, label, key_column, labels, root)


def latest_outcomes(model: str, root: Path | None = None) -> pd.DataFrame:
    """The last outcome received per request row and per key (corrections and late arrivals replace earlier
    ones)."""
    table = read_outcomes(model, root)
    if table.empty:
        return table
    by_id = table[table["request_id"].notna()].drop_duplicates(["request_id", "row"], keep="last")
    by_key = table[table["request_id"].isna()].drop_duplicates(["key"], keep="last")
    return pd.concat([by_id, by_key], ignore_index=True)


def _positions(table: pd.DataFrame, keys: pd.DataFrame) -> np.ndarray:
    """For each row of ``keys`` (request_id, row), the position of the same pair in ``table``, or -1."""

    def pairs(frame: pd.DataFrame) -> pd.MultiIndex:
        return pd.MultiIndex.from_arrays([frame["request_id"].astype(object), frame["row"].astype(np.int64)])

    return pairs(table).get_indexer(pairs(keys))


def _take(times: pd.Series, at: np.ndarray) -> pd.DatetimeIndex:
    """``times`` at the positions ``at``, NaT where a position is -1 (no outcome)."""
    index = pd.DatetimeIndex(times)
    if index.empty:
        return pd.DatetimeIndex([pd.NaT] * len(at), tz=index.tz)
    return index.take(at, allow_fill=True)


def joined(model: str, since: datetime | None = None, root: Path | None = None, inputs: bool = True) -> pd.DataFrame:
    """Logged predictions of ``model`` with their outcome in ``label`` (rows without one left out): an outcome
    by request id matches that request's row; one by key matches every logged row with that key. The outcomes
    are looked up by position and only the answered rows that have one are copied: a merge copied the whole
    log twice (a million logged rows of 66 inputs: 2 GB more at the peak, 13 s)."""
    logged = read_predictions(model, since=since, root=root, inputs=inputs)
    outcomes = latest_outcomes(model, root)
    if logged.empty or outcomes.empty:
        return pd.DataFrame()
    by_id = outcomes[outcomes["request_id"].notna()].reset_index(drop=True)
    where = _positions(by_id, logged[["request_id", "row"]])
    found = where >= 0
    label = np.full(len(logged), np.nan)
    label[found] = by_id["label"].to_numpy(float)[where[found]]
    received = _take(by_id["received"], where)
    by_key = outcomes[outcomes["request_id"].isna()].drop_duplicates("key", keep="last").reset_index(drop=True)
    if not by_key.empty and "key" in logged.columns:
        at = pd.Index(by_key["key"]).get_indexer(logged["key"])
        missing = ~found & (at >= 0)
        if missing.any():
            label[missing] = by_key["label"].to_numpy(float)[at[missing]]
            received = received.where(~missing, _take(by_key["received"], at))
    kept = ~np.isnan(label)
    table = logged if kept.all() else logged[kept].reset_index(drop=True)
    table["label"] = label[kept]  # new columns set in place: ``assign`` would copy the whole log once more
    table["received"] = received[kept]
    return table
