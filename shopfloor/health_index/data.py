"""Run-to-failure trajectories from a table with a unit column, a time column and feature columns.

Checks come first, each naming the column or unit at fault: a health index fitted on a unit whose
time runs backwards, or on a trajectory too short to hold its healthy and failed ends, is worse
than no health index.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from shopfloor.constants import SPLITS
from shopfloor.defaults import HEALTH_INDEX
from shopfloor.errors import DataError


@dataclass
class Trajectories:
    units: list
    features: list[str]
    arrays: list[np.ndarray]  # one (T, F) array per unit, in time order
    times: list[np.ndarray]


def load_trajectories(
    table: pd.DataFrame,
    unit: str,
    time: str,
    t_d: float,
    t_f: float,
    features: list[str] | None = None,
    exclude: list[str] | None = None,
    conditions: list[str] | None = None,
    window: int = 0,
) -> Trajectories:
    """Split ``table`` by ``unit``, check each unit, return feature arrays in time order.

    ``t_d``/``t_f`` are steps, or shares of each unit's life when below 1; ``conditions`` name the
    operating-setting columns (not features; they must exist and be numeric); ``window`` is the model's
    rolling window, which every unit must be at least as long as.
    """
    from shopfloor.health_index.prepare import life_steps

    conditions = list(conditions or [])
    for column in (unit, time, *conditions):
        if column not in table.columns:
            kind = "operating-condition column" if column in conditions else "column"
            raise DataError(column, f"{kind} not found; columns are {list(table.columns)[:12]}")
    if features is None:
        features = [c for c in table.columns if c not in {unit, time, *(exclude or []), *conditions}]
    for column in [*features, *conditions]:
        if column not in table.columns:
            raise DataError(column, "feature column not found")
        if not pd.api.types.is_numeric_dtype(table[column]) or pd.api.types.is_bool_dtype(table[column]):
            raise DataError(
                column,
                "feature column is not numeric" if column in features else "operating-condition column is not numeric",
            )
        if table[column].isna().all():
            raise DataError(column, "feature column has only missing values")
    if not pd.api.types.is_numeric_dtype(table[time]):
        raise DataError(time, "time column is not numeric")
    units, arrays, times = [], [], []
    for key, group in table.groupby(unit, sort=True):
        stamps = group[time].to_numpy(float)
        if len(group) < 2:
            raise DataError(f"{unit}={key}", "a unit needs more than one row")
        if np.any(np.diff(stamps) <= 0):
            raise DataError(f"{time} (unit {key})", "time must increase strictly within a unit, in row order")
        need = life_steps(len(group), t_d) + life_steps(len(group), t_f)
        if len(group) < need:
            raise DataError(f"{unit}={key}", f"{len(group)} rows, fewer than T_d + T_f = {need}")
        if len(group) < window:
            raise DataError(f"{unit}={key}", f"{len(group)} rows, shorter than the rolling window of {window}")
        values = group[features].to_numpy(float)
        if np.isnan(values).any():
            raise DataError(f"{unit}={key}", "feature values are missing; fill or drop them first")
        units.append(key)
        arrays.append(values)
        times.append(stamps)
    return Trajectories(units, list(features), arrays, times)


def unit_starts(table: pd.DataFrame, unit: str, time: str) -> pd.Series:
    """Each unit's first time stamp, by unit."""
    return table.groupby(unit, sort=True)[time].min()


def unit_split_mode(split: str, starts: pd.Series) -> str:
    """``random`` or ``time`` for ``split`` (``auto``: time when the units did not all start at the same time)."""
    if split not in SPLITS:
        raise DataError("split", f"must be one of {list(SPLITS)}, got {split!r}")
    if split == "auto":
        return "time" if starts.nunique() > 1 else "random"
    return split


def held_out_units(
    units: list,
    test_fraction: float = HEALTH_INDEX.test_fraction,
    seed: int = HEALTH_INDEX.seed,
    starts: pd.Series | None = None,
) -> set:
    """The units held out for evaluation, a ``test_fraction`` share (at least one of two or more): at random, or
    with ``starts`` (each unit's first time stamp) the ones that started last."""
    n_test = max(1, int(round(test_fraction * len(units)))) if len(units) > 1 else 0
    if not n_test:
        return set()
    if starts is not None:
        ordered = sorted(range(len(units)), key=lambda i: (starts[units[i]], i))  # ties: the table's unit order
        return {units[i] for i in ordered[len(ordered) - n_test :]}
    rng = np.random.default_rng(seed)
    return set(rng.choice(units, size=n_test, replace=False).tolist())


def split_units(
    table: pd.DataFrame,
    unit: str,
    time: str,
    units: list,
    split: str = HEALTH_INDEX.split,
    test_fraction: float = HEALTH_INDEX.test_fraction,
    seed: int = HEALTH_INDEX.seed,
) -> tuple[str, set, str]:
    """(``random`` or ``time``, the held-out units, the split in words): what ingest does and the data check
    shows."""
    starts = unit_starts(table, unit, time)
    mode = unit_split_mode(split, starts)
    held = held_out_units(units, test_fraction, seed, starts if mode == "time" else None)
    how = (
        "the ones that started last; the cross-validation's folds chain forward in order of the units' starts"
        if mode == "time"
        else "at random"
    )
    return mode, held, f"{len(units) - len(held)} units fitted, {len(held)} held out ({how})"
