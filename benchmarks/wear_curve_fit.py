"""The prognosis pipeline's rival on the UC Berkeley milling wear curves: each tool's own curve fit.

The rival (``shopfloor.prognosis.curve_fit``) fits Eq. 20 to a tool's first 10 measured cuts under the prior (the
posterior's mode) and draws from the Laplace approximation around it. It runs on the same cases and under the same
protocol as ``benchmarks/wear_prognosis.py``: validation cases 1, 3, 13 and test cases 2, 11, 12, 10,000 draws,
the RMSE of the median forecast over the cuts that followed and the coverage of the 10-90 % band, both priors, the
prior chosen on the validation cases. It needs no training, so it runs in seconds. The flow's and MCMC's figures
are shown beside it as ``wear_prognosis.json`` holds them: the same cases, measured in that benchmark's own run
(training the flow again here would take hours).

    .venv/bin/python benchmarks/wear_curve_fit.py
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import RESULTS, SHARED, save  # noqa: E402

from shopfloor.prognosis.curve_fit import CurveFit  # noqa: E402
from shopfloor.prognosis.curves import CurveWarning, load_curves  # noqa: E402
from shopfloor.prognosis.forecast import coverage, forecast, rmse  # noqa: E402

LABELS = SHARED / "milling" / "labels_with_tool_class.csv"
CASES = {"valid": (1, 3, 13), "test": (2, 11, 12)}
OBSERVED, DRAWS = 10, 10_000


def main() -> None:
    if not LABELS.exists():
        raise SystemExit(f"needs {LABELS} (../shared/datasets/milling)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CurveWarning)
        curves = load_curves(LABELS, "case", "VB", "run")
    priors = {}
    for scale in (1.0, 0.3):
        fit = CurveFit.with_prior_scale(scale)
        cases, seconds = {}, []
        for split, keys in CASES.items():
            for case in keys:
                curve = curves[case]
                started = time.perf_counter()
                draws = fit.sample(curve[:OBSERVED], DRAWS, seed=0)
                result = forecast(draws, curve[:OBSERVED], len(curve) - OBSERVED, seed=0)
                seconds.append(time.perf_counter() - started)
                cases[f"{split}_{case}"] = {
                    "rmse": rmse(result.median, curve[OBSERVED:]),
                    "coverage": coverage(result, curve[OBSERVED:]),
                }
        means = {
            f"{split}_mean_rmse": float(np.mean([cases[f"{split}_{c}"]["rmse"] for c in keys]))
            for split, keys in CASES.items()
        }
        priors[f"prior_{scale:g}"] = {"cases": cases, **means, "median_seconds_per_curve": float(np.median(seconds))}
        print(f"prior {scale:g}: " + ", ".join(f"{k} {v:.4f}" for k, v in means.items()), flush=True)
    chosen = min(priors, key=lambda k: priors[k]["valid_mean_rmse"])
    flow = json.loads((RESULTS / "wear_prognosis.json").read_text())
    flow_prior = f"prior_{flow['chosen_prior']['prior_scale']:g}"
    flow_summary = flow["priors"][flow_prior]["summary"]
    mcmc = flow["mcmc"]["cases"]
    beside = {
        split: {
            "curve_fit": priors[chosen][f"{split}_mean_rmse"],
            "flow": flow_summary[f"{split}_mean_rmse"],
            "mcmc": float(np.mean([mcmc[f"{split}_{c}"]["rmse"] for c in keys])),
        }
        for split, keys in CASES.items()
    }
    save(
        "wear_curve_fit",
        {
            "command": ".venv/bin/python benchmarks/wear_curve_fit.py",
            "settings": {"observed": OBSERVED, "draws": DRAWS, "cases": CASES},
            "priors": priors,
            "chosen_prior": {"prior": chosen, "chosen_on": "mean RMSE of validation cases 1, 3, 13"},
            "mean_rmse_beside_the_flow_and_mcmc": beside,
            "flow_and_mcmc_from": f"wear_prognosis.json, measured {flow['measured_at']} ({flow_prior})",
            "pipeline_would_choose": min(("flow", "curve_fit"), key=lambda m: beside["valid"][m]),  # MCMC is not served
        },
    )


if __name__ == "__main__":
    main()
