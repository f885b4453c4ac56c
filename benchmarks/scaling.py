"""How a default run's cost grows with the data, and what the time budget does to it.

Fault detection on the gearbox simulator at several sizes (default 3,000 / 30,000 / 300,000 rows) and the health
index on simulated run-to-failure fleets (default 100 / 1,000 units), each as a user runs it: ``shopfloor run
PIPELINE --data FILE`` with its default budget, in a data directory of its own. Per run: wall time per step and in
all, peak RSS per step (each step is a process), the chosen model and its test figure (fault detection: test F2;
health index: Spearman of the HI with the life left on held-out units), and what the budget left out. With
``--beside``, each step of a default fault-detection run alone against the same run started beside a default
health-index run (same machine, same run of this script; the ratio per step, fair share being 2x).

    .venv/bin/python benchmarks/scaling.py                        # all sizes (about an hour on 2 cores)
    .venv/bin/python benchmarks/scaling.py --rows 3000,30000 --units 100 --beside
    .venv/bin/python benchmarks/scaling.py --rows 3000 --budget 0  # unbounded, for the comparison
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

sys.path.insert(0, str(Path(__file__).parent))
from common import save  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHOPFLOOR = [sys.executable, "-m", "shopfloor_cli.main"]
RESULT = "scaling"


def _events(home: Path) -> list[dict]:
    """The step events of the latest run in ``home``."""
    runs = sorted((home / "runs").glob("*/events.jsonl"), key=lambda p: p.stat().st_mtime)
    lines = runs[-1].read_text().splitlines() if runs else []
    return [e for e in map(json.loads, lines) if e.get("event") == "step"]


def start(
    pipeline: str, data: Path | None, home: Path, extra: list[str], model: str | None = None
) -> tuple[subprocess.Popen, float]:
    """``shopfloor run PIPELINE`` on ``data`` (None: the pipeline's own source, as ``--from-log``) in ``home``."""
    env = {**os.environ, "SHOPFLOOR_HOME": str(home)}
    env.pop("MLFLOW_TRACKING_URI", None)
    out = home / "result.json"
    command = [
        *SHOPFLOOR,
        "run",
        pipeline,
        *(["--data", str(data)] if data else []),
        "--model-name",
        model or f"scaling-{pipeline}",
        "--json",
        str(out),
        *extra,
    ]
    log = (home / "stdout.log").open("w")
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT), time.monotonic()


def finish(proc: subprocess.Popen, began: float, home: Path) -> dict:
    import resource

    code = proc.wait()
    wall = time.monotonic() - began
    largest = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # the largest process waited for yet
    steps = {
        e["name"]: {"seconds": round(e["seconds"], 1), "status": e["status"], "peak_rss_mb": e.get("peak_rss_mb")}
        for e in _events(home)
    }
    figures: dict = {
        "exit": code,
        "wall_s": round(wall, 1),
        "steps": steps,
        "peak_rss_mb": max((s["peak_rss_mb"] or 0.0) for s in steps.values()) if steps else None,
        "largest_process_so_far_mb": round(largest),
    }
    result = home / "result.json"
    if code in (0, 3) and result.exists():
        figures["result"] = json.loads(result.read_text())
    else:
        figures["tail"] = (home / "stdout.log").read_text()[-2000:]
    return figures


def _table(workdir: Path, name: str, make) -> Path:
    """A simulated table, made once per ``workdir``."""
    data = workdir / f"{name}.csv"
    if not data.exists():
        make().to_csv(data, index=False)
    return data


def _run(pipeline: str, data: Path, workdir: Path, extra: list[str]) -> tuple[dict, dict | None, Path]:
    """(figures, the command's JSON result or None, its data directory) of one run in a data directory of its own."""
    home = Path(tempfile.mkdtemp(prefix=f"{data.stem}-", dir=workdir))
    figures = finish(*start(pipeline, data, home, extra), home)
    return figures, figures.pop("result", None), home


