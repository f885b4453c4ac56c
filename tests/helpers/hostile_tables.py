"""Hostile but legitimate plant tables: each column kind that real exports hold and that tends to break tools.

``corpus()`` gives (name, table, ingest options, expected): ``expected`` is ``"trains"`` or the message of the
named error ingest must raise (in a second, before anything is trained).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

LABEL = "fault"


def base(rows: int = 400, faulty: int = 40, seed: int = 0) -> pd.DataFrame:
    """Three informative measurements and the label (``faulty`` rows of class 1)."""
    rng = np.random.default_rng(seed)
    y = np.zeros(rows, dtype=int)
    y[rng.choice(rows, faulty, replace=False)] = 1
    return pd.DataFrame(
        {
            "pressure": rng.normal(10 + 2 * y, 1.0),
            "torque": rng.normal(50 - 5 * y, 3.0),
            "temp": rng.normal(70 + y, 2.0),
            LABEL: y,
        }
    )


def corpus() -> list[tuple[str, pd.DataFrame, dict, str]]:
    rng = np.random.default_rng(1)
    t = base()
    n = len(t)
    wide = pd.concat(
        [base(), pd.DataFrame(rng.normal(0, 1, (n, 147)), columns=[f"m{k:03d}" for k in range(147)])], axis=1
    )
    half_missing = base().assign(humidity=np.where(rng.random(n) < 0.5, np.nan, rng.normal(40, 5, n)))
    return [
        ("unique numeric column", t.assign(x_mm=rng.permutation(n) * 0.731 + 0.1), {}, "trains"),
        ("unique string id", t.assign(serial=[f"SN-{i:06d}" for i in range(n)]), {"drop": ["serial"]}, "trains"),
        (
            "unique string id, not dropped",
            t.assign(serial=[f"SN-{i:06d}" for i in range(n)]),
            {},
            "serial: feature column is not numeric",
        ),
        ("constant column", t.assign(line=3.0), {}, "trains"),
        ("two-valued column", t.assign(shift=rng.integers(0, 2, n).astype(float)), {}, "trains"),
        ("integers stored as floats", t.assign(cycles=rng.integers(0, 500, n).astype(float)), {}, "trains"),
        (
            "boolean as strings",
            t.assign(coolant_on=rng.choice(["True", "False"], n)),
            {"categorical": ["coolant_on"]},
            "trains",
        ),
        ("half a column missing", half_missing, {}, "trains"),
        ("150 columns", wide, {}, "trains"),
        ("10 faulty rows", base(rows=400, faulty=10, seed=2), {}, "trains"),
        ("9 faulty rows", base(rows=400, faulty=9, seed=2), {}, "fault: only 9 minority rows"),
        (
            "high-cardinality category",
            t.assign(tool=[f"T{k}" for k in rng.integers(0, 120, n)]),
            {"categorical": ["tool"]},
            "trains",
        ),
        (
            "unicode and spaces in names",
            t.rename(columns={"pressure": "Druck [bar] ü", "temp": "temp °C (zone 1)"}),
            {},
            "trains",
        ),
    ]
