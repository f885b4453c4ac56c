"""The cluster's parts on one machine, measured: the fault-detection pipeline end to end against an MLflow server
on PostgreSQL vs the embedded SQLite store (same run, ratio); two Optuna tuning workers (processes sharing one
study in PostgreSQL, as two pods would) vs one on the same trial budget (wall-time ratio, best loss); the
image's size and build time (when a Docker daemon answers).

    .venv/bin/python benchmarks/cluster_path.py [--parts pipeline,tuning,image]

A run of some parts keeps the other parts' figures from the last saved JSON.

Both pipeline runs use the default settings (`make demo`'s run) in a fresh data directory each, one after
the other, with nothing else running. Tuning workers use one torch thread each (a 1-CPU pod each).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).parent))
from common import RESULTS, save  # noqa: E402
from fault_detection_e2e import run  # noqa: E402

from shopfloor.platform.mlflow_server import postgres_mlflow  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TRIALS = 8
MAX_STEPS = 1500


def pipeline(tracking_uri: str | None) -> dict:
    result = run(tracking_uri=tracking_uri)
    return {k: result[k] for k in ("wall_seconds", "alias", "steps")}


WORKER = """
import sys, json, time, torch
torch.set_num_threads(1)
started = time.perf_counter()
from shopfloor.data.simulate import simulate_gearbox
from shopfloor.synth.tuning import Objective, factory_for, space_for, tune
storage, study, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
rows = simulate_gearbox(rows=3000, seed=0)
faults = rows[rows["faulty"] == 1].drop(columns=["faulty"]).reset_index(drop=True)
fit, held = faults.iloc[: len(faults) * 3 // 4], faults.iloc[len(faults) * 3 // 4:]
result = tune(fit, space_for("wgan", int(sys.argv[5])), factory_for("wgan", 0), Objective("fidelity", held),
              n_trials=n, timeout=None, storage=storage, study_name=study, seed=int(sys.argv[4]), progress=False,
              refit=False)
print(json.dumps({"tuning_seconds": time.perf_counter() - started}))
"""


def tuning(storage: str, workers: int) -> dict:
    import optuna

    study = f"workers-{workers}-{time.time_ns()}"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    start = time.perf_counter()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, storage, study, str(TRIALS // workers), str(1000 * seed), str(MAX_STEPS)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for seed in range(workers)
    ]
    inside = []
    for proc in procs:
        out, err = proc.communicate()
        if proc.returncode != 0:
            sys.exit(err[-3000:])
        inside.append(json.loads(out.strip().splitlines()[-1])["tuning_seconds"])
    wall = time.perf_counter() - start
    trials = optuna.load_study(study_name=study, storage=storage).trials
    numbers = [t.number for t in trials]
    done = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    return {
        "workers": workers,
        "trials": len(trials),
        "complete": len(done),
        "distinct_trial_numbers": len(set(numbers)) == len(numbers),
        "pruned": sum(t.state == optuna.trial.TrialState.PRUNED for t in trials),
        "best_fidelity_loss": round(min(t.value for t in done), 4),
        "wall_seconds": round(wall, 1),
        "slowest_worker_tuning_seconds": round(max(inside), 1),
    }


def image() -> dict | None:
    if subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        return None
    base = os.environ.get("SHOPFLOOR_BASE_IMAGE", "shopfloor-base:bookworm")
    tag = "shopfloor-python:benchmark"
    start = time.perf_counter()
    wheels = subprocess.run(["make", "wheelhouse"], cwd=ROOT, capture_output=True, text=True)
    wheelhouse = time.perf_counter() - start
    start = time.perf_counter()
    built = subprocess.run(
        ["docker", "build", "--no-cache", "--build-arg", f"BASE_IMAGE={base}", "-t", tag, "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    build = time.perf_counter() - start
    if wheels.returncode or built.returncode:
        sys.exit(wheels.stderr[-2000:] + built.stderr[-3000:])
    size = int(
        subprocess.run(
            ["docker", "image", "inspect", tag, "--format", "{{.Size}}"], capture_output=True, text=True
        ).stdout
    )
    base_size = int(
        subprocess.run(
            ["docker", "image", "inspect", base, "--format", "{{.Size}}"], capture_output=True, text=True
        ).stdout
    )
    wheel_bytes = sum(p.stat().st_size for p in (ROOT / "wheelhouse").glob("*.whl"))
    return {
        "base_image": base,
        "base_bytes": base_size,
        "image_bytes": size,
        "image_gib": round(size / 2**30, 2),
        "wheelhouse_bytes": wheel_bytes,
        "wheelhouse_seconds": round(wheelhouse, 1),
        "build_seconds_no_cache": round(build, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--parts", default="pipeline,tuning,image")
    parts = set(parser.parse_args().parts.split(","))
    previous = RESULTS / "cluster_path.json"
    result = {
        k: v
        for k, v in (json.loads(previous.read_text()) if previous.exists() else {}).items()
        if k in ("pipeline", "tuning", "image")
    }
    with tempfile.TemporaryDirectory() as root:
        with postgres_mlflow(Path(root)) as (url, pg):
            if "pipeline" in parts:
                sqlite, server = pipeline(None), pipeline(url)
                result["pipeline"] = {
                    "sqlite": sqlite,
                    "mlflow_server_postgres": server,
                    "ratio_server_over_sqlite": round(server["wall_seconds"] / sqlite["wall_seconds"], 2),
                }
            if "tuning" in parts:
                one, two = tuning(pg.uri("optuna"), 1), tuning(pg.uri("optuna"), 2)
                result["tuning"] = {
                    "trial_budget": TRIALS,
                    "max_steps": MAX_STEPS,
                    "one_worker": one,
                    "two_workers": two,
                    "wall_ratio_two_over_one": round(two["wall_seconds"] / one["wall_seconds"], 2),
                }
    if "image" in parts:
        result["image"] = image()
    save("cluster_path", result)


if __name__ == "__main__":
    main()
