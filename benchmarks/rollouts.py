"""Safe rollouts, measured: what a shadow challenger costs, how a canary splits traffic, how fast a rollback
reaches every server.

1. One-row v1 throughput of ``shopfloor serve`` plain and with ``--challenger shadow`` (every request also
   scored by ``@challenger`` and its answer logged), same registered versions, same run, alternating,
   ``--rounds`` rounds each: wrk (one thread, 8 connections, pinned to the second core) against the server
   pinned to the first. Goal: shadow at least 60 % of plain.
2. ``--challenger canary:10``: the share of 10,000 one-row requests the challenger answered, against the
   binomial bound (4 standard deviations).
3. ``shopfloor rollback`` with two servers following ``@champion`` (``--poll-seconds 2``): the time from the
   rollback until both answer with the earlier version. Bound: the alias check interval plus one model load.

    apt-get install wrk
    .venv/bin/python benchmarks/rollouts.py [--seconds 10] [--rounds 3]
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import save  # noqa: E402
from prediction_log import MODEL, _serving_benchmark, loaded  # noqa: E402

from shopfloor.data.simulate import simulate_gearbox  # noqa: E402
from shopfloor.fault_detection.train import register_reference  # noqa: E402


def register_challenger(seed: int = 5) -> None:
    register_reference(simulate_gearbox(rows=3000, seed=seed), MODEL, "bench", test_f2=0.1)


def shadow_throughput(bench, home: Path, body: bytes, seconds: float, rounds: int) -> dict:
    runs: dict[str, list[float]] = {"plain": [], "shadow": []}
    shares: dict[str, list[tuple[float, float]]] = {"plain": [], "shadow": []}
    for r in range(rounds):
        for name, extra in (("plain", []), ("shadow", ["--challenger", "shadow"])):
            os.environ["SHOPFLOOR_MONITORING"] = str(home / f"monitoring-{name}-{r}")
            with bench.shopfloor_server(home, [*extra, "--quality-seconds", "0"], f"{name}-{r}") as url:
                result = loaded(bench, url, body, seconds, home)
            runs[name].append(result["rps"])
            shares[name].append((round(result["server_cpu_share"], 2), round(result["generator_cpu_share"], 2)))
            print(
                f"round {r} {name}: {result['rps']:.0f} req/s (server {result['server_cpu_share']:.0%} of a core, "
                f"wrk {result['generator_cpu_share']:.0%})",
                flush=True,
            )
    plain, shadow = statistics.median(runs["plain"]), statistics.median(runs["shadow"])
    return {
        "rps": runs,
        "median_plain": plain,
        "median_shadow": shadow,
        "ratio": shadow / plain,
        "goal_ratio": 0.6,
        "cpu_share_server_and_wrk": shares,
    }


def canary_share(bench, home: Path, body: bytes, n: int = 10_000, percent: float = 10.0) -> dict:
    os.environ["SHOPFLOOR_MONITORING"] = str(home / "monitoring-canary")
    counts: dict[str, int] = {}
    with bench.shopfloor_server(
        home, ["--challenger", f"canary:{percent:g}", "--quality-seconds", "0"], "canary"
    ) as url:
        host, port = url.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port))
        for _ in range(n):
            conn.request("POST", f"/v1/models/{MODEL}:predict", body, {"content-type": "application/json"})
            answer = conn.getresponse()
            answer.read()
            version = answer.getheader("x-model-version")
            counts[version] = counts.get(version, 0) + 1
    p = percent / 100
    challenger = counts.get("2", 0)
    bound = 4 * math.sqrt(n * p * (1 - p))
    return {
        "requests": n,
        "percent": percent,
        "by_version": counts,
        "challenger_share": challenger / n,
        "expected": n * p,
        "bound_4sd": bound,
        "within_bound": abs(challenger - n * p) <= bound,
    }


def rollback_time(bench, home: Path, body: bytes) -> dict:
    from shopfloor.registry.history import rollback

    os.environ["SHOPFLOOR_MONITORING"] = str(home / "monitoring-rollback")
    poll = 2.0
    servers = [
        bench.shopfloor_server(home, ["--quality-seconds", "0", "--poll-seconds", str(poll)], f"rb{i}", cores="0,1")
        for i in range(2)
    ]
    with servers[0] as first, servers[1] as second:

        def version(url: str) -> str:
            host, port = url.removeprefix("http://").split(":")
            conn = http.client.HTTPConnection(host, int(port), timeout=5)
            conn.request("POST", f"/v1/models/{MODEL}:predict", body, {"content-type": "application/json"})
            return conn.getresponse().getheader("x-model-version")

        before = [version(first), version(second)]
        start = time.perf_counter()
        move = rollback(MODEL, reason="benchmark")
        reached: dict[str, float] = {}
        while len(reached) < 2 and time.perf_counter() - start < 60:
            for url in (first, second):
                if url not in reached and version(url) == move["to"]:
                    reached[url] = time.perf_counter() - start
            time.sleep(0.02)
    return {
        "poll_seconds": poll,
        "served_before": before,
        "rolled_back_to": move["to"],
        "seconds_until_each_server": sorted(reached.values()),
        "seconds_until_all": max(reached.values()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    bench = _serving_benchmark()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        sample, _ = bench.register(home)
        register_challenger()  # v2, @challenger (lower registered score)
        body = bench.payloads(sample)["v1_one"]
        figures = {
            "shadow": shadow_throughput(bench, home, body, args.seconds, args.rounds),
            "canary": canary_share(bench, home, body),
        }
        # a promotion then a rollback: v3 takes @champion, the rollback brings v1 back
        model_seconds = time.perf_counter()
        register_reference(simulate_gearbox(rows=3000, seed=9), MODEL, "bench", test_f2=0.95)
        figures["rollback"] = rollback_time(bench, home, body) | {"setup_seconds": time.perf_counter() - model_seconds}
    print(json.dumps({k: v for k, v in figures.items()}, indent=1, default=str)[:1500])
    save("rollouts", figures)


if __name__ == "__main__":
    main()
