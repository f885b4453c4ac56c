"""The health-index workflow as plain functions over files, one per pipeline step.

ingest (checked trajectories, units split into fitted and held-out) -> train (the health-index methods, 2DS + APAIC
of Frusque et al. and its simple rivals, and two remaining-life estimators, cross-validated across the fitted units;
the winners refitted on all of them, so the held-out units are engines the model has never seen) -> evaluate (HI
metrics of the held-out units scored prospectively, step by step from their own past; rank correlation with
remaining life and remaining-life error at random points of their lives; Fig. 5 plot) -> register (one MLflow
model: a unit's rows in, HI, remaining life and its interval out) -> deploy.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd

from shopfloor.constants import EXPERIMENTS, HEALTH_MODEL
from shopfloor.data.ingest import column_type
from shopfloor.data.splitfiles import in_time_order, write_split
from shopfloor.defaults import HEALTH_INDEX
from shopfloor.errors import DataError
from shopfloor.health_index.data import load_trajectories, split_units
from shopfloor.health_index.estimator import HIConfig
from shopfloor.health_index.metrics import hi_report
from shopfloor.health_index.rul import CAP
from shopfloor.health_index.selection import at_cuts
from shopfloor.platform.budget import Budget
from shopfloor.progress import reported

EXPERIMENT = EXPERIMENTS["health-index"]
SCORE = "test_rul_ranking"


@reported(
    "ingest",
    summary=lambda i: (
        f"{i['rows']} rows, {i['units']} units ({i['train_units']} fitted, "
        f"{i['test_units']} held out {i['order']}), "
        f"{len(i['features'])} features" + (f", conditions {i['conditions']}" if i["conditions"] else "")
    ),
)
def ingest_step(
    data: str,
    unit: str,
    time: str,
    *,
    train: str,
    test: str,
    t_d: float,
    t_f: float,
    truth: str = "",
    drop: list[str] | None = None,
    conditions: list[str] | None = None,
    window: int = HEALTH_INDEX.window,
    test_fraction: float = HEALTH_INDEX.test_fraction,
    split: str = HEALTH_INDEX.split,
    seed: int = HEALTH_INDEX.seed,
) -> dict[str, Any]:
    """Check the trajectories, hold out a share of the units (at least one) for evaluation: at random, or with a
    time split the units that started last (the training file then says so, and the cross-validation's folds chain
    forward in order of the units' starts)."""
    from shopfloor.data.ingest import read_table

    table = read_table(data)
    exclude = [c for c in [truth, *(drop or [])] if c]
    traj = load_trajectories(table, unit, time, t_d, t_f, exclude=exclude, conditions=conditions, window=window)
    units = list(traj.units)
    mode, held, words = split_units(table, unit, time, units, split, test_fraction, seed)
    keep = [unit, time, *(conditions or []), *traj.features, *([truth] if truth and truth in table.columns else [])]
    frame = table[keep]
    write_split(frame[~frame[unit].isin(held)], train, order=mode, split=words)
    write_split(frame[frame[unit].isin(held)], test, order=mode, split=words)
    return {
        "order": "by start time" if mode == "time" else "at random",
        "split": words,
        "units": len(units),
        "train_units": len(units) - len(held),
        "test_units": len(held),
        "features": traj.features,
        "rows": len(table),
        "conditions": list(conditions or []),
    }


def unit_frames(frame: pd.DataFrame, unit: str, time: str) -> list[pd.DataFrame]:
    """Each unit's rows in time order."""
    return [g.sort_values(time) for _, g in frame.groupby(unit, sort=True)]


def _train_summary(i: dict[str, Any]) -> str:
    skipped = f"; left out: {', '.join(i['skipped'])}" if i["skipped"] else ""
    return (
        f"{len(i['methods'])} methods x {i['folds']} folds across {i['units']} units; chosen: {i['chosen']} "
        f"(CV Spearman with remaining life {i['cv_spearman']:.3f}), remaining life from {i['rul_chosen']} "
        f"(CV RMSE {i['cv_rul_rmse']:.1f}){skipped}"
    )


@reported("train", summary=_train_summary, data=lambda i: {"skipped": i["skipped"]})
def train_step(
    train: str,
    test: str,
    unit: str,
    time: str,
    *,
    model_path: str,
    his_path: str,
    cv_path: str,
    t_d: float,
    t_f: float,
    truth: str = "",
    conditions: list[str] | None = None,
    methods: Sequence[str] | None = HEALTH_INDEX.methods,
    diversity: float = HEALTH_INDEX.diversity,
    epochs: int = HEALTH_INDEX.epochs,
    embedding_dim: int = HEALTH_INDEX.embedding_dim,
    weight_decay: float | str = HEALTH_INDEX.weight_decay,
    beta: float = HEALTH_INDEX.beta,
    fusion: str = HEALTH_INDEX.fusion,
    seeds: int = HEALTH_INDEX.seeds,
    baseline: bool = HEALTH_INDEX.baseline,
    window: int = HEALTH_INDEX.window,
    folds: int = HEALTH_INDEX.folds,
    draws: int = HEALTH_INDEX.draws,
    timeout: float | None = HEALTH_INDEX.timeout,
    seed: int = HEALTH_INDEX.seed,
    run_budget: Budget | None = None,
) -> dict[str, Any]:
    """Cross-validate every health-index method and both remaining-life estimators across the fitted units
    (``shopfloor.health_index.selection``), refit the winners on all of them (the held-out units are scored as engines
    never seen), and write every row's HI, remaining life and interval, and the CV table (``cv_path``, CSV).
    The cross-validation ends by ``timeout`` (seconds) and by a ``run_budget``'s ``cv`` deadline, whichever is
    first; the simplest method always completes."""
    import time as clock

    from shopfloor.health_index import selection as sel
    from shopfloor.platform.cpus import TRAINING_SHARE, threads_for

    threads = threads_for(share=TRAINING_SHARE)  # applied when the step started (shopfloor.progress)
    started = clock.monotonic()
    tr, te = pd.read_parquet(train), pd.read_parquet(test)
    conditions = list(conditions or [])
    methods = list(methods or sel.METHODS)
    unknown = sorted(set(methods) - set(sel.METHODS))
    if unknown:
        raise DataError(
            "methods", f"unknown health-index method(s) {', '.join(unknown)}; choose from {', '.join(sel.METHODS)}"
        )
    features = [c for c in tr.columns if c not in {unit, time, truth, *conditions}]
    config = HIConfig(
        t_d=t_d,
        t_f=t_f,
        diversity=diversity,
        fusion=fusion,
        seeds=seeds,
        baseline=baseline,
        window=window,
        beta=beta,
        weight_decay=weight_decay,
        deepsad={"epochs": epochs, "embedding_dim": embedding_dim},
    )
    settings = sel.Settings(hi=config, conditions=conditions, seed=seed)
    train_frames = unit_frames(tr, unit, time)
    forward = in_time_order(train)
    if forward:  # in order of the units' starts, for forward-chaining folds
        train_frames = sorted(train_frames, key=lambda g: g[time].iloc[0])
    begun = clock.monotonic()
    limits = [lambda: timeout - (clock.monotonic() - begun)] if timeout else []
    if run_budget is not None and run_budget.bounded:
        limits.append(lambda: run_budget.left("cv"))
    cv = sel.cross_validate(
        train_frames,
        features,
        settings,
        methods=methods,
        folds=folds,
        draws=draws,
        left=lambda: min((limit() for limit in limits), default=float("inf")),
        forward=forward,
    )
    cv.table.to_csv(cv_path, index=False)
    regimes = sel.fit_regimes(train_frames, features, settings)
    arrays = sel.unit_arrays(train_frames, features, regimes)
    model = sel.make(cv.chosen, settings, progress=True).fit(arrays)
    his = [model.transform(x) for x in arrays]
    median_life = int(np.median([len(x) for x in arrays]))
    rul = sel.make_rul(cv.rul_chosen, settings, median_life).fit(arrays, his)
    low, high = sel.interval(cv.residuals)
    types = {
        c: "string" if not pd.api.types.is_numeric_dtype(tr[c]) else column_type(tr[c])
        for c in (unit, time, *conditions, *features)
    }
    joblib.dump(
        {
            "model": model,
            "method": cv.chosen,
            "features": features,
            "regimes": regimes,
            "rul": rul,
            "rul_method": cv.rul_chosen,
            "rul_interval": (low, high),
            "unit": unit,
            "time": time,
            "types": types,
            "window": window,
        },
        model_path,
    )
    parts = []
    for split, frame in (("train", tr), ("test", te)):
        for g in unit_frames(frame, unit, time) if len(frame) else []:
            x = sel.unit_arrays([g], features, regimes)[0]
            hi = model.transform(x)
            estimate = rul.predict(x, hi)
            parts.append(
                g.assign(
                    split=split,
                    health_index=hi,
                    rul=estimate,
                    rul_lower=np.clip(estimate + low, 0, CAP),
                    rul_upper=np.clip(estimate + high, 0, CAP),
                )
            )
    pd.concat(parts, ignore_index=True).to_parquet(his_path, index=False)
    row = cv.table.set_index("method")
    return {
        "features": len(features),
        "regimes": regimes.count if regimes else 1,
        "units": len(train_frames),
        "methods": methods,
        "folds": cv.folds,
        "draws": cv.draws,
        "chosen": cv.chosen,
        "rul_chosen": cv.rul_chosen,
        "cv_spearman": float(row.loc[cv.chosen, "spearman_rul"]),
        "cv_rul_rmse": float(row.loc[cv.chosen if cv.rul_chosen == "hi" else "sensors", "rul_rmse"]),
        "rul_interval": [low, high],
        "skipped": cv.skipped,
        "threads": threads,
        "seconds": clock.monotonic() - started,
        "cv_table": cv.table.to_dict(orient="records"),
    }


@reported(
    "evaluate",
    summary=lambda m: ", ".join(
        f"{k} {v:.3f}"
        for k, v in m.items()
        if k in ("test_spearman_rul", "test_monotonicity", "test_truth_correlation", "test_rul_rmse")
    ),
)
def evaluate_step(his_path: str, unit: str, time: str, *, plot: str, truth: str = "") -> dict[str, float]:
    """HI metrics per split (held-out units: prospective scores), correlation with the ground truth where
    known, rank correlation and remaining-life error at random cuts; Fig. 5-style plot."""
    his = pd.read_parquet(his_path)
    metrics: dict[str, float] = {}
    for split, frame in his.groupby("split"):
        groups = unit_frames(frame, unit, time)
        curves = [g["health_index"].to_numpy() for g in groups]
        report = hi_report(curves, [g[truth].to_numpy() for g in groups] if truth and truth in frame else None)
        if truth and truth in frame.columns:
            report["truth_correlation"] = report.pop("correlation_pearson")
            report["truth_cosine"] = report.pop("correlation")
        report |= at_cuts(groups)
        metrics |= {f"{split}_{k}": v for k, v in report.items()}
    _plot(his, unit, time, truth, Path(plot))
    return metrics


def _plot(his: pd.DataFrame, unit: str, time: str, truth: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, split in zip(axes, ("train", "test"), strict=True):
        for key, g in his[his.split == split].groupby(unit):
            g = g.sort_values(time)
            (line,) = ax.plot(g[time], g["health_index"], lw=1.2, label=f"{unit} {key}")
            if truth and truth in g.columns:
                ax.plot(g[time], g[truth], lw=0.8, ls="--", color=line.get_color())
        title = "fitted units" if split == "train" else "held-out units, scored step by step"
        ax.set_title(f"{title} (dashed: ground truth)" if truth else title)
        ax.set_xlabel(time)
        ax.axhline(0, color="grey", lw=0.5)
        ax.axhline(1, color="grey", lw=0.5)
    axes[0].set_ylabel("health index")
    fig.tight_layout()
    fig.savefig(path, dpi=110, format="png")  # KFP artifact paths have no suffix to infer it from
    plt.close(fig)


@reported("register", summary=lambda r: f"{r['model_name']} version {r['version']} as @{r['alias']}")
def register_step(
    model_path: str,
    his_path: str,
    metrics: dict[str, float],
    *,
    tracking_uri: str,
    model_name: str = HEALTH_MODEL,
    plot: str | None = None,
    cv: str | None = None,
    params: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Register regimes, the chosen health index and remaining-life estimator as one MLflow model (input: one
    unit's rows in time order; output: the HI, the remaining life and its interval for each row), with the CV
    table beside it."""
    from shopfloor.health_index.pyfunc import HealthIndexPyfunc
    from shopfloor.registry import REFERENCE, register_model, use_tracking

    bundle = joblib.load(model_path)
    model = HealthIndexPyfunc(
        bundle["model"],
        bundle["features"],
        bundle["unit"],
        bundle["time"],
        bundle["types"],
        rul=bundle["rul"],
        regimes=bundle["regimes"],
        window=bundle["window"],
        method=bundle["method"],
        rul_method=bundle["rul_method"],
        rul_interval=bundle["rul_interval"],
    )
    his = pd.read_parquet(his_path)
    first = his[his[bundle["unit"]] == his[bundle["unit"]].iloc[0]].sort_values(bundle["time"])
    example = first[model.inputs.names].head(max(5, model.min_rows))
    use_tracking(tracking_uri)
    score = SCORE if SCORE in metrics else next(iter(metrics))
    artifacts = {"hi_trajectories.png": Path(plot)} if plot else {}
    # the fitted units, so a retraining run refits on them and the new units together
    staging = Path(tempfile.mkdtemp(prefix="shopfloor-reference-")) / "train.parquet"
    his.loc[his["split"] == "train", model.inputs.names].to_parquet(staging, index=False)
    artifacts[REFERENCE] = staging
    rows: list[dict[str, Any]] = []
    tables: dict[str, pd.DataFrame] = {}
    if cv:
        artifacts["health_index_cv.csv"] = Path(cv)
        tables["comparison.json"] = pd.read_csv(cv)
        rows = tables["comparison.json"].to_dict(orient="records")
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
            "shopfloor.pipeline": "health-index",
            "shopfloor.chosen": bundle["method"],
            "shopfloor.method": bundle["method"],
            "shopfloor.rul_method": bundle["rul_method"],
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
        "method": bundle["method"],
        "rul_method": bundle["rul_method"],
        "cv": rows,
    }


def write_json(path: str, payload: dict[str, Any]) -> None:
    Path(path).write_text(json.dumps(payload, indent=2, default=float))
