"""What an explanation costs beside the answer: the default fault-detection run's champion (`shopfloor run
fault-detection` on the simulated line, default settings, in a fresh data directory), one row and a batch of 100,
scored (`predict_rows`, the served path) and explained (`explain_rows`, KServe's explain route), in this process,
median and 99th percentile of repeated calls; and the same for the other family of `--classifier auto`, fitted on
the same rows, so that both explainers (tree and linear) are measured whichever family the run chose; and the
default health-index run's champion on one unit's rows (the sensors' Shapley shares of its last row's index);
and the ResNet of ``--classifier all``, one row (its values are permutation estimates: 20 coalitions per column).

    .venv/bin/python benchmarks/explain_cost.py [--repeats 200]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(1, str(Path(__file__).resolve().parents[1]))
from common import save  # noqa: E402


def timed(call, repeats: int) -> dict[str, float]:
    call()  # the first call builds the explainer or compiles the scorer
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - started)
    ms = np.array(seconds) * 1000
    return {"p50_ms": float(np.median(ms)), "p99_ms": float(np.quantile(ms, 0.99))}


def measure(model, frame, repeats: int, sizes: tuple[int, ...] = (1, 100)) -> dict:
    out = {}
    for size in sizes:
        rows = model.inputs.from_input(frame.head(size))
        predict = timed(lambda rows=rows: model.predict_rows(rows), repeats)
        explain = timed(lambda rows=rows: model.explain_rows(rows), max(repeats // 4, 20))
        out[f"rows_{size}"] = {
            "predict": predict,
            "explain": explain,
            "explain_over_predict": explain["p50_ms"] / predict["p50_ms"],
            "explain_ms_per_row": explain["p50_ms"] / size,
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=200, help="timed calls per figure (default: %(default)s)")
    args = parser.parse_args()
    from shopfloor.constants import FAULT_MODEL
    from shopfloor.data import ingest as ing
    from shopfloor.fault_detection import train as tr
    from shopfloor.fault_detection.pyfunc import FaultClassifier

    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "SHOPFLOOR_HOME": home, "MLFLOW_TRACKING_URI": f"sqlite:///{home}/mlflow.db"}
        subprocess.run([sys.executable, "-m", "shopfloor_cli.main", "run", "fault-detection"], env=env, check=True)
        os.environ.update(SHOPFLOOR_HOME=home, MLFLOW_TRACKING_URI=env["MLFLOW_TRACKING_URI"])
        from shopfloor.registry import champion_version, load_version

        champion = load_version(FAULT_MODEL, str(champion_version(FAULT_MODEL, "champion").version))
        data = Path(home) / "data"
        table = ing.read_table(next(data.glob("gearbox_*.csv")))
        prepared = ing.prepare(table, "faulty")
        splits = ing.split(prepared)
        frame = splits.test.drop(columns=[ing.LABEL]).reset_index(drop=True)
        family = type(champion.estimator.steps[-1][1]).__name__
        results = {"champion": {"family": family, **measure(champion, frame, args.repeats)}}
        other = "logreg" if "Gradient" in family else "hgb"
        pre = champion.estimator.steps[0][1]
        rival = tr.fit_classifier(ing.transform(pre, splits.train), kind=other)
        model = FaultClassifier(tr.full_model(pre, rival), champion.inputs)
        results["other_family"] = {"family": type(rival).__name__, **measure(model, frame, args.repeats)}
        resnet = tr.fit_classifier(ing.transform(pre, splits.train), kind="resnet")  # --classifier all's third
        model = FaultClassifier(tr.full_model(pre, resnet), champion.inputs)
        results["resnet"] = {"family": type(resnet).__name__, **measure(model, frame, 20, sizes=(1,))}
        subprocess.run([sys.executable, "-m", "shopfloor_cli.main", "run", "health-index"], env=env, check=True)
        from shopfloor.constants import HEALTH_MODEL

        health = load_version(HEALTH_MODEL, str(champion_version(HEALTH_MODEL, "champion").version))
        units = ing.read_table(next(data.glob("run_to_failure_*.csv")))
        unit = units[units["unit"] == units["unit"].iloc[0]][list(health.inputs.names)]
        rows = health.inputs.from_input(unit)
        predict = timed(lambda: health.predict_rows(rows), args.repeats)
        explain = timed(lambda: health.explain_rows(rows), 10)
        results["health_index"] = {
            "method": health.method,
            "unit_rows": len(unit),
            "sensors": len(health.features),
            "predict": predict,
            "explain": explain,
            "explain_over_predict": explain["p50_ms"] / predict["p50_ms"],
        }
    save("explain_cost", {**results, "command": "benchmarks/explain_cost.py " + " ".join(sys.argv[1:])})


if __name__ == "__main__":
    main()
