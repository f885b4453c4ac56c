"""Helpers shared by the benchmarks: JSON output, the AI4I table, a git revision unpacked for comparisons."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"
AI4I = SHARED / "ai4i2020" / "ai4i2020.csv"
AI4I_LABEL = "Machine failure"
AI4I_DROP = ["UDI", "Product ID", "TWF", "HDF", "PWF", "OSF", "RNF"]
AI4I_CATEGORICAL = ["Type"]


def unpack(revision: str, dest: Path) -> Path:
    """The project's files at a git ``revision`` in ``dest`` (for before/after comparisons in one run)."""
    import subprocess

    dest.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest


def champion_home(pipeline: str, homes: Path) -> tuple[Path, float | None]:
    """The data directory holding ``pipeline``'s default champion, trained here with ``shopfloor run PIPELINE``
    and its defaults when it holds none yet (and the seconds that took)."""
    import subprocess
    import sys

    home = homes / pipeline
    if (home / "mlflow.db").exists():
        return home, None
    home.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "SHOPFLOOR_HOME": str(home)}
    env.pop("MLFLOW_TRACKING_URI", None)
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "shopfloor_cli.main", "run", pipeline],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=(home / "train.log").open("w"),
        stderr=subprocess.STDOUT,
    )
    return home, time.perf_counter() - started


def save(name: str, figures: dict[str, Any]) -> Path:
    """Print the figures and write them, with the machine they were measured on, to results/NAME.json."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {
        "benchmark": name,
        "measured_at": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": {"python": platform.python_version(), "processor": platform.machine(), "cpus": os.cpu_count()},
        **figures,
    }
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2, default=float))
    print(json.dumps(payload, indent=2, default=float))
    return path


def mean_sd(values: list[float]) -> dict[str, float]:
    return {"mean": float(np.mean(values)), "sd": float(np.std(values, ddof=1)) if len(values) > 1 else 0.0}
