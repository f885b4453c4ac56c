"""One-row latency and throughput of the served classifier before and after the model contract, in one run.

"Before" is the code at ``--before`` (default: the last commit before the contract change), unpacked
from git into a temporary folder; "after" is this working tree. Each registers the same model (a
logistic regression on 3,000 simulated gearbox units, seed 0) in its own temporary MLflow store, with
its own code, and serves it with its own ``shopfloor serve`` (one process, pinned to CPU 1). ``wrk``
(pinned to CPU 0, one thread) sends the same one-row v1 and v2 requests, with 1 and 8 connections,
alternating before and after for ``--rounds`` rounds; the figures are the medians of the rounds.
Both servers' answers to the same row are compared first.

    apt-get install wrk            # Debian's package; the benchmark needs it
    .venv/bin/python benchmarks/serving_contract.py [--before REV] [--seconds 10] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import ROOT, save, unpack  # noqa: E402

from loadtest.run import free_port, wait_ready  # noqa: E402
from shopfloor.data.simulate import simulate_gearbox  # noqa: E402

MODEL = "gearbox-fault-classifier"
BEFORE = "47b3376"  # "Review mends ..." : the last commit before the model contract

REGISTER_BEFORE = """
from shopfloor.fault_detection.train import train_reference
from shopfloor.data.simulate import simulate_gearbox
from shopfloor.registry import register_sklearn, use_tracking
use_tracking()
model, splits = train_reference(simulate_gearbox(rows=3000, seed=0), "faulty")
register_sklearn(model, splits.test.drop(columns=["label"]).head(5), model_name="{model}", experiment="bench",
                 metrics={{"test_f2": 0.5}}, params={{}}, score_metric="test_f2")
"""
REGISTER_AFTER = """
from shopfloor.fault_detection.train import reference_classifier
from shopfloor.data.simulate import simulate_gearbox
from shopfloor.registry import register_model, use_tracking
use_tracking()
model, splits = reference_classifier(simulate_gearbox(rows=3000, seed=0), "faulty")
register_model(model, splits.test.drop(columns=["label"]).head(5), model_name="{model}", experiment="bench",
               metrics={{"test_f2": 0.5}}, params={{}}, score_metric="test_f2")
"""
WRK_SCRIPT = (
    'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = io.open("{body}"):read()\n'
)


class Server:
    """``shopfloor serve`` from one source tree, on its own store, pinned to CPU 1."""

    def __init__(self, label: str, tree: Path, register: str, serve_args: list[str], work: Path) -> None:
        self.label, self.tree = label, tree
        self.home = work / label
        self.home.mkdir()
        self.env = {
            **os.environ,
            "SHOPFLOOR_HOME": str(self.home),
            "PYTHONPATH": str(tree),
            "MLFLOW_TRACKING_URI": f"sqlite:///{self.home / 'mlflow.db'}",
        }
        subprocess.run(
            [sys.executable, "-c", register.format(model=MODEL)],
            env=self.env,
            cwd=tree,
            check=True,
            capture_output=True,
        )
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        pin = ["taskset", "-c", "1"] if shutil.which("taskset") and os.cpu_count() > 1 else []
        self.proc = subprocess.Popen(
            [
                *pin,
                sys.executable,
                "-m",
                "shopfloor_cli.main",
                "serve",
                *serve_args,
                "--port",
                str(self.port),
                "--poll-seconds",
                "0",
            ],
            env=self.env,
            cwd=tree,
            stdout=open(self.home / "server.log", "w"),
            stderr=subprocess.STDOUT,
        )
        wait_ready(self.url, MODEL, proc=self.proc)

    def post(self, path: str, body: bytes) -> dict:
        request = urllib.request.Request(self.url + path, body, {"content-type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.loads(answer.read())

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=20)


def wrk(url: str, body: Path, connections: int, seconds: int) -> dict[str, float]:
    """requests/s and latency percentiles (ms) of one wrk run on CPU 0."""
    script = body.with_suffix(".lua")
    script.write_text(WRK_SCRIPT.format(body=body))
    pin = ["taskset", "-c", "0"] if shutil.which("taskset") and os.cpu_count() > 1 else []
    out = subprocess.run(
        [*pin, "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"{url}: {errors.group(1)} error answers\n{out}")

    def ms(text: str) -> float:
        value, unit = re.match(r"([\d.]+)(\w+)", text).groups()
        return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]

    latency = dict(re.findall(r"^\s+(50|90|99)%\s+(\S+)$", out, re.MULTILINE))
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50_ms": ms(latency["50"]),
        "p90_ms": ms(latency["90"]),
        "p99_ms": ms(latency["99"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default=BEFORE, help="git revision of the 'before' server")
    parser.add_argument("--seconds", type=int, default=10, help="length of each wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating before/after rounds")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        before_tree = unpack(args.before, work / "before-tree")
        servers = {
            "before": Server("before", before_tree, REGISTER_BEFORE, ["--model", MODEL], work),
            "after": Server("after", ROOT, REGISTER_AFTER, ["--model-name", MODEL], work),
        }
        try:
            row = simulate_gearbox(rows=50, seed=11).drop(columns=["faulty"]).iloc[0].astype(float).tolist()
            bodies = {
                "v1": json.dumps({"instances": [row]}).encode(),
                "v2": json.dumps(
                    {"inputs": [{"name": "rows", "shape": [1, len(row)], "datatype": "FP64", "data": row}]}
                ).encode(),
            }
            paths = {"v1": f"/v1/models/{MODEL}:predict", "v2": f"/v2/models/{MODEL}/infer"}
            answers = {
                label: s.post(paths["v1"], bodies["v1"])["predictions"][0]["fault_probability"]
                for label, s in servers.items()
            }
            assert abs(answers["before"] - answers["after"]) < 1e-12, answers
            for name, body in bodies.items():
                (work / f"{name}.json").write_bytes(body)
            runs: dict[str, list[dict]] = {}
            for _ in range(args.rounds):
                for label, server in servers.items():
                    for protocol in ("v1", "v2"):
                        for connections in (1, 8):
                            key = f"{label}/{protocol}/c{connections}"
                            result = wrk(
                                server.url + paths[protocol], work / f"{protocol}.json", connections, args.seconds
                            )
                            runs.setdefault(key, []).append(result)
                            print(key, result, flush=True)
        finally:
            for server in servers.values():
                server.stop()
    medians = {
        key: {m: round(statistics.median(r[m] for r in results), 3) for m in results[0]}
        for key, results in runs.items()
    }
    table = {}
    for protocol in ("v1", "v2"):
        for connections in (1, 8):
            b, a = medians[f"before/{protocol}/c{connections}"], medians[f"after/{protocol}/c{connections}"]
            table[f"{protocol}_c{connections}"] = {
                "before": b,
                "after": a,
                "rps_after_over_before": round(a["rps"] / b["rps"], 3),
                "p50_after_over_before": round(a["p50_ms"] / b["p50_ms"], 3),
            }
    save(
        "serving_contract",
        {
            "command": f"benchmarks/serving_contract.py --before {args.before} --seconds {args.seconds} "
            f"--rounds {args.rounds}",
            "setup": "one shopfloor serve process pinned to CPU 1, wrk -t1 pinned to CPU 0, one-row requests, "
            "medians of alternating rounds",
            "same_answer_before_after": answers,
            "one_row": table,
            "runs": runs,
        },
    )


if __name__ == "__main__":
    main()
