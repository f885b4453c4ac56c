"""Synthesizers on AI4I 2020: generation time, fidelity to the failure rows, and the classifier they train.

For each of 5 stratified splits (60/20/20), each synthesizer is tuned by Optuna on the training
failures (fidelity against the validation failures), filtered (K-means) and used to augment a
logistic regression; baseline, class-weighted baseline and SMOTE are the references. Reported:

* generation time for 1,000 and 10,000 rows (best of 5, fitted synthesizers of split 0);
* fidelity of 4x as many sampled rows as real ones, against the training failures the synthesizer
  saw (as the paper's Table I compares with the original data) and against the held-out failures;
* test F1, F2, recall, G-mean of the six models, mean and sd over the splits.

    .venv/bin/python benchmarks/synthesizers.py [--splits 5 --trials 8 --timeout 90]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from common import AI4I, AI4I_CATEGORICAL, AI4I_DROP, AI4I_LABEL, mean_sd, run_steps, save  # noqa: E402

from shopfloor.data import ingest as ing  # noqa: E402
from shopfloor.synth.base import Synthesizer  # noqa: E402
from shopfloor.synth.fidelity import fidelity_report  # noqa: E402

NAMES = ("wgan", "ctgan", "flow")
MODELS = ("baseline", "class_weighted", "smote", *NAMES)
METRICS = ("f1", "f2", "recall", "g_mean", "precision")
PAPER = {"generation_s": {"wgan": {"1000": 0.14, "10000": 0.32}, "ctgan": {"1000": 0.24, "10000": 0.53}},
         "fidelity": {"wgan": {"ks_complement": 0.759, "correlation_similarity": 0.922},
                      "ctgan": {"ks_complement": 0.799, "correlation_similarity": 0.931}}}


def generation_times(synth: Synthesizer) -> dict[str, float]:
    out = {}
    for n in (1000, 10000):
        runs = []
        for k in range(5):
            start = time.perf_counter()
            synth.sample(n, seed=k)
            runs.append(time.perf_counter() - start)
        out[str(n)] = min(runs)
    return out


def fidelity(folder: Path, synth: Synthesizer) -> dict[str, dict[str, float]]:
    import joblib

    pre = joblib.load(folder / "pre")
    result = {}
    for split in ("train", "valid"):
        frame = ing.transform(pre, pd.read_parquet(folder / split))
        real = frame[frame[ing.LABEL] == 1].drop(columns=[ing.LABEL])
        result[f"vs_{split}_failures"] = fidelity_report(real, synth.sample(4 * len(real), seed=99))
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--splits", type=int, default=5)
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--timeout", type=float, default=90.0)
    args = parser.parse_args()
    start = time.perf_counter()
    per_split, fid, gen = [], {n: [] for n in NAMES}, {}
    for seed in range(args.splits):
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            summary = run_steps(AI4I, AI4I_LABEL, seed, n_trials=args.trials, timeout=args.timeout,
                                drop=AI4I_DROP, categorical=AI4I_CATEGORICAL, synthesizers=NAMES, keep=folder)
            for name in NAMES:
                synth = Synthesizer.load(folder / name / "synthesizer.pt")
                fid[name].append(fidelity(folder, synth))
                if seed == 0:
                    gen[name] = generation_times(synth)
        per_split.append(summary)
        print(f"split {seed}: " + ", ".join(f"{m} {summary['models'][m]['test']['f2']:.3f}" for m in MODELS),
              flush=True)
    table = {m: {k: mean_sd([s["models"][m]["test"][k] for s in per_split]) for k in METRICS} for m in MODELS}
    fidelity_table = {name: {against: {metric: mean_sd([f[against][metric] for f in fid[name]])
                                       for metric in fid[name][0][against]}
                             for against in fid[name][0]} for name in NAMES}
    best_aug = max(NAMES, key=lambda n: table[n]["f2"]["mean"])
    chosen = [s["best"] for s in per_split]
    save("synthesizers", {
        "command": f"benchmarks/synthesizers.py --splits {args.splits} --trials {args.trials} --timeout {args.timeout}",
        "data": "AI4I 2020 (label Machine failure; UDI, Product ID, failure modes dropped; Type one-hot)",
        "generation_seconds": gen, "generation_goal_10000_rows_s": 0.05,
        "fidelity": fidelity_table, "test_metrics": table,
        "best_augmentation_by_mean_test_f2": best_aug,
        "f2_gain_best_augmentation_over_baseline": table[best_aug]["f2"]["mean"] - table["baseline"]["f2"]["mean"],
        "f2_best_augmentation_minus_smote": table[best_aug]["f2"]["mean"] - table["smote"]["f2"]["mean"],
        "model_chosen_on_validation_per_split": chosen,
        "paper": PAPER, "wall_seconds": round(time.perf_counter() - start, 1)})


if __name__ == "__main__":
    main()
