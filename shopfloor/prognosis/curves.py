"""Measured wear curves: one per case (one tool), from the milling labels or from a user's table.

A table has a case column, a wear column and optionally a cut column that orders the measurements
(row order otherwise). Missing wear values inside a case are filled by linear interpolation between the
measured neighbours, as Russell and Wang do (the nearest measurement at a case's ends). Checks, each a named
``DataError``: the columns exist; the wear column is numeric; no wear value is negative or above
``MAX_WEAR``; no case's wear decreases at every step; some case has two measured values or more (cases
with fewer are left out with a ``CurveWarning`` naming them: the milling data's case 6 has one cut).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from shopfloor.errors import DataError

#: A physical bound on flank wear in mm: a tool is scrapped long before (the data set's worst is 1.53 mm).
MAX_WEAR = 3.0
MIN_VALUES = 2


class CurveWarning(UserWarning):
    """Cases left out of a wear table, named in the message."""


def check_sequence(values: Sequence[float], field: str = "wear") -> np.ndarray:
    """One observed wear sequence as the model takes it: at least two finite values in [0, MAX_WEAR]."""
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1 or len(array) < MIN_VALUES:
        raise DataError(field, f"a wear sequence needs at least {MIN_VALUES} values, got {array.size}", "too_short")
    bad = ~np.isfinite(array)
    if bad.any():
        raise DataError(f"{field}[{int(np.argmax(bad))}]", "NaN and infinite values are not accepted", "non_finite")
    if (array < 0).any():
        i = int(np.argmax(array < 0))
        raise DataError(f"{field}[{i}]", f"wear cannot be negative, got {array[i]:g} mm", "out_of_range")
    if (array > MAX_WEAR).any():
        i = int(np.argmax(array > MAX_WEAR))
        raise DataError(
            f"{field}[{i}]",
            f"{array[i]:g} mm is above the physical bound of {MAX_WEAR:g} mm of flank wear (values in mm?)",
            "out_of_range",
        )
    return array


def load_curves(
    table: str | Path | pd.DataFrame, case: str = "case", wear: str = "VB", cut: str | None = None
) -> dict[object, np.ndarray]:
    """{case: wear values in cut order} with gaps interpolated; every check named (see the module)."""
    from shopfloor.data.ingest import read_table

    frame = table if isinstance(table, pd.DataFrame) else read_table(table)
    for column, option in (
        (case, "--case-column"),
        (wear, "--wear-column"),
        *([(cut, "--time-column")] if cut else []),
    ):
        if column not in frame.columns:
            raise DataError(
                column, f"no column named {column!r} in the table; name it with {option}", "missing_feature"
            )
    if not pd.api.types.is_numeric_dtype(frame[wear]):
        raise DataError(wear, f"the wear column is not numeric (dtype {frame[wear].dtype})", "non_numeric")
    out: dict[object, np.ndarray] = {}
    short: list[str] = []
    for key, group in frame.groupby(case, sort=True):
        g = group.sort_values(cut, kind="stable") if cut else group
        values = g[wear].to_numpy(np.float64)
        known = np.isfinite(values)
        where = f"{case}={key}"
        if known.sum() < MIN_VALUES:
            short.append(f"{key} ({int(known.sum())} measured)")
            continue
        idx = np.arange(len(values))
        filled = np.interp(idx, idx[known], values[known])
        check_sequence(filled, where)
        steps = np.diff(filled)
        if (steps < 0).all():
            raise DataError(
                where,
                "wear decreases at every cut: is the column the remaining tool life, or in "
                "reverse order? (--time-column orders the rows)",
                "decreasing",
            )
        out[key] = filled
    if short:
        warnings.warn(
            CurveWarning(f"left out {len(short)} case(s) with fewer than {MIN_VALUES} wear values: {', '.join(short)}"),
            stacklevel=2,
        )
    if not out:
        raise DataError(case, "no case has two or more wear values" if short else "the table has no rows", "empty")
    return out


def select(curves: dict[object, np.ndarray], keys: Sequence[object], field: str) -> dict[object, np.ndarray]:
    """The curves of the named cases; a case that is not there is a named error."""
    out = {}
    for key in keys:
        match = next((k for k in curves if str(k) == str(key)), None)
        if match is None:
            raise DataError(field, f"no case {key!r} in the table (cases: {', '.join(map(str, list(curves)[:12]))})")
        out[match] = curves[match]
    return out


def evaluation_curves(
    data: str | pd.DataFrame,
    case: str,
    wear: str,
    cut: str,
    valid_cases: list[str],
    test_cases: list[str],
    seed: int = 0,
) -> dict[str, dict[object, np.ndarray]]:
    """{split: {case: curve}}: from the table (a file, or one already read; the named validation and test cases;
    all cases as "test" when none are named), or six simulated tools (three validation, three test) without one."""
    from shopfloor.prognosis import wear_model

    if isinstance(data, str) and not data:
        table = wear_model.wear_table(cases=6, seed=seed + 1000)
        curves = load_curves(table, "case", "VB", "cut")
        keys = list(curves)
        return {"valid": {k: curves[k] for k in keys[:3]}, "test": {k: curves[k] for k in keys[3:]}}
    curves = load_curves(data, case, wear, cut or None)
    if not valid_cases and not test_cases:
        return {"test": curves}
    out = {}
    if valid_cases:
        out["valid"] = select(curves, valid_cases, "valid-cases")
    if test_cases:
        out["test"] = select(curves, test_cases, "test-cases")
    return out
