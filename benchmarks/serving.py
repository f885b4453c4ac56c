"""Model-server capacity, side by side in one run, measured by a load generator that is not the bottleneck.

One registered model (the gearbox logistic regression of the demo: 66 numeric columns) in a throwaway
MLflow store, and on this machine, one after another:

* ``shopfloor``: ``shopfloor serve`` (the direct inference path, one worker);
* ``shopfloor-kserve-routes``: the same server answering through KServe's FastAPI routes
  (``--kserve-routes``), i.e. the server before the direct path;
* ``mlflow``: ``mlflow models serve --env-manager local`` on the same registered version (v1 only: MLflow's
  scoring server has no Open Inference Protocol);
* ``mlserver``: Seldon MLServer with its scikit-learn runtime, from its own virtual environment (``--mlserver
  PATH``; v2 only), serving the same scikit-learn model fitted on the same rows (its runtime takes arrays, so
  the pipeline takes the columns by position);
* ``bare-asgi``: a bare ASGI callable under uvicorn (uvloop, httptools) that parses the same JSON with orjson
  and answers a fixed body: the ceiling of Python HTTP on this machine.

Generator: ``wrk`` (Debian package ``wrk``; ``apt-get install wrk``) with one thread pinned to its own core
(``taskset``), the server pinned to the other. For each server and payload (v1 one row as a record, v2 one
row as a [1, 66] FP64 tensor): wrk at 1, 2, 4, 8, 16 and 32 connections, ``--seconds`` each; the highest
throughput whose p99 stayed at or below 10 ms, and the highest at any latency (saturation), with p50/p99.
Batches of 32 and 1,024 rows: rows/s at 4 connections. Then ``--workers 2`` against 1 (the server on both
cores, wrk on the second: on a 2-core machine the generator shares a core, so the ratio is a floor), KServe's
gRPC endpoint (``--grpc-port``, driven by ``grpc_load`` in a process of its own), Locust's paper profile and
step profile through ``shopfloor loadtest`` (FastHttpUser, offered vs achieved, the generator's CPU), and
the capacity plan derived from the measured per-core rate at the SLA.

    apt-get install wrk        # the generator
    python3.11 -m venv /tmp/mlserver-venv && /tmp/mlserver-venv/bin/pip install mlserver mlserver-sklearn \\
        scikit-learn==1.9.1 numpy==2.4.6
    .venv/bin/python benchmarks/serving.py [--seconds 5] [--mlserver /tmp/mlserver-venv]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import save  # noqa: E402

from loadtest.run import free_port, run_locust, step_profile, stop  # noqa: E402
from shopfloor.data.simulate import simulate_gearbox  # noqa: E402
from shopfloor.fault_detection.train import reference_classifier  # noqa: E402
from shopfloor.registry import register_model, use_tracking  # noqa: E402

MODEL = "gearbox-fault-classifier"
CONNECTIONS = (1, 2, 4, 8, 16, 32)
P99_LIMIT_MS = 10.0
SERVER_CORE, GENERATOR_CORE = "0", "1"


# ------------------------------------------------------------------ the model and payloads
def register(home: Path) -> tuple[dict, object]:
    use_tracking(f"sqlite:///{home / 'mlflow.db'}")
    table = simulate_gearbox(rows=3000, seed=0)
    model, splits = reference_classifier(table, "faulty")
    rows = splits.test.drop(columns=["label"])
    register_model(
        model,
        rows.head(5),
        model_name=MODEL,
        experiment="bench",
        metrics={"test_f2": 0.5},
        params={},
        score_metric="test_f2",
    )
    return {
        "record": {k: float(v) for k, v in rows.iloc[0].items()},
        "row": rows.iloc[0].astype(float).tolist(),
        "columns": list(rows.columns),
    }, splits


def payloads(sample: dict) -> dict[str, bytes]:
    row, record = sample["row"], sample["record"]

    def v2(n: int, name: str = "rows") -> bytes:
        return json.dumps(
            {"inputs": [{"name": name, "shape": [n, len(row)], "datatype": "FP64", "data": row * n}]}
        ).encode()

    return {
        "v1_one": json.dumps({"instances": [record]}).encode(),
        "v2_one": v2(1),
        "v1_32": json.dumps({"instances": [record] * 32}).encode(),
        "v2_32": v2(32),
        "v1_1024": json.dumps({"instances": [record] * 1024}).encode(),
        "v2_1024": v2(1024),
    }


# ------------------------------------------------------------------ servers
@contextlib.contextmanager
def process(
    cmd: list[str],
    url: str,
    ready_path: str,
    log: Path,
    env: dict | None = None,
    timeout: float = 180,
    cores: str = SERVER_CORE,
):
    out = open(log, "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        ["taskset", "-c", cores, *cmd], stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
    )
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{cmd[0]} exited with {proc.returncode}: {log.read_text()[-2000:]}")
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(url + ready_path, timeout=2) as answer:
                    if answer.status == 200:
                        break
            if time.monotonic() > deadline:
                raise TimeoutError(f"{cmd} not ready")
            time.sleep(0.5)
        yield url
    finally:
        stop(proc)
        out.close()


def shopfloor_server(
    home: Path, extra: list[str], name: str, workers: int = 1, cores: str = SERVER_CORE, model: str = MODEL
):
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "shopfloor_cli.main",
        "serve",
        "--model-name",
        model,
        "--port",
        str(port),
        "--poll-seconds",
        "0",
        "--workers",
        str(workers),
        *extra,
    ]
    env = {"SHOPFLOOR_HOME": str(home), "MLFLOW_TRACKING_URI": f"sqlite:///{home / 'mlflow.db'}"}

    @contextlib.contextmanager
    def run():
        with process(
            cmd, f"http://127.0.0.1:{port}", f"/v2/models/{model}/ready", home / f"{name}.log", env, cores=cores
        ) as url:
            if workers > 1:
                time.sleep(15)  # spawned workers load the model in the background
            yield url

    return run()


def mlflow_server(home: Path):
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "mlflow",
        "models",
        "serve",
        "-m",
        f"models:/{MODEL}/1",
        "--env-manager",
        "local",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    env = {
        "MLFLOW_TRACKING_URI": f"sqlite:///{home / 'mlflow.db'}",
        "SHOPFLOOR_HOME": str(home),
        # mlflow execs `uvicorn` by name: the one of this environment
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    return process(cmd, f"http://127.0.0.1:{port}", "/ping", home / "mlflow.log", env)


def mlserver_server(home: Path, venv: Path, splits, columns: list[str]):
    """MLServer's scikit-learn runtime on the same model, its pipeline taking columns by position."""
    import joblib
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    folder = home / "mlserver" / "gearbox"
    folder.mkdir(parents=True)
    x = splits.train[columns].to_numpy(float)
    y = splits.train["label"].to_numpy()
    joblib.dump(
        make_pipeline(SimpleImputer(), StandardScaler(), LogisticRegression(max_iter=1000)).fit(x, y),
        folder / "model.joblib",
    )
    port, grpc_port, metrics_port = free_port(), free_port(), free_port()
    (folder / "model-settings.json").write_text(
        json.dumps(
            {
                "name": MODEL,
                "implementation": "mlserver_sklearn.SKLearnModel",
                "parameters": {"uri": "./model.joblib", "version": "1"},
            }
        )
    )
    (home / "mlserver" / "settings.json").write_text(
        json.dumps(
            {
                "http_port": port,
                "grpc_port": grpc_port,
                "metrics_port": metrics_port,
                "host": "127.0.0.1",
                "parallel_workers": 0,
                "debug": False,
            }
        )
    )
    cmd = [str(venv / "bin" / "mlserver"), "start", str(home / "mlserver")]
    return process(cmd, f"http://127.0.0.1:{port}", f"/v2/models/{MODEL}/ready", home / "mlserver.log")


