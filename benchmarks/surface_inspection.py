"""Surface inspection on a folder of class folders (by default the magnetic tile images), both modes over several
seeds on one fixed stratified split, every row of each comparison with its test figures, the fidelity of the
synthetic defect images and the time of each step.

    .venv/bin/python benchmarks/surface_inspection.py [--data DIR --good-class NAME] [--seeds 0,1,2]

Classify mode chooses on validation AP; the chosen row's test figures and what the synthetic images add to the
plain CNN they extend (the better of class weights and classic augmentation on validation; test AP difference,
mean and spread over seeds) are reported. Detect mode learns the good training images only; the
``--held-out`` defect kinds are in the test images alone, and the ROC-AUC on them is the figure of a defect
nobody labelled. Fidelity: a gradient-boosting classifier of real against synthetic defect images on texture
statistics, cross-validated ROC-AUC (0.5: it cannot tell them apart).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import save  # noqa: E402

from shopfloor.platform.cpus import available_cpus  # noqa: E402


def fbeta(truth: np.ndarray, flagged: np.ndarray, beta: float = 2.0) -> float:
    tp = float((truth & flagged).sum())
    precision = tp / max(flagged.sum(), 1)
    recall = tp / max(truth.sum(), 1)
    return 0.0 if tp == 0 else (1 + beta**2) * precision * recall / (beta**2 * precision + recall)


def fidelity(real: np.ndarray, synthetic: np.ndarray, seed: int) -> float:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import cross_val_score

    from shopfloor.surface_inspection.features import texture_features

    n = min(len(real), len(synthetic))
    x = np.concatenate([texture_features(real[:n]), texture_features(synthetic[:n])])
    y = np.repeat([0, 1], n)
    model = HistGradientBoostingClassifier(random_state=seed)
    return float(cross_val_score(model, x, y, cv=5, scoring="roc_auc").mean())


def run_seed(data, args, seed: int) -> dict:
    from sklearn.metrics import average_precision_score, roc_auc_score

    from shopfloor.surface_inspection import classify, detect
    from shopfloor.surface_inspection import synthesis as syn
    from shopfloor.surface_inspection.data import split

    ae = syn.AutoencoderConfig(steps=args.ae_steps, filters=args.filters)
    fl = syn.FlowConfig(steps=args.flow_steps)
    out: dict = {"seed": seed}

    # classify: the autoencoder and flow learn the training defect images (all kinds pooled, as the authors do)
    train, valid, test = split(data, seed=0)
    started = time.perf_counter()
    defects = train.images[train.defect == 1]
    autoencoder, ae_info = syn.fit_autoencoder(defects, ae, seed)
    flow, flow_info = syn.fit_flow(autoencoder, defects, fl, seed)
    out["synthesis"] = {**ae_info, **flow_info, "seconds": time.perf_counter() - started}
    draws = {"count": 0}

    def synthesize(n: int, use_flow: bool) -> np.ndarray:
        draws["count"] += 1
        return syn.sample(autoencoder, n, flow if use_flow else None, seed=1000 * seed + draws["count"])

    out["fidelity_auc"] = {
        "flow": fidelity(defects, syn.sample(autoencoder, len(defects), flow, seed=seed), seed),
        "gaussian": fidelity(defects, syn.sample(autoencoder, len(defects), None, seed=seed), seed),
        "reconstruction": fidelity(defects, syn.decode(autoencoder, syn.encode(autoencoder, defects)), seed),
    }
    rows = classify.compare(
        train.images,
        train.defect,
        valid.images,
        valid.defect,
        synthesize,
        config=classify.CNNConfig(epochs=args.epochs),
        seed=seed,
    )
    best = classify.chosen(rows)
    table = []
    for r in rows:
        p = r.score(test.images)
        valid_p = r.score(valid.images)
        grid = np.unique(valid_p)
        f2s = [fbeta(valid.defect == 1, valid_p >= t) for t in grid]
        threshold = float(grid[int(np.argmax(f2s))])
        table.append(
            {
                "method": r.name,
                "valid_ap": r.valid_ap,
                "valid_auc": r.valid_auc,
                "test_ap": float(average_precision_score(test.defect, p)),
                "test_auc": float(roc_auc_score(test.defect, p)),
                "test_f2": fbeta(test.defect == 1, p >= threshold),
                "seconds": r.seconds,
                "chosen": r is best,
            }
        )
    for row in table:  # synthetic rows are named after the plain row they extend, which may differ by seed
        if "+" in row["method"]:
            base, _, added = row["method"].partition("+")
            plain = next(r for r in table if r["method"] == base)
            row.update(method=f"best-plain+{added}", base=base, test_ap_gain=row["test_ap"] - plain["test_ap"])
    out["classify"] = table

    # detect: good training images only; the held-out kinds appear in the test images alone
    train, valid, test = split(data, seed=0, held_out=tuple(args.held_out))
    rows, _ = detect.compare(train.images[train.defect == 0], valid.images, valid.defect, ae, fl, seed=seed)
    best_detector = detect.chosen(rows)
    unseen = np.isin(test.labels, args.held_out) | (test.defect == 0)
    table = []
    for r in rows:
        s = r.score(test.images)
        table.append(
            {
                "method": r.name,
                "valid_auc": r.valid_auc,
                "threshold": r.threshold,
                "test_auc": float(roc_auc_score(test.defect, s)),
                "test_auc_unseen_kinds": float(roc_auc_score(test.defect[unseen], s[unseen])),
                "test_ap": float(average_precision_score(test.defect, s)),
                "test_f2": fbeta(test.defect == 1, s >= r.threshold),
                "good_flagged": float((s[test.defect == 0] >= r.threshold).mean()),
                "seconds": r.seconds,
                "chosen": r is best_detector,
            }
        )
    out["detect"] = table
    return out


def summary(runs: list[dict], mode: str, keys: tuple[str, ...]) -> list[dict]:
    methods = [r["method"] for r in runs[0][mode]]
    rows = []
    for m in methods:
        found = [next(r for r in run[mode] if r["method"] == m) for run in runs]
        row = {"method": m, "chosen_in": sum(f["chosen"] for f in found)}
        for k in keys:
            values = np.array([f[k] for f in found])
            row[k] = float(values.mean())
            row[f"{k}_sd"] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
        rows.append(row)
    return rows


def main() -> None:
    import torch

    from shopfloor.surface_inspection.data import load
    from shopfloor.surface_inspection.synthesis import AutoencoderConfig, FlowConfig

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="../shared/datasets/magnetic_tile", help="a folder of class folders")
    parser.add_argument("--good-class", default="MT_Free", help="the defect-free class (default: %(default)s)")
    parser.add_argument("--held-out", default="MT_Crack", help="defect kinds only in the test images")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--ae-steps", type=int, default=AutoencoderConfig.steps)
    parser.add_argument("--flow-steps", type=int, default=FlowConfig.steps)
    parser.add_argument("--filters", type=int, default=AutoencoderConfig.filters)
    parser.add_argument("--epochs", type=int, default=25, help="CNN epochs")
    parser.add_argument("--name", default="surface_inspection")
    args = parser.parse_args()
    args.held_out = [k for k in args.held_out.split(",") if k]
    torch.set_num_threads(available_cpus())
    data = load(args.data, good_class=args.good_class)
    runs = []
    for seed in [int(s) for s in args.seeds.split(",")]:
        started = time.perf_counter()
        runs.append(run_seed(data, args, seed) | {"seconds": time.perf_counter() - started})
        print(json.dumps(runs[-1], indent=1)[:3000], flush=True)
    result = {
        "data": {
            "path": args.data,
            "images": len(data),
            "classes": {str(k): int(v) for k, v in zip(*np.unique(data.labels, return_counts=True), strict=True)},
            "held_out": args.held_out,
        },
        "settings": {k: v for k, v in vars(args).items() if k not in ("data", "name")},
        "cpus": available_cpus(),
        "classify": summary(runs, "classify", ("valid_ap", "test_ap", "test_auc", "test_f2", "seconds")),
        "detect": summary(
            runs, "detect", ("valid_auc", "test_auc", "test_auc_unseen_kinds", "test_f2", "good_flagged", "seconds")
        ),
        "fidelity_auc": {k: float(np.mean([r["fidelity_auc"][k] for r in runs])) for k in runs[0]["fidelity_auc"]},
        "runs": runs,
    }
    for row in result["classify"]:
        if row["method"].startswith("best-plain+"):
            gains = np.array(
                [next(r["test_ap_gain"] for r in run["classify"] if r["method"] == row["method"]) for run in runs]
            )
            row["test_ap_gain_over_plain"] = float(gains.mean())
            row["test_ap_gain_sd"] = float(gains.std(ddof=1)) if len(gains) > 1 else 0.0
            row["plain"] = [next(r["base"] for r in run["classify"] if r["method"] == row["method"]) for run in runs]
    seeds = ",".join(str(r["seed"]) for r in runs)
    result["command"] = f".venv/bin/python benchmarks/surface_inspection.py --data {args.data} --seeds {seeds}"
    save(args.name, result)


if __name__ == "__main__":
    main()
