"""Baseline vs WGAN-augmented logistic regression on AI4I 2020, over 5 stratified splits.

Label `Machine failure`; UDI, Product ID and the five failure-mode columns dropped; `Type` one-hot.
Each split seed gives a different stratified train/valid/test split (60/20/20); the WGAN is tuned
by Optuna on that split's training failures. Reported: test F1, F2, recall, G-mean, mean and sd.

    .venv/bin/python benchmarks/ai4i_augmentation.py [--trials 6 --timeout 60 --splits 5]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import AI4I, AI4I_CATEGORICAL, AI4I_DROP, AI4I_LABEL, mean_sd, run_steps, save  # noqa: E402

METRICS = ("f1", "f2", "recall", "g_mean", "precision")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--splits", type=int, default=5)
    parser.add_argument("--trials", type=int, default=6)
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args()
    per_split = []
    start = time.perf_counter()
    for seed in range(args.splits):
        summary = run_steps(AI4I, AI4I_LABEL, seed, n_trials=args.trials, timeout=args.timeout,
                            drop=AI4I_DROP, categorical=AI4I_CATEGORICAL)
        per_split.append(summary)
        print(f"split {seed}: " + ", ".join(f"{m} F2 {s['test']['f2']:.3f}" for m, s in summary["models"].items()),
              flush=True)
    table = {model: {k: mean_sd([s["models"][model]["test"][k] for s in per_split]) for k in METRICS}
             for model in ("baseline", "wgan")}
    gain = table["wgan"]["f2"]["mean"] - table["baseline"]["f2"]["mean"]
    save("ai4i_augmentation", {
        "command": f"benchmarks/ai4i_augmentation.py --splits {args.splits} --trials {args.trials} "
                   f"--timeout {args.timeout}",
        "data": "AI4I 2020, 10,000 rows, 339 failures", "splits": args.splits, "test_metrics": table,
        "f2_gain_wgan_over_baseline": gain,
        "fidelity_ks_complement": mean_sd([s["synthesizers"]["wgan"]["fidelity_ks_complement"] for s in per_split]),
        "fidelity_correlation_similarity": mean_sd([s["synthesizers"]["wgan"]["fidelity_correlation_similarity"]
                                                    for s in per_split]),
        "kept_synthetic_rows": mean_sd([s["filters"]["wgan"]["kept"] for s in per_split]),
        "needed_synthetic_rows": mean_sd([s["filters"]["wgan"]["needed"] for s in per_split]),
        "wall_seconds": round(time.perf_counter() - start, 1)})


if __name__ == "__main__":
    main()
