"""Health index's reading of a user's run-to-failure table, as its ingest step reads it: the unit and time columns,
each sensor's role, the units and their lengths, the operating settings, and the units a run would hold out.
Problems raise ``DataError``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from shopfloor.data.check import ColumnRole, DataCheck, feature_role, file_kind, lengths
from shopfloor.data.ingest import read_table
from shopfloor.defaults import HEALTH_INDEX
from shopfloor.health_index.data import load_trajectories, split_units


def check_units(
    path: str | Path,
    unit: str = HEALTH_INDEX.unit,
    time: str = HEALTH_INDEX.time,
    *,
    t_d: float = HEALTH_INDEX.t_d,
    t_f: float = HEALTH_INDEX.t_f,
    truth: str = "",
    drop: list[str] | None = None,
    conditions: list[str] | None = None,
    window: int = HEALTH_INDEX.window,
    split: str = HEALTH_INDEX.split,
    seed: int = HEALTH_INDEX.seed,
) -> DataCheck:
    table = read_table(path)
    drop, conditions = list(drop or []), list(conditions or [])
    exclude = [c for c in [truth, *drop] if c]
    traj = load_trajectories(table, unit, time, t_d, t_f, exclude=exclude, conditions=conditions, window=window)
    mode, held, words = split_units(table, unit, time, list(traj.units), split, seed=seed)
    report = DataCheck("health-index", str(path), len(table))
    roles = {
        unit: ("unit", "--unit-column: each machine's rows"),
        time: ("time", "--time-column: orders each unit's rows"),
    }
    roles |= {c: ("condition", "--condition: operating setting; sensors standardized per regime") for c in conditions}
    roles |= {c: ("dropped", "--drop") for c in drop}
    if truth:
        roles[truth] = ("truth", "--truth-column: compared with the health index, never learned from")
    for column in table.columns:
        if column in roles:
            report.columns.append(ColumnRole(str(column), *roles[column]))
        else:
            why, doubts = feature_role(table[column], id_fix="--drop it")
            report.columns.append(ColumnRole(str(column), "feature", f"sensor, {why}"))
            report.warnings += doubts
    sizes = np.array([len(a) for a in traj.arrays])
    report.facts = {
        "file": file_kind(path),
        "units": len(traj.units),
        "unit lengths": lengths(sizes),
        "healthy and failed ends": f"first {t_d:g} and last {t_f:g} steps of each unit (shares of its life below 1)",
        **({"operating settings": ", ".join(conditions)} if conditions else {}),
        "summary": [f"{len(traj.units)} units of {lengths(sizes)}"],
    }
    shown = ", ".join(str(u) for u in sorted(held, key=str)[:10]) + (" ..." if len(held) > 10 else "")
    report.split = f"{words}; held out for the report: {shown}"
    if mode == "random" and split == "auto":
        report.warnings.append(
            f"{time}: every unit starts at the same time (cycles counted from each start?), so units are held out "
            "at random; a time column of when units ran would split them in time order"
        )
    short = int((sizes < 2 * window).sum()) if window else 0
    if short:
        report.warnings.append(f"{short} units shorter than twice the rolling window of {window} steps")
    if len(traj.units) < 10:
        report.warnings.append(
            f"only {len(traj.units)} units: the cross-validation across units is a noisy judge below about 10"
        )
    return report
