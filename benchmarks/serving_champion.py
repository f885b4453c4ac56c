"""What the default pipelines register, served: each kind's champion on its scoring path and in the server.

For every pipeline (fault detection, health index, anomaly detection, prognosis, surface inspection) this runs
``shopfloor run PIPELINE`` with its defaults in a data directory of its own (or takes one that already holds its
champion: ``--homes DIR`` with one folder per pipeline), then, on the registered champion:

* one request (a row, a unit's shortest scorable history, a sub-cut, a wear curve) and one of 100, scored in this
  process pinned to one core (``predict_rows``, what the server calls), p50 and p99; for the fault classifier also its
  compiled path against the fitted scikit-learn pipeline, and their largest difference;
* ``shopfloor serve`` (one worker, pinned to core 0) under wrk (one thread, pinned to core 1): v1 and v2 one row
  at 8 connections, a v1 batch of 100 at 4 connections, and KServe's gRPC endpoint one row at 8 concurrent calls
  (``grpc_load``); a bare ASGI app on the same v1 payloads in the same run (the ceiling of Python HTTP through
  ASGI here), and the same fixed answer written from uvicorn's HTTP protocol beneath ASGI (the ceiling of the
  server's direct path), and the ratio to each; how many one-row requests the server answered per turn of its
  event loop;
* for the fault classifier, ``shopfloor loadtest`` (Locust, 200 users x 10 requests/s: 2,000 req/s offered) against
  the same champion served on its own core, with its SLA verdict (p95 under 56 ms, no errors).

    apt-get install wrk
    .venv/bin/python benchmarks/serving_champion.py [--seconds 5] [--homes DIR] [--pipelines fault-detection,...]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import champion_home, save  # noqa: E402

from shopfloor.constants import (  # noqa: E402
    ANOMALY_MODEL,
    FAULT_MODEL,
    HEALTH_MODEL,
    PROGNOSIS_MODEL,
    SURFACE_MODEL,
)

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("serving_benchmark", Path(__file__).parent / "serving.py")
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)  # its wrk and server helpers (a module name that does not shadow ``serving``)

MODELS = {
    "fault-detection": FAULT_MODEL,
    "health-index": HEALTH_MODEL,
    "anomaly-detection": ANOMALY_MODEL,
    "prognosis": PROGNOSIS_MODEL,
    "surface-inspection": SURFACE_MODEL,
}
BATCH = 100


def requests(pipeline: str, model) -> tuple[list[Any], list[Any]]:
    """The v1 instances of one request and of a request of ``BATCH`` for the pipeline's model, from the simulators
    its default run trains on. One request is one row, one sub-cut, one wear curve; for the health index, the
    shortest history a unit can be scored on (its window of steps)."""
    names = model.inputs.names
    if pipeline == "fault-detection":
        from shopfloor.data.simulate import simulate_gearbox

        rows = simulate_gearbox(rows=BATCH, seed=11)[names].to_dict(orient="records")
        return rows[:1], rows
    if pipeline == "health-index":  # one unit's first steps, in time order, as a server is sent a unit's history
        from shopfloor.data.simulate import simulate_run_to_failure

        table = simulate_run_to_failure(units=1, min_life=BATCH + 20, seed=21)
        rows = table.sort_values("time")[names].head(BATCH).to_dict(orient="records")
        return rows[: max(1, model.min_rows)], rows
    if pipeline == "anomaly-detection":
        from shopfloor.anomaly_detection import data as milling
        from shopfloor.anomaly_detection.simulate import simulate_milling

        windows = milling.subcuts(milling.load_table(simulate_milling(cases=2, seed=11))).X[:BATCH].tolist()
        return windows[:1], windows
    if pipeline == "surface-inspection":  # a good tile as the camera sends it: its PNG file, base64 in JSON
        import base64

        from shopfloor.surface_inspection.simulate import simulate_surfaces

        folder = simulate_surfaces(Path(tempfile.mkdtemp(prefix="shopfloor-tiles-")), counts={"good": 1}, seed=31)
        image = base64.b64encode(next((folder / "good").glob("*.png")).read_bytes()).decode()
        return [{"b64": image}], [{"b64": image}] * BATCH
    from shopfloor.prognosis.wear_model import wear_table  # a tool's wear so far, after each of its first ten cuts

    curve = wear_table(cases=1, seed=5)["VB"].tolist()[:10]
    return [curve], [curve] * BATCH


def v2_tensor(schema, batch: list[Any]) -> dict:
    """The same instances as one Open Inference Protocol tensor, as the schema builds a v2 request (a tabular model
    without string columns: one [n, columns] tensor; the wear curves here share one length, so their ``length``
    tensor is left out)."""
    return schema.v2_request(batch)[0]


def per_call_ms(fn, batch, seconds: float = 2.0) -> dict[str, float]:
    fn(batch)
    times = []
    began = time.perf_counter()
    while time.perf_counter() - began < seconds:
        start = time.perf_counter()
        fn(batch)
        times.append(time.perf_counter() - start)
    ms = np.asarray(times) * 1e3
    return {
        "p50_ms": round(float(np.percentile(ms, 50)), 4),
        "p99_ms": round(float(np.percentile(ms, 99)), 4),
        "calls": len(ms),
    }


def in_process(pipeline: str, home: Path) -> tuple[dict, tuple[list[Any], list[Any]], Any]:
    """The champion scored in this process on one core: one instance and ``BATCH``; the fault classifier's compiled
    path against its pipeline."""
    from mlflow import MlflowClient

    from shopfloor.registry import champion_contract, load_version, use_tracking

    use_tracking(f"sqlite:///{home / 'mlflow.db'}")

    name = MODELS[pipeline]
    contract = champion_contract(name)
    model = load_version(name, str(contract.version.version))
    run = MlflowClient().get_run(contract.version.run_id).data
    params = run.params
    first, batch = requests(pipeline, model)
    one, many = (model.inputs.parse_v1({"instances": b}) for b in (first, batch))
    affinity = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {0})
    torch = sys.modules.get("torch")  # a process on one core sizes its pool to one thread, as the server does
    threads = torch.get_num_threads() if torch else None
    if torch:
        torch.set_num_threads(1)
    try:
        figures: dict = {
            "version": str(contract.version.version),
            "kind": contract.kind,
            "chosen": run.tags.get("shopfloor.chosen")
            or params.get("chosen_model")
            or params.get("chosen")
            or contract.details.get("method"),
            "predict_rows_ms": {
                "one": per_call_ms(model.predict_rows, one),
                f"batch_{BATCH}": per_call_ms(model.predict_rows, many),
            },
        }
        if pipeline == "fault-detection":
            paths = {"compiled": model.scorer(), "pipeline": model._pipeline_proba}
            figures["scoring_ms"] = {
                k: {"one": per_call_ms(fn, one), f"batch_{BATCH}": per_call_ms(fn, many)} for k, fn in paths.items()
            }
            figures["scorer"] = paths["compiled"].__qualname__.split(".")[0]
            figures["forest"] = forest_paths(model, batch)
            figures["largest_difference"] = float(np.abs(paths["compiled"](many) - paths["pipeline"](many)).max())
    finally:
        os.sched_setaffinity(0, affinity)
        if torch:
            torch.set_num_threads(threads)
    return figures, (first, batch), model.inputs


def forest_paths(model, batch: list[Any]) -> dict:
    """The gradient-boosting trees alone on encoded rows, one row and ``BATCH``: the compiled kernel (what the server
    runs), the level-by-level numpy walk (its independent check) and scikit-learn's own ``_raw_predict``."""
    from shopfloor.fault_detection.compiled import Forest, column_encoder

    steps = model.estimator.steps
    classifier = steps[-1][1]
    forest = Forest(classifier)
    encode = column_encoder(steps[0][1], model.inputs)
    x = encode(model.inputs.parse_v1({"instances": batch}))
    paths = {"compiled": forest.raw, "walk": forest.walk, "scikit-learn": classifier._raw_predict}
    return {
        "trees": len(forest.roots),
        "nodes": len(forest.value),
        "deepest": forest.depth,
        **{name: {"one": per_call_ms(fn, x[:1]), f"batch_{BATCH}": per_call_ms(fn, x)} for name, fn in paths.items()},
        "bit_equal_to_scikit_learn": bool(np.array_equal(forest.raw(x), classifier._raw_predict(x).ravel())),
        "largest_difference": float(np.abs(forest.raw(x) - forest.walk(x)).max()),
    }