def bare_server(home: Path, protocol: bool = False):
    """``bare_asgi.app`` under uvicorn (httptools, uvloop); with ``protocol``, its POSTs answered from the HTTP
    protocol beneath ASGI (``bare_asgi.Protocol``), as the model server's direct path answers."""
    port = free_port()
    http = "bare_asgi.Protocol" if protocol else "'httptools'"
    code = (
        f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import uvicorn, bare_asgi; "
        f"uvicorn.run('bare_asgi:app', host='127.0.0.1', port={port}, access_log=False, lifespan='off', "
        f"loop='uvloop', http={http}, log_level='warning')"
    )
    cmd = [sys.executable, "-c", code]
    return process(cmd, f"http://127.0.0.1:{port}", "/ready", home / ("bare-protocol.log" if protocol else "bare.log"))


# ------------------------------------------------------------------ the generator
UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def wrk(url: str, body: bytes, connections: int, seconds: float, tmp: Path) -> dict:
    script = tmp / f"post_{abs(hash(body))}.lua"
    if not script.exists():
        script.write_text(
            'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
            f"wrk.body = [==[{body.decode()}]==]\n"
        )
    cmd = [
        "taskset",
        "-c",
        GENERATOR_CORE,
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{seconds:g}s",
        "--latency",
        "-s",
        str(script),
        url,
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = {p: float(v) * UNITS[u] for p, v, u in re.findall(r"\s(50|99)%\s+([\d.]+)(us|ms|s)", out)}
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {
        "connections": connections,
        "rps": rps,
        "p50_ms": lat.get("50"),
        "p99_ms": lat.get("99"),
        "non_2xx": int(bad.group(1)) if bad else 0,
        "socket_errors": sum(int(g) for g in errors.groups()) if errors else 0,
    }


def sweep(url: str, body: bytes, seconds: float, tmp: Path) -> dict:
    runs = [wrk(url, body, c, seconds, tmp) for c in CONNECTIONS]
    clean = [r for r in runs if r["non_2xx"] == 0 and r["socket_errors"] == 0]
    within = [r for r in clean if r["p99_ms"] is not None and r["p99_ms"] <= P99_LIMIT_MS]
    best = max(within, key=lambda r: r["rps"]) if within else None
    top = max(clean, key=lambda r: r["rps"]) if clean else None
    return {
        "rps_at_p99_10ms": best["rps"] if best else 0.0,
        "at": best,
        "saturation_rps": top["rps"] if top else 0.0,
        "saturation": top,
        "runs": runs,
        "errors": len(runs) - len(clean),
    }


def rows_per_s(url: str, body: bytes, rows: int, seconds: float, tmp: Path) -> dict:
    r = wrk(url, body, 4, seconds, tmp)
    return {"rows_per_s": r["rps"] * rows if r["non_2xx"] == 0 else 0.0, **r}


def measure(name: str, urls: dict[str, str], bodies: dict[str, bytes], seconds: float, tmp: Path) -> dict:
    out = {}
    for key, url in urls.items():  # "v1", "v2"
        out[f"{key}_one_row"] = sweep(url, bodies[f"{key}_one"], seconds, tmp)
        for n in (32, 1024):
            out[f"{key}_batch_{n}"] = rows_per_s(url, bodies[f"{key}_{n}"], n, seconds, tmp)
        print(
            f"{name} {key}: {out[f'{key}_one_row']['rps_at_p99_10ms']:.0f} req/s at p99 <= 10 ms, "
            f"{out[f'{key}_one_row']['saturation_rps']:.0f} at saturation; batch 1,024: "
            f"{out[f'{key}_batch_1024']['rows_per_s']:.0f} rows/s",
            flush=True,
        )
    return out


# ------------------------------------------------------------------ gRPC
def grpc_rate(port: int, row: list[float] | dict, seconds: float, concurrency: int = 8, model: str = MODEL) -> dict:
    """KServe's gRPC Open Inference Protocol: one-row ModelInfer calls from ``grpc_load`` pinned to the
    generator's core (``row``: the numbers of one tabular row, or a whole v2 tensor as a dict)."""
    given = ["--tensor", json.dumps(row)] if isinstance(row, dict) else ["--row", json.dumps(row)]
    cmd = [
        "taskset",
        "-c",
        GENERATOR_CORE,
        sys.executable,
        str(Path(__file__).with_name("grpc_load.py")),
        "--port",
        str(port),
        "--model",
        model,
        "--seconds",
        str(seconds),
        "--concurrency",
        str(concurrency),
        *given,
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 120)
    if out.returncode:
        return {"error": out.stderr[-1000:]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="wrk duration per measurement")
    parser.add_argument("--mlserver", default="/tmp/mlserver-venv", help="virtual environment with MLServer")
    parser.add_argument("--locust-seconds", default="30s")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("install wrk: apt-get install wrk")
    figures: dict = {
        "generator": "wrk -t1, pinned to its own core; each server pinned to the other",
        "cpus": os.cpu_count(),
        "p99_limit_ms": P99_LIMIT_MS,
    }
    with tempfile.TemporaryDirectory() as tmpdir:
        home = Path(tmpdir)
        os.environ["SHOPFLOOR_HOME"] = str(home)
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{home / 'mlflow.db'}"
        sample, splits = register(home)
        bodies = payloads(sample)
        servers: dict[str, dict] = {}
        with shopfloor_server(home, [], "shopfloor") as url:
            servers["shopfloor"] = measure(
                "shopfloor",
                {"v1": f"{url}/v1/models/{MODEL}:predict", "v2": f"{url}/v2/models/{MODEL}/infer"},
                bodies,
                args.seconds,
                home,
            )
        with shopfloor_server(home, ["--kserve-routes"], "kserve") as url:
            servers["shopfloor-kserve-routes"] = measure(
                "shopfloor-kserve-routes",
                {"v1": f"{url}/v1/models/{MODEL}:predict", "v2": f"{url}/v2/models/{MODEL}/infer"},
                bodies,
                args.seconds,
                home,
            )
        with mlflow_server(home) as url:
            servers["mlflow"] = measure("mlflow", {"v1": f"{url}/invocations"}, bodies, args.seconds, home)
        venv = Path(args.mlserver)
        if (venv / "bin" / "mlserver").exists():
            try:
                with mlserver_server(home, venv, splits, sample["columns"]) as url:
                    servers["mlserver"] = measure(
                        "mlserver", {"v2": f"{url}/v2/models/{MODEL}/infer"}, bodies, args.seconds, home
                    )
            except (RuntimeError, TimeoutError) as exc:
                servers["mlserver"] = {"error": str(exc)[:500]}
        else:
            servers["mlserver"] = {"error": f"no MLServer in {venv} (see the module docstring to install it)"}
        with bare_server(home) as url:
            servers["bare-asgi"] = measure(
                "bare-asgi", {"v1": f"{url}/v1", "v2": f"{url}/v2"}, bodies, args.seconds, home
            )
        figures["servers"] = servers
        # workers: 1 on core 0 against 2 on cores 0-1 (wrk on core 1 in both)
        scaling = {}
        for workers, cores in ((1, "0"), (2, "0,1")):
            with shopfloor_server(home, [], f"w{workers}", workers=workers, cores=cores) as url:
                scaling[str(workers)] = wrk(
                    f"{url}/v1/models/{MODEL}:predict", bodies["v1_one"], 16, args.seconds, home
                )
        figures["workers"] = {
            **scaling,
            "ratio_2_over_1": scaling["2"]["rps"] / scaling["1"]["rps"],
            "note": "2 cores: the second worker shares its core with wrk",
        }
        grpc_port = free_port()
        with shopfloor_server(home, ["--grpc-port", str(grpc_port)], "grpc") as url:
            figures["grpc"] = grpc_rate(grpc_port, sample["row"], args.seconds)
        print("gRPC:", figures["grpc"], flush=True)
        # Locust through shopfloor loadtest's own runner: the paper's profile, then a step profile
        with shopfloor_server(home, [], "locust") as url:
            paper = run_locust(
                url, home / "paper", users=20, rate=10, duration=args.locust_seconds, protocol="both", processes=1
            )
            figures["locust_paper_profile"] = paper.to_dict()
            profile = step_profile(
                url,
                home / "steps",
                rates=[500, 1000, 1500, 2000, 2500, 3000, 4000],
                step="15s",
                protocol="v1",
                processes=1,
            )
            figures["locust_step_profile"] = profile
    own, bare = servers["shopfloor"], servers["bare-asgi"]
    ratios = {}
    for key in ("v1_one_row", "v2_one_row"):
        ratios[key] = {"to_bare_asgi": own[key]["saturation_rps"] / bare[key]["saturation_rps"]}
        for peer in ("mlflow", "mlserver", "shopfloor-kserve-routes"):
            if key in servers.get(peer, {}):
                ratios[key][f"over_{peer}"] = own[key]["saturation_rps"] / servers[peer][key]["saturation_rps"]
    figures["ratios_at_saturation"] = ratios
    # capacity: one core's rate within the SLA; a 0.5-CPU replica gets half; 30 % headroom for bursts
    per_core = own["v1_one_row"]["rps_at_p99_10ms"]
    per_replica = 0.5 * per_core * 0.7
    figures["capacity"] = {
        "per_core_rps_at_p99_10ms": per_core,
        "replica_cpu": 0.5,
        "headroom": 0.3,
        "per_replica_rps_planned": round(per_replica),
        "method": "replicas = ceil(target / (0.5 CPU x per-core RPS at p99 <= 10 ms x 0.7))",
        "replicas": {str(t): math.ceil(t / per_replica) for t in (200, 2000, 20000)},
    }
    figures["command"] = f"benchmarks/serving.py --seconds {args.seconds:g}"
    save("serving", figures)


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
