"""What a pipeline will make of a user's file, before any training: ``shopfloor data check`` prints it, and every
``shopfloor run`` prints its one-line summary first. Each pipeline's package reads the file as its run would
(``shopfloor.<pipeline>.check``) and fills a ``DataCheck``; problems are ``DataError``s (exit 2), doubts are
warnings (exit 0).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROLES = ("feature", "categorical", "id", "time", "unit", "label", "condition", "truth", "dropped")


@dataclass
class ColumnRole:
    name: str
    role: str  # one of ROLES
    why: str


@dataclass
class DataCheck:
    """A pipeline's reading of one file: each column's role and why, what is left out and why, facts (label values,
    balance, units, time span...), the split a run would make, and warnings."""

    pipeline: str
    path: str
    rows: int
    counted: str = "rows"  # what ``rows`` counts: rows of a table, samples of signals, images
    columns: list[ColumnRole] = field(default_factory=list)
    left_out: dict[str, int] = field(default_factory=dict)  # why -> rows, cuts or cases left out
    facts: dict[str, Any] = field(default_factory=dict)
    split: str = ""
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line: what a run will learn from."""
        roles = pd.Series([c.role for c in self.columns]).value_counts() if self.columns else pd.Series(dtype=int)
        described = ", ".join(f"{n} {role}" for role, n in roles.items())
        dropped = sum(self.left_out.values())
        parts = [f"data check: {self.rows} {self.counted}", described, *(str(v) for v in self.facts.get("summary", []))]
        if dropped:
            parts.append(f"{dropped} left out")
        if self.split:
            parts.append(f"split {self.split}")
        if self.warnings:
            parts.append(f"{len(self.warnings)} warning(s): shopfloor data check shows them")
        return "; ".join(p for p in parts if p)

    def text(self) -> str:
        """The whole report, for people."""
        lines = [f"{self.pipeline} reads {self.path}: {self.rows} {self.counted}"]
        if self.columns:
            width = max(len(c.name) for c in self.columns)
            lines += ["", "columns:"] + [f"  {c.name:<{width}}  {c.role:<11}  {c.why}" for c in self.columns]
        lines += ["", "left out:"]
        lines += [f"  {why}" for why in self.left_out] or ["  none"]
        facts = {k: v for k, v in self.facts.items() if k != "summary"}
        if facts:
            lines += ["", "facts:"] + [f"  {k}: {_shown(v)}" for k, v in facts.items()]
        if self.split:
            lines += ["", f"split: {self.split}"]
        lines += ["", "warnings:"] + ([f"  {w}" for w in self.warnings] or ["  none"])
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["summary"] = self.summary()
        return out


def _shown(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def feature_role(values: pd.Series, id_fix: str = "name it with --key-column or --drop it") -> tuple[str, list[str]]:
    """(why, warnings) for a numeric feature column: its type and missing share, and doubts a practitioner would
    raise (constant; every value distinct and in order, like a row number or an id: ``id_fix`` says what to do, in
    the pipeline's options)."""
    missing = float(values.isna().mean())
    kind = "boolean" if pd.api.types.is_bool_dtype(values) else "numeric"
    why = kind + (f", {missing:.0%} missing (filled with the training median)" if missing else "")
    doubts = []
    present = values.dropna()
    if present.nunique() <= 1:
        doubts.append(f"{values.name}: constant, it carries nothing; --drop it")
    elif (
        pd.api.types.is_integer_dtype(present)
        and present.is_unique
        and len(present) > 20
        and (present.is_monotonic_increasing or present.is_monotonic_decreasing)
    ):
        doubts.append(f"{values.name}: every value distinct and in order, like a row number or an id; {id_fix}")
    if missing > 0.5:
        doubts.append(f"{values.name}: {missing:.0%} missing")
    return why, doubts


def file_kind(path: str | Path) -> str:
    """How the file is read: Parquet, or CSV with its encoding and separator (``ingest.csv_options``)."""
    from shopfloor.data.ingest import csv_options

    path = Path(path)
    if path.suffix.lower() in {".parquet", ".pq"}:
        return "Parquet"
    options = csv_options(path)
    encoding = {"utf-8-sig": "UTF-8", "cp1252": "Windows-1252 (not UTF-8)"}[options["encoding"]]
    decimal = ", decimal comma" if options.get("decimal") == "," else ""
    return f"CSV, {encoding}, separator {options['sep']!r}{decimal}"


def balance(label: pd.Series) -> dict[str, str]:
    counts = label.value_counts()
    return {str(k): f"{int(v)} ({v / len(label):.1%})" for k, v in counts.items()}


def span(times: pd.Series) -> str:
    first, last = times.min(), times.max()
    if isinstance(first, pd.Timestamp):
        return f"{first:%Y-%m-%d %H:%M:%S} .. {last:%Y-%m-%d %H:%M:%S} ({last - first})"
    return f"{first:g} .. {last:g}"


def lengths(sizes: np.ndarray) -> str:
    return f"{int(sizes.min())} .. {int(sizes.max())} rows (median {float(np.median(sizes)):g})"
