"""How many posterior draws a served wear forecast needs: error, band coverage and latency against the draw count.

The wear-prognosis model answers each request with ``draws`` posterior draws of the wear parameters pushed through
the conditional flow, then quantiles over the simulated curves. On the default champion (``--home``: a data
directory whose registry holds it), on validation curves simulated with seeds the pipeline's own evaluation never
uses (``--cases`` tools, the first ``--observed`` cuts seen): for each draw count, the median forecast's RMSE and
the 10-90 % band's coverage over the cuts that followed, and their change against 10,000 draws; the same with
10,000 draws under another sampling seed (the Monte-Carlo noise a smaller count must stay within); and one
request's p50/p99 in this process on one core, torch at one thread (what one server worker on one core does).

    .venv/bin/python benchmarks/prognosis_draws.py --home DIR [--cases 60]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import save  # noqa: E402

from shopfloor.constants import PROGNOSIS_MODEL  # noqa: E402

COUNTS = (10_000, 4_000, 2_000, 1_000, 500)


def scores(model, curves: list[np.ndarray], observed: int, draws: int, seed: int) -> dict[str, float]:
    from shopfloor.prognosis.forecast import coverage, forecast, rmse

    errors, covered = [], []
    for curve in curves:
        params = model.posterior.sample(curve[:observed], draws, seed=seed)
        result = forecast(params, curve[:observed], len(curve) - observed, model.limit, seed=seed)
        errors.append(rmse(result.median, curve[observed:]))
        covered.append(coverage(result, curve[observed:]))
    return {"rmse": float(np.mean(errors)), "coverage": float(np.mean(covered))}


def latency(model, curve: np.ndarray, observed: int, draws: int, calls: int = 200) -> dict[str, float]:
    model.draws = draws
    rows = model.inputs.parse_v1({"instances": [curve[:observed].tolist()]})
    model.predict_rows(rows)
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        model.predict_rows(rows)
        times.append(time.perf_counter() - start)
    ms = np.asarray(times) * 1e3
    return {"p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True, help="data directory holding the champion")
    parser.add_argument("--cases", type=int, default=60, help="validation tools simulated (default: %(default)s)")
    parser.add_argument("--observed", type=int, default=10, help="cuts seen per tool (default: %(default)s)")
    args = parser.parse_args()
    import torch

    from shopfloor.prognosis.curves import load_curves
    from shopfloor.prognosis.wear_model import wear_table
    from shopfloor.registry import champion_contract, load_version, use_tracking

    use_tracking(f"sqlite:///{args.home / 'mlflow.db'}")
    contract = champion_contract(PROGNOSIS_MODEL)
    model = load_version(PROGNOSIS_MODEL, contract.version.version)
    curves = [
        c
        for c in load_curves(wear_table(cases=args.cases, seed=7000), "case", "VB", "cut").values()
        if len(c) > args.observed
    ]
    os.sched_setaffinity(0, {0})
    torch.set_num_threads(1)
    served = model.draws
    reference = scores(model, curves, args.observed, 10_000, seed=0)
    noise = scores(model, curves, args.observed, 10_000, seed=1)
    rows = []
    for draws in COUNTS:
        got = scores(model, curves, args.observed, draws, seed=0)
        rows.append(
            {
                "draws": draws,
                **got,
                "rmse_change": got["rmse"] - reference["rmse"],
                "coverage_change": got["coverage"] - reference["coverage"],
                **latency(model, curves[0], args.observed, draws),
            }
        )
        print(rows[-1], flush=True)
    save(
        "prognosis_draws",
        {
            "champion_version": str(contract.version.version),
            "served_draws": served,
            "validation_curves": len(curves),
            "observed_cuts": args.observed,
            "noise_10000_other_seed": {
                "rmse_change": noise["rmse"] - reference["rmse"],
                "coverage_change": noise["coverage"] - reference["coverage"],
            },
            "by_draws": rows,
        },
    )


if __name__ == "__main__":
    main()
