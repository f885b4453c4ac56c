"""Model server speed: the paper's Locust profile, the highest sustained RPS, workers, v2 batches, capacity.

Registers a gearbox logistic regression in a temporary MLflow store, serves it with
`shopfloor serve` on 127.0.0.1 and loads it with Locust on the same 2-core machine (so Locust and
the server share the CPU; the figures are a floor for a server with cores of its own).

* paper profile: 20 users x 10 req/s (200 RPS), 60 s, v1 and v2 users, one server process;
* ceiling: steps of offered load until p95 > 25 ms or an error; the highest achieved RPS that met
  both, for --workers 1 and --workers 2;
* v2 batches: rows/s for batches of 1, 32 and 1,024 rows from one keep-alive client;
* capacity: replicas of 0.5 CPU for 200, 2,000 and 20,000 RPS from the single-process ceiling.

    .venv/bin/python benchmarks/serving.py [--quick]
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import save  # noqa: E402

from loadtest.run import local_server, run_locust  # noqa: E402
from shopfloor.classify.train import reference_classifier  # noqa: E402
from shopfloor.data.simulate import simulate_gearbox  # noqa: E402
from shopfloor.registry import register_model, use_tracking  # noqa: E402

MODEL = "gearbox-fault-classifier"


def register(home: Path) -> list[float]:
    use_tracking(f"sqlite:///{home / 'mlflow.db'}")
    model, splits = reference_classifier(simulate_gearbox(rows=3000, seed=0), "faulty")
    rows = splits.test.drop(columns=["label"])
    register_model(model, rows.head(5), model_name=MODEL, experiment="bench", metrics={"test_f2": 0.5},
                   params={}, score_metric="test_f2")
    return rows.head(1).astype(float).values.ravel().tolist()


def ceiling(url: str, out: Path, steps: list[int], duration: str) -> dict:
    """Offer increasing load (users at 10 req/s each) until the SLA breaks."""
    history, best = [], None
    for rps in steps:
        users = max(1, rps // 10)
        result = run_locust(url, out / f"step_{rps}", users=users, rate=10, duration=duration, protocol="v1",
                            p95_ms=25.0, max_error_rate=0.0, spawn_rate=max(10, users))
        history.append({"offered_rps": rps, "achieved_rps": round(result.rps, 1), "p50_ms": result.p50_ms,
                        "p95_ms": result.p95_ms, "p99_ms": result.p99_ms, "failures": result.failures})
        print(history[-1], flush=True)
        if not result.passed or result.rps < 0.9 * rps:
            break
        best = result.rps
    return {"max_sustained_rps": round(best or 0.0, 1), "steps": history}


def batch_throughput(url: str, row: list[float], sizes=(1, 32, 1024), seconds: float = 5.0) -> dict[str, float]:
    host, port = url.removeprefix("http://").split(":")
    out = {}
    for size in sizes:
        body = json.dumps({"inputs": [{"name": "features", "shape": [size, len(row)], "datatype": "FP64",
                                       "data": row * size}]})
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        rows, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            conn.request("POST", f"/v2/models/{MODEL}/infer", body, {"content-type": "application/json"})
            answer = conn.getresponse()
            answer.read()
            assert answer.status == 200, answer.status
            rows += size
        out[str(size)] = round(rows / (time.perf_counter() - start), 1)
        conn.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="short steps (10 s) and a 20 s paper profile")
    args = parser.parse_args()
    duration = "10s" if args.quick else "20s"
    steps = [200, 400, 600, 800, 1000, 1200, 1500, 2000, 2500]
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        os.environ["SHOPFLOOR_HOME"] = str(home)
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{home / 'mlflow.db'}"
        row = register(home)
        figures: dict = {}
        with local_server(MODEL, extra=["--poll-seconds", "0"], log=home / "server1.log") as url:
            paper = run_locust(url, home / "paper", users=20, rate=10, duration="20s" if args.quick else "60s",
                               protocol="both")
            figures["paper_profile_one_process"] = {
                "users": 20, "rate_per_user": 10, "achieved_rps": round(paper.rps, 1), "p50_ms": paper.p50_ms,
                "p95_ms": paper.p95_ms, "p99_ms": paper.p99_ms, "requests": paper.requests,
                "failures": paper.failures, "goal_p95_ms": 10, "paper_p95_ms": 56}
            print(figures["paper_profile_one_process"], flush=True)
            figures["v2_batch_rows_per_s"] = batch_throughput(url, row)
            print(figures["v2_batch_rows_per_s"], flush=True)
            figures["ceiling_workers_1"] = ceiling(url, home / "w1", steps, duration)
        with local_server(MODEL, workers=2, extra=["--poll-seconds", "0"], log=home / "server2.log") as url:
            time.sleep(20)  # spawned workers load the model in the background
            figures["ceiling_workers_2"] = ceiling(url, home / "w2", steps, duration)
    one = figures["ceiling_workers_1"]["max_sustained_rps"]
    two = figures["ceiling_workers_2"]["max_sustained_rps"]
    figures["workers_2_over_1"] = round(two / one, 2) if one else None
    # A server process is single-threaded Python: its ceiling is per core. A 0.5-CPU replica gets half
    # of that; keep 30 % headroom for bursts and the autoscaler's reaction time.
    per_replica = 0.5 * one * 0.7
    figures["capacity"] = {
        "per_core_rps": one, "per_replica_rps_planned": round(per_replica, 1),
        "method": "replicas = ceil(target / (0.5 CPU x single-process RPS per core x 0.7 headroom))",
        "replicas": {str(t): math.ceil(t / per_replica) if per_replica else None for t in (200, 2000, 20000)}}
    figures["command"] = "benchmarks/serving.py" + (" --quick" if args.quick else "")
    save("serving", figures)


if __name__ == "__main__":
    main()
