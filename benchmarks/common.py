"""Helpers shared by the benchmarks: JSON output, the AI4I table, the fault-detection steps in-process."""

from __future__ import annotations

import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from shopfloor import fault_detection as fd

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


def save(name: str, figures: dict[str, Any]) -> Path:
    """Print the figures and write them, with the machine they were measured on, to results/NAME.json."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {"benchmark": name, "measured_at": time.strftime("%Y-%m-%d %H:%M:%S"),
               "machine": {"python": platform.python_version(), "processor": platform.machine(),
                           "cpus": os.cpu_count()}, **figures}
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2, default=float))
    print(json.dumps(payload, indent=2, default=float))
    return path


def run_steps(data: Path, label: str, seed: int, *, n_trials: int, timeout: float, max_epochs: int = 300,
              drop: list[str] | None = None, categorical: list[str] | None = None,
              synthesizers: tuple[str, ...] = ("wgan",), filter_method: str = "kmeans",
              keep: Path | None = None) -> dict[str, Any]:
    """ingest -> synthesize -> filter (per synthesizer) -> train on one split seed, in this process.

    Returns the train summary plus each synthesizer's tuning info and filter info. With ``keep``, the
    working files (fitted synthesizers included) stay in that folder.
    """
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(keep or tmp)
        root.mkdir(parents=True, exist_ok=True)
        p = {k: str(root / k) for k in ("train", "valid", "test", "pre", "models", "report", "cm.png")}
        fd.ingest_step(str(data), label, train=p["train"], valid=p["valid"], test=p["test"], preprocessing=p["pre"],
                       drop=drop, categorical=categorical, seed=seed)
        infos, filters, kept = {}, {}, {}
        for name in synthesizers:
            infos[name] = fd.synthesize_step(p["train"], p["valid"], p["pre"], synthesizer=name,
                                             synthesizer_dir=str(root / name), candidates=str(root / f"{name}.cand"),
                                             n_trials=n_trials, timeout=timeout, storage=None,
                                             study_name=f"bench-{seed}", max_epochs=max_epochs, seed=seed,
                                             progress=False)
            kept[name] = str(root / f"{name}.kept")
            filters[name] = fd.filter_step(p["train"], p["pre"], str(root / f"{name}.cand"), kept=kept[name],
                                           plot=str(root / f"{name}.pca.png"), method=filter_method, seed=seed,
                                           synthesizer=name)
        summary = fd.train_step(p["train"], p["valid"], p["test"], p["pre"], kept, models_dir=p["models"],
                                report=p["report"], plot=p["cm.png"], seed=seed)
    return {**summary, "synthesizers": infos, "filters": filters}


def mean_sd(values: list[float]) -> dict[str, float]:
    return {"mean": float(np.mean(values)), "sd": float(np.std(values, ddof=1)) if len(values) > 1 else 0.0}