def fault_detection(rows: int, workdir: Path, extra: list[str]) -> dict:
    from shopfloor.data.simulate import simulate_gearbox

    data = _table(workdir, f"gearbox_{rows}", lambda: simulate_gearbox(rows=rows, seed=0))
    figures, result, _ = _run("fault-detection", data, workdir, extra)
    if result:
        report = result["report"]
        best = report["best"]
        figures |= {
            "chosen": best,
            "test_f2": report["methods"][best]["test"]["f2"],
            "cv_score": report["methods"][best]["cv"]["score"],
            "methods": len(report["methods"]),
            "grid_fits": report["grid"]["fits"],
            "grid_candidates": report["grid"]["candidates"],
            "left_out": report["left_out"],
            "failed": report["failed"],
            "csv_mb": round(data.stat().st_size / 2**20, 1),
        }
    return figures


HI_COLUMNS = ["--unit-column", "unit", "--time-column", "time", "--truth-column", "wear"]


def health_index(units: int, workdir: Path, extra: list[str]) -> dict:
    from shopfloor.data.simulate import simulate_run_to_failure

    data = _table(workdir, f"fleet_{units}", lambda: simulate_run_to_failure(units=units, seed=0))
    figures, result, home = _run("health-index", data, workdir, [*HI_COLUMNS, *extra])
    if result:
        train = next((e for e in _events(home) if e["name"] == "train"), {})
        figures |= {
            "chosen": result["method"],
            "rul_method": result["rul_method"],
            "test_spearman_rul": result["metrics"].get("test_spearman_rul"),
            "test_rul_rmse": result["metrics"].get("test_rul_rmse"),
            "left_out": (train.get("data") or {}).get("skipped", {}),
        }
    return figures


def _served_log(home: Path, model: str, rows: int, per_request: int = 100, seed: int = 7) -> dict:
    """``rows`` answers of ``model@champion`` in the prediction log under ``home`` as the server writes them
    (requests of ``per_request`` rows; a file per 10,000 rows, as one flush a second at that rate), on gearbox
    parts after a supplier change, each with its outcome fed back by request id (files of 100,000 outcomes)."""
    os.environ["SHOPFLOOR_HOME"] = str(home)
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    from datetime import UTC, datetime

    import numpy as np

    from shopfloor.contract import Rows
    from shopfloor.data.simulate import simulate_gearbox
    from shopfloor.monitoring.outcomes import record_outcomes
    from shopfloor.monitoring.prediction_log import Entry, PredictionLog
    from shopfloor.registry import champion_contract, load_version, use_tracking

    use_tracking(None)
    contract = champion_contract(model)
    champion = load_version(model, contract.version.version)
    table = simulate_gearbox(rows=rows, seed=seed, drift=2.0)
    names = champion.details()["labels"]  # outcomes as the plant writes them: class names
    log = PredictionLog(flush_seconds=3600, max_rows=20_000)
    started, now = time.monotonic(), datetime.now(UTC).timestamp()
    numeric = table[contract.inputs.names].to_numpy(float)
    for first in range(0, rows, 10_000):
        chunk = table.iloc[first : first + 10_000]
        answers = champion.predict(None, chunk[contract.inputs.names])
        for start_row in range(0, len(chunk), per_request):
            part = slice(start_row, start_row + per_request)
            batch = Rows(numeric[first:][part], np.empty((len(chunk.iloc[part]), 0), object), contract.inputs)
            log.add(
                Entry(
                    now,
                    model,
                    str(contract.version.version),
                    f"r{first + start_row}",
                    batch,
                    {c: answers[c].to_numpy()[part] for c in answers.columns},
                )
            )
        log.flush()
    log.close()
    logged = time.monotonic() - started
    truth = table["faulty"].to_numpy()
    for first in range(0, rows, 100_000):
        record_outcomes(
            model,
            [
                {"request_id": f"r{i - i % per_request}", "row": i % per_request, "label": names[str(int(truth[i]))]}
                for i in range(first, min(rows, first + 100_000))
            ],
            labels=names,
        )
    return {
        "rows": rows,
        "rows_per_request": per_request,
        "log_write_s": round(logged, 1),
        "outcomes_s": round(time.monotonic() - started - logged, 1),
    }


