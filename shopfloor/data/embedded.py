"""The embedded default data sets: what a pipeline runs on when the user gives no table.

Each is simulated once per setting and kept under ``$SHOPFLOOR_HOME/data``, so repeated runs (and the
retraining run that follows a fault-detection run) see the same rows. The models trained on them keep
the default names of ``shopfloor.constants``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from shopfloor import config


def _kept(name: str, make: Callable[[], pd.DataFrame], suffix: str = ".csv") -> Path:
    path = config.home() / "data" / f"{name}{suffix}"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.partial")  # a killed run never leaves half a file behind
        frame = make()
        frame.to_parquet(partial, index=False) if suffix == ".parquet" else frame.to_csv(partial, index=False)
        partial.replace(path)
    return path


def gearbox(rows: int = 3000, seed: int = 0) -> Path:
    """Simulated gearbox units (66 features, ``faulty`` label): fault detection's default."""
    from shopfloor.data.simulate import simulate_gearbox

    return _kept(f"gearbox_{rows}_{seed}", lambda: simulate_gearbox(rows=rows, seed=seed))


def gearbox_after_change(drift: float = 2.0, seed: int = 0) -> Path:
    """1,500 gearbox units after a supplier change: retraining's default batch."""
    from shopfloor.data.simulate import simulate_gearbox

    return _kept(f"gearbox_drift_{drift:g}_{seed}", lambda: simulate_gearbox(rows=1500, seed=100 + seed, drift=drift))


def run_to_failure(units: int = 10, seed: int = 0) -> Path:
    """Simulated bearings run to failure (unit, time, wear, mel bands): the health index's default."""
    from shopfloor.data.simulate import simulate_run_to_failure

    return _kept(f"run_to_failure_{units}_{seed}", lambda: simulate_run_to_failure(units=units, seed=seed))


def milling(cases: int = 8, seed: int = 0) -> Path:
    """Simulated milling cuts (one row per sample, Parquet): anomaly detection's default."""
    from shopfloor.anomaly_detection.simulate import simulate_milling

    return _kept(f"milling_{cases}_{seed}", lambda: simulate_milling(cases=cases, seed=seed), ".parquet")