def loadtest(home: Path, out: Path) -> dict:
    """``shopfloor loadtest`` at 2,000 requests/s offered against the champion served on its own core: its SLA line
    (verdict, achieved rate, p95, errors, the generator's CPU)."""
    import re

    env = {**os.environ, "SHOPFLOOR_HOME": str(home), "MLFLOW_TRACKING_URI": f"sqlite:///{home / 'mlflow.db'}"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "shopfloor_cli.main",
            "loadtest",
            "--serve-local",
            "--users",
            "200",
            "--rate",
            "10",
            "--duration",
            "30s",
            "--out",
            str(out),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    line = next((x for x in done.stdout.splitlines() if x.startswith("SLA ")), "")
    figures: dict = {"exit": done.returncode, "offered_rps": 2000, "sla": line or done.stderr[-1500:]}
    for key, pattern in (
        ("achieved_rps", r"achieved (\d+)"),
        ("p95_ms", r"p95 (\d+) ms"),
        ("error_percent", r"errors ([\d.]+)%"),
        ("generator_cpu_percent", r"busiest at (\d+) %"),
    ):
        found = re.search(pattern, line)
        figures[key] = float(found.group(1)) if found else None
    figures["passed"] = done.returncode == 0
    return figures


def served(pipeline: str, home: Path, bodies: tuple[list[Any], list[Any]], schema, seconds: float, tmp: Path) -> dict:
    name = MODELS[pipeline]
    first, batch = bodies
    one_v1 = json.dumps({"instances": first}).encode()
    many_v1 = json.dumps({"instances": batch}).encode()
    one_v2 = json.dumps({"inputs": [v2_tensor(schema, first)]}).encode()
    grpc_port = bench.free_port()
    out: dict = {}
    with bench.shopfloor_server(home, ["--grpc-port", str(grpc_port)], f"serve-{pipeline}", model=name) as url:
        v1, v2 = f"{url}/v1/models/{name}:predict", f"{url}/v2/models/{name}/infer"
        before = answered_together(url, name)
        out["shopfloor"] = {"v1_one_8c": bench.wrk(v1, one_v1, 8, seconds, tmp)}
        calls, requests = (after - earlier for after, earlier in zip(answered_together(url, name), before, strict=True))
        out["shopfloor"]["v1_one_8c"]["requests_per_turn"] = round(requests / calls, 2) if calls else None
        out["shopfloor"] |= {
            "v2_one_8c": bench.wrk(v2, one_v2, 8, seconds, tmp),
            f"v1_batch_{BATCH}_4c": bench.wrk(v1, many_v1, 4, seconds, tmp),
            "grpc_one_8": bench.grpc_rate(grpc_port, v2_tensor(schema, first), seconds, model=name),
        }
    with bench.bare_server(home) as url:
        out["bare_asgi"] = {
            "v1_one_8c": bench.wrk(f"{url}/", one_v1, 8, seconds, tmp),
            f"v1_batch_{BATCH}_4c": bench.wrk(f"{url}/", many_v1, 4, seconds, tmp),
        }
    with bench.bare_server(home, protocol=True) as url:
        out["bare_protocol"] = {
            "v1_one_8c": bench.wrk(f"{url}/", one_v1, 8, seconds, tmp),
            f"v1_batch_{BATCH}_4c": bench.wrk(f"{url}/", many_v1, 4, seconds, tmp),
        }
    for ceiling in ("bare_asgi", "bare_protocol"):
        out[f"ratio_to_{ceiling}"] = {
            k: round(out["shopfloor"][k]["rps"] / out[ceiling][k]["rps"], 3) for k in out[ceiling]
        }
    return out


def answered_together(url: str, model: str) -> tuple[float, float]:
    """(turns, requests) of the server's ``shopfloor_requests_answered_together`` histogram so far."""
    import re
    import urllib.request

    with urllib.request.urlopen(f"{url}/metrics") as page:
        text = page.read().decode()
    found = [
        re.search(rf'shopfloor_requests_answered_together_{part}{{model="{model}"}} (\S+)', text)
        for part in ("count", "sum")
    ]
    return tuple(float(m.group(1)) if m else 0.0 for m in found)  # type: ignore[return-value]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="wrk duration per measurement")
    parser.add_argument("--homes", type=Path, help="one data directory per pipeline (trained there when empty)")
    parser.add_argument("--pipelines", default=",".join(MODELS), help="comma-separated (default: all)")
    parser.add_argument("--no-loadtest", action="store_true", help="leave out the Locust run")
    args = parser.parse_args()
    homes = args.homes or Path(tempfile.mkdtemp(prefix="shopfloor-champions-"))
    tmp = Path(tempfile.mkdtemp(prefix="shopfloor-wrk-"))
    path = ROOT / "benchmarks" / "results" / "serving_champion.json"
    kept = json.loads(path.read_text()).get("kinds", {}) if path.exists() and args.pipelines != ",".join(MODELS) else {}
    figures: dict = {"homes": str(homes), "kinds": kept}  # a run of some pipelines keeps the others' figures
    for pipeline in args.pipelines.split(","):
        home, trained = champion_home(pipeline, homes)
        kind, bodies, schema = in_process(pipeline, home)
        kind["trained_s"] = trained
        kind["served"] = served(pipeline, home, bodies, schema, args.seconds, tmp)
        if pipeline == "fault-detection" and not args.no_loadtest:
            kind["loadtest"] = loadtest(home, tmp / "loadtest")
        figures["kinds"][pipeline] = kind
        one = kind["predict_rows_ms"]["one"]
        print(
            f"{pipeline}: {kind['chosen']} one request p50 {one['p50_ms']:.3f} ms p99 {one['p99_ms']:.3f} ms; "
            f"v1 one row {kind['served']['shopfloor']['v1_one_8c']['rps']:.0f} req/s, "
            f"{kind['served']['ratio_to_bare_asgi']['v1_one_8c']:.2f} of bare ASGI, "
            f"{kind['served']['ratio_to_bare_protocol']['v1_one_8c']:.2f} of a bare HTTP protocol",
            flush=True,
        )
        save("serving_champion", figures)


if __name__ == "__main__":
    main()