def retraining(log_rows: int, workdir: Path) -> dict:
    """Retraining the default fault-detection champion from a prediction log of ``log_rows`` answered rows with
    their outcomes (``shopfloor run retraining --from-log``): wall time and peak RSS per step."""
    from shopfloor.data.simulate import simulate_gearbox

    home = Path(tempfile.mkdtemp(prefix=f"log-{log_rows}-", dir=workdir))
    model = "scaling-retraining"
    data = _table(workdir, "gearbox_3000", lambda: simulate_gearbox(rows=3000, seed=0))
    champion = finish(*start("fault-detection", data, home, [], model=model), home)
    log = _served_log(home, model, log_rows)
    figures = finish(*start("retraining", None, home, ["--from-log"], model=model), home)
    result = json.loads((home / "result.json").read_text()) if figures.pop("result", None) else None
    figures |= {"champion_wall_s": champion["wall_s"], "log": log}
    if result:
        figures |= {
            "promoted": result["promoted"],
            "reason": result["reason"],
            "method": result["retrain"]["method"],
            "new_rows": result["check"]["rows"],
            "holdout_rows": result["holdout_rows"],
        }
    return figures


def beside(rows: int, units: int, workdir: Path) -> dict:
    """Each step of a default fault-detection run alone, then started beside a default health-index run."""
    alone = fault_detection(rows, workdir, [])
    from shopfloor.data.simulate import simulate_run_to_failure

    fleet = _table(workdir, f"fleet_{units}", lambda: simulate_run_to_failure(units=units, seed=0))
    neighbour_home = Path(tempfile.mkdtemp(prefix="neighbour-", dir=workdir))
    neighbour, _ = start("health-index", fleet, neighbour_home, [*HI_COLUMNS, "--budget", "0"])
    time.sleep(5)  # the neighbour past its start-up, into its training
    try:
        shared = fault_detection(rows, workdir, [])
    finally:
        neighbour.kill()
        neighbour.wait()
    ratios = {
        name: round(shared["steps"][name]["seconds"] / max(step["seconds"], 0.1), 2)
        for name, step in alone["steps"].items()
        if name in shared["steps"]
    }
    return {
        "rows": rows,
        "neighbour": f"health-index, {units} units, no budget",
        "alone": alone,
        "beside": shared,
        "ratio_per_step": ratios,
        "ratio_total": round(shared["wall_s"] / alone["wall_s"], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="3000,30000,300000", help="fault-detection sizes, comma-separated")
    parser.add_argument("--units", default="100,1000", help="health-index fleet sizes, comma-separated")
    parser.add_argument("--budget", help="a --budget for every run (default: each pipeline's default)")
    parser.add_argument(
        "--log-rows",
        default="1000000",
        help="retraining from prediction logs of these sizes, comma-separated (0: none)",
    )
    parser.add_argument("--beside", action="store_true", help="also the fault-detection run beside a neighbour")
    parser.add_argument("--name", default=RESULT, help="results/NAME.json (default: %(default)s)")
    args = parser.parse_args()
    extra = ["--budget", args.budget] if args.budget else []
    workdir = Path(tempfile.mkdtemp(prefix="shopfloor-scaling-"))
    path = ROOT / "benchmarks" / "results" / f"{args.name}.json"
    figures = json.loads(path.read_text()) if path.exists() else {}
    figures.pop("benchmark", None), figures.pop("measured_at", None), figures.pop("machine", None)
    figures["budget"] = args.budget or "default"
    for rows in [int(r) for r in args.rows.split(",") if r]:
        figures.setdefault("fault_detection", {})[str(rows)] = fault_detection(rows, workdir, extra)
        save(args.name, figures)
    for units in [int(u) for u in args.units.split(",") if u]:
        figures.setdefault("health_index", {})[str(units)] = health_index(units, workdir, extra)
        save(args.name, figures)
    for rows in [int(r) for r in args.log_rows.split(",") if r and int(r)]:
        figures.setdefault("retraining", {})[str(rows)] = retraining(rows, workdir)
        save(args.name, figures)
    if args.beside:
        figures["beside"] = beside(3000, 100, workdir)
        save(args.name, figures)


if __name__ == "__main__":
    main()
