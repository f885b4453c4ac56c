"""Anomaly detection's reading of a user's signal table (or NASA's mill.mat), as its ingest step reads it: the cut
column, the signals, the cuts left out and why, the tool classes, the sub-cut windows and the split a run would
make. Problems raise ``DataError``."""

from __future__ import annotations

import warnings
from pathlib import Path

from shopfloor.anomaly_detection import data as milling
from shopfloor.data.check import ColumnRole, DataCheck
from shopfloor.defaults import ANOMALY_DETECTION

CLASS_NAMES = {0: "healthy", 1: "degraded", 2: "failed"}


def check_signals(
    path: str | Path,
    cut_column: str = ANOMALY_DETECTION.cut_column,
    *,
    signals: list[str] | None = None,
    labels: str = "",
    window: int = ANOMALY_DETECTION.window,
    stride: int = ANOMALY_DETECTION.stride,
    split: str = ANOMALY_DETECTION.split,
    time_column: str = ANOMALY_DETECTION.time_column,
    seed: int = ANOMALY_DETECTION.seed,
) -> DataCheck:
    split = milling.split_protocol(split, time_column)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", milling.MillingDataWarning)
        loaded = milling.load(
            path, cut_column=cut_column, signals=signals or None, labels=labels or None, time_column=time_column
        )
        cuts = milling.validate(loaded)
    sub = milling.subcuts(cuts, window=window, stride=stride)
    parts = milling.split(sub, split, seed=seed, time_column=time_column)
    report = DataCheck("anomaly-detection", str(path), int(sum(len(s) for s in loaded.signals)), counted="samples")
    report.columns.append(ColumnRole(cut_column, "id", "--cut-column: names each sample's cut"))
    if time_column:
        report.columns.append(ColumnRole(time_column, "time", "--time-column: when each cut was made (its first)"))
    for name in cuts.signal_names:
        report.columns.append(ColumnRole(name, "feature", "signal, cut into windows"))
    for column in cuts.cuts.columns:
        if column in ("VB", "tool_class"):
            report.columns.append(ColumnRole(str(column), "label", "tool class: VB < 0.2 healthy, < 0.7 degraded"))
    for dropped in caught:
        if issubclass(dropped.category, milling.MillingDataWarning):
            report.left_out[str(dropped.message)] = len(loaded) - len(cuts)
    classes = cuts.cuts["tool_class"].dropna().astype(int).value_counts().sort_index()
    report.facts = {
        "cuts": f"{len(cuts)} valid of {len(loaded)}",
        "tool classes (cuts)": {CLASS_NAMES.get(int(k), str(k)): int(v) for k, v in classes.items()},
        "sub-cuts": f"{len(sub)} windows of {window} samples every {stride}",
        "summary": [f"{len(cuts)} cuts, {len(sub)} windows, {int(sub.failed.sum())} of a failed tool"],
    }
    sizes = {name: len(index) for name, index in parts.items()}
    failed = {name: int(sub.failed[index].sum()) for name, index in parts.items()}
    report.split = f"{split}: " + ", ".join(f"{n} {sizes[n]} windows ({failed[n]} failed)" for n in sizes)
    if not failed["valid"]:
        report.warnings.append("no failed-tool window in validation: the threshold cannot be chosen on it")
    if 0 not in classes.index:
        report.warnings.append("no healthy cut: the detectors learn from healthy windows only")
    return report
