"""Fault detection's reading of a user's table, as its ingest step reads it: the label and its faulty value, each
column's role, the time column and the split a run would make. Problems raise ``DataError``."""

from __future__ import annotations

from pathlib import Path

from shopfloor.data import ingest as ing
from shopfloor.data.check import ColumnRole, DataCheck, balance, feature_role, file_kind, span
from shopfloor.defaults import FAULT_DETECTION


def check_table(
    path: str | Path,
    label: str = FAULT_DETECTION.label,
    *,
    positive: str = FAULT_DETECTION.positive,
    drop: list[str] | None = None,
    categorical: list[str] | None = None,
    key_column: str = "",
    time_column: str = FAULT_DETECTION.time_column,
    split: str = FAULT_DETECTION.split,
    test_size: float = 0.2,
    valid_size: float = 0.2,
    seed: int = FAULT_DETECTION.seed,
) -> tuple[DataCheck, ing.LabelledTable, ing.Splits]:
    """The check of ``path``, the table prepared as a run prepares it, and the split a run would make."""
    raw = ing.read_table(path)
    ing.check_key_column(raw, key_column, label)
    mode = ing.split_mode(split, time_column)
    times = ing.time_values(raw, time_column) if time_column else None
    drop = list(drop or [])
    data = ing.prepare(
        raw,
        label,
        drop=[*drop, *([key_column] if key_column else []), *([time_column] if time_column else [])],
        categorical=categorical,
        positive=positive,
    )
    splits = ing.split(
        data, test_size, valid_size, seed=seed, times=times if mode == "time" else None, time_column=time_column
    )
    report = DataCheck("fault-detection", str(path), len(raw), split=splits.describe())
    for column in raw.columns:
        name = str(column)
        if name == label:
            role = ColumnRole(name, "label", f"{data.positive_label!r} is faulty, every other value is not")
        elif name == key_column:
            role = ColumnRole(name, "id", "--key-column: not a feature; the server logs it with each answer")
        elif name == time_column:
            role = ColumnRole(name, "time", f"--time-column: orders the {mode} split; not a feature")
        elif name in drop:
            role = ColumnRole(name, "dropped", "--drop")
        elif name in data.categorical:
            values = data.features[name].nunique()
            role = ColumnRole(name, "categorical", f"--categorical: {values} values, one-hot inside the model")
        else:
            why, doubts = feature_role(data.features[name])
            role = ColumnRole(name, "feature", why)
            report.warnings += doubts
        report.columns.append(role)
    faulty = int(data.label.sum())
    report.facts = {
        "file": file_kind(path),
        "label": ing.positive_summary(data, label, positive),
        "classes": balance(raw[label].astype(str)),
        **({"time span": span(times)} if times is not None else {}),
        "summary": [f"{faulty} faulty ({data.positive_label!r}, {faulty / len(data.label):.1%})"],
    }
    if time_column and mode == "random":
        report.warnings.append(
            f"{time_column}: a time column is named but the split is random: the test rows come from the weeks "
            "the model learns from, and overstate what it will do next month"
        )
    if times is None and mode == "random":
        looks_like_time = [c for c in data.features.columns if "time" in c.lower() or "date" in c.lower()]
        if looks_like_time:
            report.warnings.append(
                f"{looks_like_time[0]}: looks like a time column; name it with --time-column so that the split "
                "follows time"
            )
    return report, data, splits
