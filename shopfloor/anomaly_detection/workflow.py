"""The milling anomaly-detection workflow as plain functions over files, one per pipeline step.

ingest (load ``mill.mat`` or a table, drop and name corrupt cuts, cut sub-cuts, split) -> train (a random search
over beta-VAEs on the training sub-cuts of healthy tools, as von Hahn and Mechefske train theirs, and the simple
detectors on the same sub-cuts: the RMS of one signal, a Mahalanobis distance, an isolation forest; the one with
the best validation AP serves, its threshold set on validation) -> evaluate (AP, PR-AUC and ROC-AUC per split, per
cut and per cutting parameter; every detector's validation and test figures; their four figures) -> register
(one MLflow model: a sub-cut in, a score and a flag out) -> deploy.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd

from shopfloor.anomaly_detection import data as milling
from shopfloor.anomaly_detection.base import TRAIN_ON
from shopfloor.constants import ANOMALY_MODEL, EXPERIMENTS
from shopfloor.defaults import ANOMALY_DETECTION
from shopfloor.errors import DataError
from shopfloor.platform.budget import Budget
from shopfloor.progress import reported

EXPERIMENT = EXPERIMENTS["anomaly-detection"]
SCORE = "test_ap"


def _ingest_summary(info: dict[str, Any]) -> str:
    dropped = (
        f"; dropped {len(info['dropped'])} cut(s): {', '.join(map(str, info['dropped']))}" if info["dropped"] else ""
    )
    return (
        f"{info['cuts']} cuts, {info['windows']} sub-cuts of {info['window']} x {len(info['signals'])} "
        f"(train {info['train']}, valid {info['valid']}, test {info['test']}; {info['failed_windows']} failed)"
        + dropped
    )


@reported("ingest", summary=_ingest_summary)
def ingest_step(
    data: str,
    *,
    windows: str,
    cut_column: str = ANOMALY_DETECTION.cut_column,
    labels: str = "",
    signals: list[str] | None = None,
    window: int = ANOMALY_DETECTION.window,
    stride: int = ANOMALY_DETECTION.stride,
    split: str = ANOMALY_DETECTION.split,
    time_column: str = ANOMALY_DETECTION.time_column,
    seed: int = ANOMALY_DETECTION.seed,
) -> dict[str, Any]:
    """Load and check the cuts, cut them into sub-cuts and assign each to train, valid or test."""
    split = milling.split_protocol(split, time_column)
    loaded = milling.load(
        data, cut_column=cut_column, signals=signals or None, labels=labels or None, time_column=time_column
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", milling.MillingDataWarning)
        valid = milling.validate(loaded)
    for warning in caught:
        if not issubclass(warning.category, milling.MillingDataWarning):
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    sub = milling.subcuts(valid, window=window, stride=stride)
    parts = milling.split(sub, split, seed=seed, time_column=time_column)
    failed = sub.failed
    if not failed[parts["valid"]].any():
        raise DataError(
            "tool_class",
            f"the valid split has no sub-cut of a failed tool (class 2), so no detector "
            f"can be chosen: with {int(failed.sum())} failed sub-cuts in all, add failed "
            "cuts or use --split subcut"
            + (" (with a time split: the failed cuts all fall outside the validation cuts)" if split == "time" else ""),
            "too_few_failed",
        )
    healthy = sub.meta["tool_class"].to_numpy() == 0
    for name in ("train", "valid"):
        if healthy[parts[name]].sum() < 2:
            raise DataError(
                "tool_class",
                f"the {name} split needs sub-cuts of healthy tools (class 0): detectors "
                "learn what a healthy tool looks like",
            )
    names = np.empty(len(sub), dtype=object)
    for name, index in parts.items():
        names[index] = name
    sub.meta["split"] = names.astype(str)
    milling.save_subcuts(sub, windows)
    return {
        "cuts": len(valid),
        "windows": len(sub),
        "window": window,
        "stride": stride,
        "signals": list(sub.signal_names),
        "failed_windows": int(failed.sum()),
        "split": split,
        "dropped": [str(k) for k in valid.dropped],
        "dropped_reasons": {str(k): v for k, v in valid.dropped.items()},
        **{name: int(len(index)) for name, index in parts.items()},
    }


def _parts(sub: milling.SubCuts) -> dict[str, np.ndarray]:
    where = sub.meta["split"].to_numpy()
    return {name: np.flatnonzero(where == name) for name in ("train", "valid", "test")}


def _train_summary(i: dict[str, Any]) -> str:
    others = ", ".join(f"{k} {v:.3f}" for k, v in i["valid_ap"].items() if k != i["chosen"])
    return (
        f"{i['trials']} VAE trial(s) ({i['vae']}), {i['vae_seconds']:.0f} s; chosen on validation AP: "
        f"{i['chosen']} {i['valid_ap'][i['chosen']]:.3f} (others: {others}); threshold {i['threshold']:.4g} "
        f"({i['threshold_metric']})"
    )


@reported("train", summary=_train_summary)
def train_step(
    windows: str,
    *,
    model_path: str,
    trials_path: str,
    n_trials: int = ANOMALY_DETECTION.n_trials,
    timeout: float | None = ANOMALY_DETECTION.timeout,
    epochs: int = ANOMALY_DETECTION.epochs,
    max_filters: int = ANOMALY_DETECTION.max_filters,
    arch: str = ANOMALY_DETECTION.arch,
    train_on: str = ANOMALY_DETECTION.train_on,
    ensemble: bool = ANOMALY_DETECTION.ensemble,
    score: str = ANOMALY_DETECTION.score,
    threshold_metric: str = ANOMALY_DETECTION.threshold_metric,
    seed: int = ANOMALY_DETECTION.seed,
    run_budget: Budget | None = None,
) -> dict[str, Any]:
    """Random search over beta-VAEs and the simple detectors, all on the healthy training sub-cuts (or the
    classes ``train_on`` names), judged by validation AP; the winner and its validation threshold are saved,
    with every candidate for the report. The search ends by ``timeout`` and by a ``run_budget``'s ``search``
    deadline, whichever is first (checked between trials: the first trial always completes)."""
    import time

    from shopfloor.anomaly_detection.compare import VAE, choose, fit_baselines
    from shopfloor.anomaly_detection.search import search
    from shopfloor.anomaly_detection.vae import VAEConfig
    from shopfloor.platform.cpus import TRAINING_SHARE, threads_for

    if train_on not in TRAIN_ON:
        raise DataError("train-on", f"choose one of {', '.join(TRAIN_ON)}, got {train_on!r}")
    threads = threads_for(share=TRAINING_SHARE)  # applied when the step started (shopfloor.progress)
    sub = milling.load_subcuts(windows)
    parts = _parts(sub)
    tr, va = sub.take(parts["train"]), sub.take(parts["valid"])
    classes = {name: p.meta["tool_class"].to_numpy().astype(int) for name, p in (("train", tr), ("valid", va))}
    started = time.monotonic()
    if run_budget is not None and run_budget.bounded:
        timeout = max(0.0, min(timeout or float("inf"), run_budget.left("search")))
    result = search(
        tr.X,
        classes["train"],
        va.X,
        classes["valid"],
        n_trials=n_trials,
        timeout=timeout,
        base=VAEConfig(epochs=epochs, arch=arch),
        max_filters=max_filters,
        ensemble=ensemble,
        train_on=train_on,
        seed=seed,
        score=score,
        threshold_metric=threshold_metric,
        progress=True,
    )
    vae_seconds = time.monotonic() - started
    candidates = {
        **fit_baselines(
            tr.X,
            classes["train"],
            va.X,
            classes["valid"],
            train_on=train_on,
            threshold_metric=threshold_metric,
            seed=seed,
            signal_names=tuple(sub.signal_names),
        ),
        VAE: result.detector,
    }
    chosen, valid_ap = choose(candidates, va.X, va.failed)
    detector = candidates[chosen]
    joblib.dump(
        {
            "detector": detector,
            "chosen": chosen,
            "candidates": candidates,
            "valid_ap": valid_ap,
            "signals": sub.signal_names,
            "stride": sub.stride,
        },
        model_path,
    )
    pd.DataFrame(result.trials).to_csv(trials_path, index=False)
    best = max(result.trials, key=lambda r: r["valid_ap"] if np.isfinite(r["valid_ap"]) else -1.0)
    return {
        "trials": len(result.trials),
        "vae": result.chosen,
        "chosen": chosen,
        "valid_ap": valid_ap,
        "vae_valid_ap": valid_ap[VAE],
        "ensemble_valid_ap": result.ensemble_valid_ap,
        "threshold": float(detector.threshold_),
        "threshold_metric": threshold_metric,
        "score": score,
        "train_on": train_on,
        "arch": arch,
        "vae_seconds": vae_seconds,
        "threads": threads,
        "seconds": time.monotonic() - started,
        "vae_parameters": result.detector.n_parameters,
        "best_config": {k: v for k, v in best.items() if k not in ("valid_ap", "seconds")},
    }


@reported(
    "evaluate",
    summary=lambda m: ", ".join(
        f"{k} {m[k]:.3f}" for k in ("test_ap", "test_pr_auc", "test_roc_auc", "test_no_skill_precision") if k in m
    ),
)
def evaluate_step(
    model_path: str, windows: str, *, plots: str, parameters_path: str, comparison_path: str
) -> dict[str, float]:
    """Metrics per split of the served detector's score (windows and cuts), every candidate's validation and
    test figures (``comparison_path``, CSV), AP per cutting parameter on test, and the figures in ``plots``."""
    from shopfloor.anomaly_detection import plots as figures
    from shopfloor.anomaly_detection.compare import comparison
    from shopfloor.anomaly_detection.evaluate import by_parameter, split_report

    bundle = joblib.load(model_path)
    detector, candidates = bundle["detector"], bundle["candidates"]
    sub = milling.load_subcuts(windows)
    parts = _parts(sub)
    score = detector.decision_function(sub.X)
    metrics: dict[str, float] = {}
    for name, index in parts.items():
        report = split_report(sub.meta.iloc[index], sub.failed[index], score[index], detector.threshold_)
        metrics |= {f"{name}_{k}": float(v) for k, v in report.items()}
    table = comparison(
        candidates,
        bundle["chosen"],
        {name: (sub.X[parts[name]], sub.failed[parts[name]]) for name in ("valid", "test")},
    )
    table.to_csv(comparison_path, index=False)
    for row in table.itertuples(index=False):
        metrics |= {f"{split}_ap_{row.detector}": float(getattr(row, f"{split}_ap")) for split in ("valid", "test")}
    test = parts["test"]
    meta = sub.meta.iloc[test].reset_index(drop=True)
    failed = sub.failed[test]
    per_parameter = by_parameter(meta, failed, score[test])
    per_parameter.to_csv(parameters_path, index=False)
    for _, row in per_parameter.iterrows():
        metrics[f"test_ap_{row['parameter']}_{row['value']:g}"] = float(row["ap"])
    folder = Path(plots)
    folder.mkdir(parents=True, exist_ok=True)
    chosen = bundle["chosen"]
    ordered = [chosen, *(k for k in candidates if k != chosen)]
    figures.pr_roc(failed, {k: candidates[k].decision_function(sub.X[test]) for k in ordered}, folder / "pr_roc.png")
    figures.violin(
        score[test],
        meta["tool_class"].to_numpy().astype(int),
        detector.threshold_,
        folder / "violin.png",
        title=f"{chosen} scores by tool class, test windows",
    )
    if len(per_parameter):
        figures.by_parameter(per_parameter, folder / "ap_by_parameter.png")
    frame = sub.meta.assign(score=score)
    for case in _trend_cases(frame):
        figures.trend(frame[frame["case"] == case], "score", folder / f"trend_case_{case}.png", case)
    return {k: v for k, v in metrics.items() if np.isfinite(v)}


def _trend_cases(frame: pd.DataFrame, count: int = 2) -> list:
    """Cases to trend: von Hahn and Mechefske's 13 and 11 when present, else the cases with the most failed sub-cuts."""
    if "case" not in frame:
        return []
    cases = list(pd.unique(frame["case"]))
    seed_cases = [c for c in (13, 11) if c in cases]
    if len(seed_cases) == count:
        return seed_cases
    ranked = frame.assign(f=frame["tool_class"] == 2).groupby("case")["f"].sum().sort_values(ascending=False)
    return [c for c in ranked.index[:count]]


