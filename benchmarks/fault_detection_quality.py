"""Do synthetic faults earn their place? Every synthesizer x filter against the one-line baselines, on
real (AI4I 2020) and simulated (gearbox) data, over many stratified splits, by the pipeline's own steps.

Per dataset and split seed (60/20/20 train/valid/test, stratified): each synthesizer is tuned on the
training split (``--objective``) and refitted for each cross-validation fold of train + valid and for all
of it; each filter filters every candidate set; then, for each ``--classifiers`` choice (a family, or
``auto``: logistic regression and gradient boosting in the same cross-validation), the train step compares
baseline, class weights, SMOTE, SMOTE through each filter, and every synthesizer x filter, each at its
cross-validated amount of synthetic rows and threshold, and scores each once on the test split. Nothing
is chosen on test: "chosen" is the model the pipeline would register, "best synthesizer" is the
synthesizer row with the best CV score, "best simple" the row with the best CV score among baseline, class
weights and SMOTE (each classifier family), what a practitioner would pick without synthetic rows. Paired
differences per split (chosen - best simple; best synthesizer - SMOTE; test F2) give 95 % t-intervals; the
oracle best simple row on test is reported beside them. A synthesizer whose branch fails is counted, not fatal.
Fidelity is the cross-validated one of the synthesize step (each fold's synthesizer against the faults it
never saw); sampling speed is measured on the final synthesizer.

    .venv/bin/python benchmarks/fault_detection_quality.py --dataset ai4i [--splits 10] [--quick]
    .venv/bin/python benchmarks/fault_detection_quality.py --dataset gearbox

Results go to benchmarks/results/fault_detection_quality_DATASET.json, written after every split.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy import stats

sys.path.insert(0, str(Path(__file__).parent))
from common import AI4I, AI4I_CATEGORICAL, AI4I_DROP, AI4I_LABEL, RESULTS, save  # noqa: E402

from shopfloor import fault_detection as fd  # noqa: E402
from shopfloor.constants import DEFAULT_FILTER, DEFAULT_OBJECTIVE, FILTERS  # noqa: E402
from shopfloor.synth.catalog import NAMES  # noqa: E402

METRICS = ("f1", "f2", "recall", "g_mean", "pr_auc")
SIMPLE = ("baseline", "class_weighted", "smote")


def simple(method: str) -> bool:
    return method.split("/")[0] in SIMPLE


DATASETS = {
    "ai4i": {"label": AI4I_LABEL, "drop": AI4I_DROP, "categorical": AI4I_CATEGORICAL},
    "gearbox": {"label": "faulty", "drop": [], "categorical": []},
}


def dataset_path(name: str, work: Path) -> Path:
    if name == "ai4i":
        if not AI4I.exists():
            sys.exit(f"{AI4I} is missing: the AI4I 2020 table lives in ../shared/datasets")
        return AI4I
    from shopfloor.data.simulate import simulate_gearbox

    path = work / "gearbox.csv"
    simulate_gearbox(rows=3000, seed=0).to_csv(path, index=False)
    return path


def one_split(data: Path, spec: dict, seed: int, args: argparse.Namespace, work: Path) -> dict:
    root = work / f"split{seed}"
    root.mkdir()
    p = {k: str(root / k) for k in ("train", "valid", "test", "pre")}
    fd.ingest_step(
        str(data),
        spec["label"],
        train=p["train"],
        valid=p["valid"],
        test=p["test"],
        preprocessing=p["pre"],
        drop=spec["drop"],
        categorical=spec["categorical"],
        seed=seed,
    )
    cv = {"cv_folds": args.cv_folds, "cv_repeats": args.cv_repeats, "seed": seed}
    kept, synth_info = {}, {}
    for name in args.synthesizers:
        start = time.perf_counter()
        info = fd.synthesize_step(
            p["train"],
            p["valid"],
            p["pre"],
            synthesizer=name,
            synthesizer_dir=str(root / name),
            candidates=str(root / f"{name}.cand"),
            n_trials=args.trials,
            timeout=args.timeout,
            storage=None,
            study_name="bench",
            objective=args.objective,
            max_steps=args.max_steps,
            progress=False,
            **cv,
        )
        seconds = time.perf_counter() - start
        if info.get("failed"):
            synth_info[name] = {"failed": info["error"], "seconds": round(seconds, 1)}
            continue
        from shopfloor.synth.base import Synthesizer

        final = Synthesizer.load(root / name / "synthesizer.pt")
        start = time.perf_counter()
        final.sample(10_000, seed=1)
        synth_info[name] = {
            "seconds": round(seconds, 1),
            "sample_10000_s": round(time.perf_counter() - start, 4),
            **{k: v for k, v in info.items() if k.startswith("fidelity_") or k in ("best", "trials")},
        }
        for method in args.filters:
            out = str(root / f"{name}-{method}.kept")
            fd.filter_step(
                p["train"],
                p["valid"],
                p["pre"],
                str(root / f"{name}.cand"),
                kept=out,
                plot=str(root / f"{name}-{method}.png"),
                method=method,
                synthesizer=name,
                **cv,
            )
            kept[f"{name}-{method}"] = out
    smote_filters = tuple(f for f in args.filters if f != "none")
    by_classifier = {}
    for classifier in args.classifiers:
        summary = fd.train_step(
            p["train"],
            p["valid"],
            p["test"],
            p["pre"],
            kept,
            models_dir=str(root / classifier),
            report=str(root / f"{classifier}.json"),
            plot=str(root / f"{classifier}.png"),
            classifier=classifier,
            filter_method=args.filters[0],
            threshold_metric="f2",
            smote_filters=smote_filters,
            **cv,
        )
        methods = summary["methods"]
        synth_rows = [m for m in methods if m.split("-")[0].split("/")[0] in args.synthesizers]
        simple_rows = [m for m in methods if simple(m)]
        by_classifier[classifier] = {
            "chosen": summary["best"],
            "best_test_row": summary["best_test_method"],
            "best_synthesizer": max(synth_rows, key=lambda m: methods[m]["cv"]["score"]) if synth_rows else None,
            "best_simple": max(simple_rows, key=lambda m: methods[m]["cv"]["score"]),
            "best_simple_on_test": max(simple_rows, key=lambda m: methods[m]["test"]["f2"]),
            "failed": summary["failed"],
            "rows": {
                m: {
                    "test": {k: v["test"][k] for k in METRICS},
                    "cv_score": v["cv"]["score"],
                    "ratio": v["ratio"],
                    "threshold": v["threshold"],
                    "classifier": v["classifier"],
                }
                for m, v in methods.items()
            },
        }
    return {"seed": seed, "synthesizers": synth_info, "classifiers": by_classifier}


def mean_sd(values: list[float]) -> dict[str, float]:
    return {
        "mean": round(float(np.mean(values)), 4),
        "sd": round(float(np.std(values, ddof=1)), 4) if len(values) > 1 else 0.0,
    }


def paired(a: list[float], b: list[float]) -> dict[str, float]:
    """Mean of a - b with its 95 % t-interval over the splits."""
    d = np.asarray(a) - np.asarray(b)
    half = float(stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else float("nan")
    return {
        "mean": round(float(d.mean()), 4),
        "ci95": [round(float(d.mean()) - half, 4), round(float(d.mean()) + half, 4)],
        "wins": int((d > 0).sum()),
        "losses": int((d < 0).sum()),
        "per_split": [round(float(x), 4) for x in d],
    }


def summarize(splits: list[dict], args: argparse.Namespace) -> dict:
    out = {}
    for classifier in args.classifiers:
        runs = [s["classifiers"][classifier] for s in splits]
        rows = sorted({m for r in runs for m in r["rows"]})
        table = {}
        for m in rows:
            present = [r for r in runs if m in r["rows"]]
            table[m] = {k: mean_sd([r["rows"][m]["test"][k] for r in present]) for k in METRICS}
            table[m] |= {"cv_score": mean_sd([r["rows"][m]["cv_score"] for r in present]), "splits": len(present)}
        f2 = {
            key: [r["rows"][r[key]]["test"]["f2"] for r in runs if r[key]]
            for key in ("chosen", "best_test_row", "best_simple", "best_simple_on_test", "best_synthesizer")
        }
        smote = [max(v["test"]["f2"] for m, v in r["rows"].items() if m.split("/")[0] == "smote") for r in runs]
        chosen_vs_simple = paired(f2["chosen"], f2["best_simple"])
        out[classifier] = {
            "table": table,
            "chosen_test_f2": mean_sd(f2["chosen"]),
            "best_row_test_f2": mean_sd(f2["best_test_row"]),
            "chosen_minus_best_row": paired(f2["chosen"], f2["best_test_row"]),
            "best_simple_test_f2": mean_sd(f2["best_simple"]),
            "chosen_minus_best_simple": chosen_vs_simple,
            "chosen_minus_best_simple_on_test": paired(f2["chosen"], f2["best_simple_on_test"]),
            "chosen": [r["chosen"] for r in runs],
            "best_simple": [r["best_simple"] for r in runs],
            "best_synthesizer": [r["best_synthesizer"] for r in runs],
            "failed_methods": [r["failed"] for r in runs],
            "goal": "chosen >= best simple (chosen by CV) - 0.02 test F2, mean over splits",
            "goal_met": bool(chosen_vs_simple["mean"] >= -0.02),
        }
        if len(f2["best_synthesizer"]) == len(smote):
            out[classifier] |= {
                "best_synthesizer_test_f2": mean_sd(f2["best_synthesizer"]),
                "smote_test_f2": mean_sd(smote),
                "best_synthesizer_minus_smote_f2": paired(f2["best_synthesizer"], smote),
            }
    fidelity = {}
    for name in args.synthesizers:
        infos = [s["synthesizers"][name] for s in splits if "failed" not in s["synthesizers"][name]]
        fidelity[name] = {"failed_splits": len(splits) - len(infos)}
        if infos:
            fidelity[name] |= {
                k: mean_sd([i[k] for i in infos])
                for k in infos[0]
                if k.startswith("fidelity_") or k in ("seconds", "sample_10000_s")
            }
    return {"by_classifier": out, "synthesizers": fidelity}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=sorted(DATASETS), required=True)
    parser.add_argument("--splits", type=int, default=10)
    parser.add_argument("--first-split", type=int, default=0)
    parser.add_argument("--synthesizers", default=",".join(NAMES))
    parser.add_argument(
        "--filters",
        default=DEFAULT_FILTER,
        help=f"comma-separated filters (the first is the train step's); all: {','.join(FILTERS)}",
    )
    parser.add_argument(
        "--classifiers",
        default="auto",
        help="comma-separated --classifier choices, each a train step of its own (auto: logreg and "
        "hgb in one cross-validation)",
    )
    parser.add_argument("--objective", default=DEFAULT_OBJECTIVE)
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--max-steps", type=int, default=1000)
    parser.add_argument("--cv-folds", type=int, default=5)
    parser.add_argument("--cv-repeats", type=int, default=1)
    parser.add_argument("--name", help="results file name (default: fault_detection_quality_DATASET)")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="keep the splits already in the .partial.json of an interrupted run (same settings)",
    )
    args = parser.parse_args()
    args.synthesizers, args.filters = args.synthesizers.split(","), args.filters.split(",")
    args.classifiers = args.classifiers.split(",")
    name = args.name or f"fault_detection_quality_{args.dataset}"
    partial = RESULTS / f"{name}.partial.json"
    splits = json.loads(partial.read_text()) if args.resume and partial.exists() else []
    done = {s["seed"] for s in splits}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data = dataset_path(args.dataset, work)
        for seed in range(args.first_split, args.first_split + args.splits):
            if seed in done:
                continue
            start = time.perf_counter()
            splits.append(one_split(data, DATASETS[args.dataset], seed, args, work))
            splits[-1]["seconds"] = round(time.perf_counter() - start, 1)
            print(
                f"split {seed}: {splits[-1]['seconds']} s; chosen "
                f"{ {c: v['chosen'] for c, v in splits[-1]['classifiers'].items()} }",
                flush=True,
            )
            partial.write_text(json.dumps(splits, default=float))
    settings = {k: v for k, v in vars(args).items() if k != "name"}
    save(
        name,
        {
            "command": "benchmarks/fault_detection_quality.py " + " ".join(sys.argv[1:]),
            "settings": settings,
            "summary": summarize(splits, args),
            "splits": splits,
        },
    )
    partial.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
