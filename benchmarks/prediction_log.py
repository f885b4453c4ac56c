"""What keeping every answer costs, and how fast the log is read back.

1. One-row v1 throughput of ``shopfloor serve`` with the prediction log on (the default) and off
   (``--no-prediction-log``), same registered model (the gearbox logistic regression, 66 columns), same run,
   alternating, ``--rounds`` rounds each: wrk (one thread, pinned to the second core) at 8 connections against
   the server pinned to the first, with the CPU share each used (the server at its core's limit and wrk
   below its own: the rate is the server's). After each logged round the Parquet log must hold as many rows as the
   server answered (wrk's 2xx responses are a lower bound: requests in flight when wrk stops are answered too).
2. The writer and the reader: rows/s of turning queued one-row answers into Parquet (``PredictionLog.flush``),
   and of joining logged rows with their outcomes (``outcomes.joined``) at ``--rows`` rows each.

    apt-get install wrk
    .venv/bin/python benchmarks/prediction_log.py [--seconds 10] [--rounds 3] [--rows 200000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import save  # noqa: E402

from shopfloor.contract import Column, Rows, TabularSchema  # noqa: E402
from shopfloor.monitoring.outcomes import joined, record_outcomes  # noqa: E402
from shopfloor.monitoring.prediction_log import Entry, PredictionLog  # noqa: E402
from shopfloor.monitoring.store import read_predictions  # noqa: E402

MODEL = "gearbox-fault-classifier"


def _serving_benchmark():
    """benchmarks/serving.py (its server and wrk helpers), by path: its name is also the ``serving`` package's."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("serving_benchmark", Path(__file__).with_name("serving.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def loaded(bench, url: str, body: bytes, seconds: float, home: Path) -> dict:
    """One wrk run against the server at ``url``, with where the time went: the CPU share the server process
    and the generator (wrk, a child of this process) used over the run. A server near 100 % of its core and a
    generator well below it: the server is the bottleneck, and the rate is the server's."""
    import resource

    import psutil

    port = int(url.rsplit(":", 1)[1])
    pid = next(c.pid for c in psutil.net_connections("tcp") if c.laddr.port == port and c.status == "LISTEN")
    server = psutil.Process(pid)
    before, children, start = server.cpu_times(), resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    result = bench.wrk(f"{url}/v1/models/{MODEL}:predict", body, 8, seconds, home)
    wall = time.perf_counter() - start
    after, done = server.cpu_times(), resource.getrusage(resource.RUSAGE_CHILDREN)
    result["server_cpu_share"] = (after.user + after.system - before.user - before.system) / wall
    result["generator_cpu_share"] = (done.ru_utime + done.ru_stime - children.ru_utime - children.ru_stime) / wall
    return result


def throughput(home: Path, seconds: float, rounds: int) -> dict:
    import os

    bench = _serving_benchmark()
    sample, _ = bench.register(home)
    body = bench.payloads(sample)["v1_one"]
    runs: dict[str, list[float]] = {"log_on": [], "log_off": []}
    shares: dict[str, list[tuple[float, float]]] = {"log_on": [], "log_off": []}
    checks = []
    for r in range(rounds):
        for name, extra in (("log_on", []), ("log_off", ["--no-prediction-log"])):
            monitoring = home / f"monitoring-{name}-{r}"
            os.environ["SHOPFLOOR_MONITORING"] = str(monitoring)  # the server's log, read back below
            with bench.shopfloor_server(home, [*extra, "--quality-seconds", "0"], f"{name}-{r}") as url:
                result = loaded(bench, url, body, seconds, home)
            runs[name].append(result["rps"])
            shares[name].append((round(result["server_cpu_share"], 2), round(result["generator_cpu_share"], 2)))
            if name == "log_on":
                logged = len(read_predictions(MODEL, root=monitoring))
                answered = round(result["rps"] * seconds)
                checks.append(
                    {"round": r, "wrk_2xx_about": answered, "logged_rows": logged, "non_2xx": result["non_2xx"]}
                )
            print(
                f"round {r} {name}: {result['rps']:.0f} req/s (server {result['server_cpu_share']:.0%} of a core, "
                f"wrk {result['generator_cpu_share']:.0%})",
                flush=True,
            )
    on, off = statistics.median(runs["log_on"]), statistics.median(runs["log_off"])
    return {
        "connections": 8,
        "seconds": seconds,
        "rounds": rounds,
        "rps": runs,
        "median_on": on,
        "median_off": off,
        "ratio_on_over_off": on / off,
        "goal_ratio": 0.9,
        "log_checks": checks,
        "cpu_share_server_and_wrk": shares,
    }


def writer_and_join(root: Path, n: int) -> dict:
    schema = TabularSchema(tuple(Column(f"x{i}", "double") for i in range(66)))
    rng = np.random.default_rng(0)
    log = PredictionLog(root=root, flush_seconds=3600, max_rows=n + 1)
    now = datetime.now(UTC).timestamp()
    for i in range(n):
        log.add(
            Entry(
                now,
                MODEL,
                "1",
                f"r{i}",
                Rows(rng.random((1, 66)), np.empty((1, 0), object), schema),
                {"class": np.array([i % 7 == 0]), "fault_probability": np.array([0.3])},
            )
        )
    start = time.perf_counter()
    log.flush()
    write_s = time.perf_counter() - start
    record_outcomes(MODEL, [{"request_id": f"r{i}", "label": int(i % 5 == 0)} for i in range(n)], root=root)
    start = time.perf_counter()
    table = joined(MODEL, root=root)
    join_s = time.perf_counter() - start
    assert len(table) == n
    log.close()
    return {
        "rows": n,
        "write_rows_per_s": n / write_s,
        "join_rows_per_s": n / join_s,
        "write_s": write_s,
        "join_s": join_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        figures = {"throughput": throughput(Path(tmp), args.seconds, args.rounds)}
        figures["writer_and_join"] = writer_and_join(Path(tmp) / "offline", args.rows)
    print(
        f"one-row v1: log on {figures['throughput']['median_on']:.0f} req/s, off "
        f"{figures['throughput']['median_off']:.0f} req/s, ratio {figures['throughput']['ratio_on_over_off']:.2f}"
    )
    save("prediction_log", figures)


if __name__ == "__main__":
    main()