@reported("register", summary=lambda r: f"{r['model_name']} version {r['version']} as @{r['alias']}")
def register_step(
    model_path: str,
    windows: str,
    metrics: dict[str, float],
    *,
    tracking_uri: str,
    model_name: str = ANOMALY_MODEL,
    plots: str | None = None,
    trials: str | None = None,
    parameters: str | None = None,
    comparison: str | None = None,
    params: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Register the chosen detector with its scaling and threshold as one MLflow model (a sub-cut in; a score and
    a flag out), with the comparison of every detector beside it."""
    from shopfloor.anomaly_detection.pyfunc import MillingAnomalyPyfunc
    from shopfloor.registry import register_model, use_tracking

    bundle = joblib.load(model_path)
    sub = milling.load_subcuts(windows)
    healthy = sub.X[sub.meta["tool_class"].to_numpy() == 0]
    typical = MillingAnomalyPyfunc.typical(bundle["detector"], healthy) if len(healthy) else None
    model = MillingAnomalyPyfunc(bundle["detector"], tuple(sub.signal_names), bundle["stride"], reference=typical)
    example = sub.X[:2].astype(np.float32)
    artifacts = {f"plots/{p.name}": p for p in sorted(Path(plots).glob("*.png"))} if plots else {}
    if trials:
        artifacts["search_trials.csv"] = Path(trials)
    if parameters:
        artifacts["ap_by_parameter.csv"] = Path(parameters)
    rows: list[dict[str, Any]] = []
    tables: dict[str, pd.DataFrame] = {}
    if comparison:
        artifacts["detector_comparison.csv"] = Path(comparison)
        tables["comparison.json"] = pd.read_csv(comparison)
        rows = tables["comparison.json"].to_dict(orient="records")
    use_tracking(tracking_uri)
    score = SCORE if SCORE in metrics else next(iter(metrics))
    reg = register_model(
        model,
        example,
        model_name=model_name,
        experiment=EXPERIMENT,
        metrics=metrics,
        params=params or {},
        score_metric=score,
        artifacts=artifacts or None,
        tables=tables,
        tags={
            "shopfloor.pipeline": "anomaly-detection",
            "shopfloor.chosen": bundle["chosen"],
            "shopfloor.detector": bundle["chosen"],
        },
    )
    return {
        "model_name": reg.model_name,
        "version": reg.version,
        "alias": reg.alias,
        "run_id": reg.run_id,
        "report_html": reg.report_uri,
        score: reg.score,
        "previous_champion": reg.previous_champion_score,
        "metrics": metrics,
        "detector": bundle["chosen"],
        "comparison": rows,
    }


def write_json(path: str, payload: dict[str, Any]) -> None:
    Path(path).write_text(json.dumps(payload, indent=2, default=float))
