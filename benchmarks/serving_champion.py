"""What the default fault-detection pipeline registers, served: the scoring path and the server's throughput.

Runs ``shopfloor run fault-detection`` with its defaults in a throwaway data directory (or takes a directory that
already holds a champion, ``--home``), then, on the registered champion:

* the fault probability of one row and of 100 rows through the compiled path the server uses
  (``FaultClassifier.scorer``) and through the fitted scikit-learn pipeline, timed in this process;
* ``shopfloor serve`` (one worker, pinned to core 0) under wrk (one thread, pinned to core 1): v1 one row at
  8 connections, and a v1 batch of 100 rows at 4 connections; a bare ASGI app on the same payloads in the same
  run (the ceiling of Python HTTP here), and the ratio.

    .venv/bin/python benchmarks/serving_champion.py [--seconds 5] [--home DIR]
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

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import save  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("serving_benchmark", Path(__file__).parent / "serving.py")
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)  # its wrk and server helpers (a module name that does not shadow ``serving``)


def champion_home(home: Path | None) -> Path:
    if home is not None:
        return home
    home = Path(tempfile.mkdtemp(prefix="shopfloor-champion-"))
    env = {**os.environ, "SHOPFLOOR_HOME": str(home)}
    env.pop("MLFLOW_TRACKING_URI", None)
    subprocess.run([sys.executable, "-m", "shopfloor_cli.main", "run", "fault-detection"], cwd=ROOT, env=env,
                   check=True, stdout=subprocess.DEVNULL)
    return home


def per_call_ms(fn, batch, seconds: float = 2.0) -> dict[str, float]:
    fn(batch)
    times = []
    began = time.perf_counter()
    while time.perf_counter() - began < seconds:
        start = time.perf_counter()
        fn(batch)
        times.append(time.perf_counter() - start)
    ms = np.asarray(times) * 1e3
    return {"p50_ms": round(float(np.percentile(ms, 50)), 4), "p99_ms": round(float(np.percentile(ms, 99)), 4),
            "calls": len(ms)}


def scoring_paths(home: Path) -> tuple[dict, dict, list[dict]]:
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{home / 'mlflow.db'}"
    from shopfloor.data.simulate import simulate_gearbox
    from shopfloor.registry import champion_contract, load_version

    contract = champion_contract(bench.MODEL)
    model = load_version(bench.MODEL, str(contract.version.version))
    from mlflow import MlflowClient

    chosen = MlflowClient().get_run(contract.version.run_id).data.params.get("chosen_model")
    rows = simulate_gearbox(rows=200, seed=11)[model.inputs.names]
    one, hundred = model.inputs.from_input(rows.head(1)), model.inputs.from_input(rows.head(100))
    paths = {"compiled": model.scorer(), "pipeline": model._pipeline_proba}
    figures = {name: {"one_row": per_call_ms(fn, one), "100_rows": per_call_ms(fn, hundred)}
               for name, fn in paths.items()}
    agree = float(np.abs(paths["compiled"](hundred) - paths["pipeline"](hundred)).max())
    info = {"version": str(contract.version.version), "chosen": chosen,
            "scorer": paths["compiled"].__qualname__.split(".")[0], "largest_difference_100_rows": agree,
            "speedup_one_row": round(figures["pipeline"]["one_row"]["p50_ms"]
                                     / figures["compiled"]["one_row"]["p50_ms"], 1)}
    records = rows.to_dict(orient="records")
    return info, figures, records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="wrk duration per measurement")
    parser.add_argument("--home", type=Path, help="a data directory whose MLflow store holds the champion")
    args = parser.parse_args()
    home = champion_home(args.home)
    info, paths, records = scoring_paths(home)
    figures: dict = {"champion": info, "scoring_ms": paths}
    one = json.dumps({"instances": records[:1]}).encode()
    batch = json.dumps({"instances": records[:100]}).encode()
    tmp = Path(tempfile.mkdtemp(prefix="shopfloor-wrk-"))
    served: dict = {}
    with bench.shopfloor_server(home, [], "shopfloor") as url:
        target = f"{url}/v1/models/{bench.MODEL}:predict"
        served["shopfloor"] = {"one_row_8c": bench.wrk(target, one, 8, args.seconds, tmp),
                               "batch_100_4c": bench.wrk(target, batch, 4, args.seconds, tmp)}
    with bench.bare_server(home) as url:
        served["bare_asgi"] = {"one_row_8c": bench.wrk(f"{url}/", one, 8, args.seconds, tmp),
                               "batch_100_4c": bench.wrk(f"{url}/", batch, 4, args.seconds, tmp)}
    figures["served"] = served
    figures["ratio_to_bare_asgi"] = {k: round(served["shopfloor"][k]["rps"] / served["bare_asgi"][k]["rps"], 3)
                                     for k in served["shopfloor"]}
    figures["rows_per_s_batch_100"] = round(100 * served["shopfloor"]["batch_100_4c"]["rps"])
    save("serving_champion", figures)


if __name__ == "__main__":
    main()
