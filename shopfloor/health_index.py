"""The health-index workflow as plain functions over files, one per pipeline step.

ingest (checked trajectories, units split into fitted and held-out) -> train (operating regimes, unit
features, 2DS, APAIC, the remaining-life regression; fitted on the fitted units only, so the held-out
units are engines the model has never seen) -> evaluate (HI metrics of the held-out units scored
prospectively, step by step from their own past; remaining-life error at random points of their lives;
Fig. 5 plot) -> register (one MLflow model: a unit's rows in, HI and remaining life out) -> deploy.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd

from shopfloor.constants import EXPERIMENTS, HEALTH_MODEL
from shopfloor.data.ingest import column_type
from shopfloor.health.data import load_trajectories
from shopfloor.health.metrics import hi_report
from shopfloor.health.model import HealthIndexModel, HIConfig
from shopfloor.health.prepare import OperatingRegimes
from shopfloor.health.rul import RulModel, nasa_score
from shopfloor.progress import reported

EXPERIMENT = EXPERIMENTS["health-index"]
SCORE = "test_monotonicity"


@reported("ingest", summary=lambda i: f"{i['rows']} rows, {i['units']} units ({i['train_units']} fitted, "
                                      f"{i['test_units']} held out), {len(i['features'])} features"
                                      + (f", conditions {i['conditions']}" if i["conditions"] else ""))
def ingest_step(data: str, unit: str, time: str, *, train: str, test: str, t_d: float, t_f: float,
                truth: str = "", drop: list[str] | None = None, conditions: list[str] | None = None,
                window: int = 0, test_fraction: float = 0.25, seed: int = 0) -> dict[str, Any]:
    """Check the trajectories, hold out a share of the units (at least one) for evaluation."""
    from shopfloor.data.ingest import read_table

    table = read_table(data)
    exclude = [c for c in [truth, *(drop or [])] if c]
    traj = load_trajectories(table, unit, time, t_d, t_f, exclude=exclude, conditions=conditions, window=window)
    rng = np.random.default_rng(seed)
    units = list(traj.units)
    n_test = max(1, int(round(test_fraction * len(units)))) if len(units) > 1 else 0
    held = set(rng.choice(units, size=n_test, replace=False).tolist()) if n_test else set()
    keep = [unit, time, *(conditions or []), *traj.features, *([truth] if truth and truth in table.columns else [])]
    frame = table[keep]
    frame[~frame[unit].isin(held)].to_parquet(train, index=False)
    frame[frame[unit].isin(held)].to_parquet(test, index=False)
    return {"units": len(units), "train_units": len(units) - len(held), "test_units": len(held),
            "features": traj.features, "rows": len(table), "conditions": list(conditions or [])}


def unit_frames(frame: pd.DataFrame, unit: str, time: str) -> list[pd.DataFrame]:
    """Each unit's rows in time order."""
    return [g.sort_values(time) for _, g in frame.groupby(unit, sort=True)]


def unit_arrays(frames: list[pd.DataFrame], features: list[str], regimes: OperatingRegimes | None) -> list[np.ndarray]:
    return [regimes.transform(g) if regimes is not None else g[features].to_numpy(float) for g in frames]


@reported("train 2DS + APAIC", summary=lambda i: f"{i['features']} features, {i['regimes']} operating regime(s), "
                                                 f"{i['seeds']} seed(s); APAIC converged in {i['apaic_iterations']} "
                                                 "iterations; remaining-life regression fitted")
def train_step(train: str, test: str, unit: str, time: str, *, model_path: str, his_path: str, t_d: float,
               t_f: float, truth: str = "", conditions: list[str] | None = None, diversity: float = 0.001,
               epochs: int = 1000, embedding_dim: int = 16, weight_decay: float | str = 1.0, beta: float = 0.05,
               fusion: str = "embedding", seeds: int = 1, baseline: bool = False, window: int = 0,
               seed: int = 0) -> dict[str, Any]:
    """Fit regimes, 2DS and APAIC on the fitted units only (the held-out ones are scored as engines never
    seen), fit the remaining-life regression on the fitted units' HIs, and write every row's HI and RUL."""
    tr, te = pd.read_parquet(train), pd.read_parquet(test)
    conditions = list(conditions or [])
    features = [c for c in tr.columns if c not in {unit, time, truth, *conditions}]
    regimes = OperatingRegimes(conditions, seed=seed).fit(tr, features) if conditions else None
    config = HIConfig(t_d=t_d, t_f=t_f, diversity=diversity, fusion=fusion, seeds=seeds, baseline=baseline,
                      window=window, beta=beta, weight_decay=weight_decay,
                      deepsad={"epochs": epochs, "embedding_dim": embedding_dim})
    train_frames = unit_frames(tr, unit, time)
    model = HealthIndexModel(config, seed=seed, progress=True).fit(unit_arrays(train_frames, features, regimes))
    rul = RulModel(seed=seed).fit([model.transform(x) for x in unit_arrays(train_frames, features, regimes)])
    types = {c: "string" if not pd.api.types.is_numeric_dtype(tr[c]) else column_type(tr[c])
             for c in (unit, time, *conditions, *features)}
    joblib.dump({"model": model, "features": features, "regimes": regimes, "rul": rul, "unit": unit, "time": time,
                 "types": types}, model_path)
    parts = []
    for split, frame in (("train", tr), ("test", te)):
        for g in unit_frames(frame, unit, time) if len(frame) else []:
            hi = model.transform(unit_arrays([g], features, regimes)[0])
            parts.append(g.assign(split=split, health_index=hi, rul=rul.predict(hi)))
    pd.concat(parts, ignore_index=True).to_parquet(his_path, index=False)
    return {"features": len(features), "regimes": regimes.count if regimes else 1, "seeds": seeds,
            "apaic_iterations": model.fusion.n_iter_}


def rul_errors(frames: list[pd.DataFrame], points: int = 5, seed: int = 0) -> dict[str, float]:
    """RMSE and NASA score of the remaining-life estimates at ``points`` random steps of each unit (each
    unit's last step is its failure), as for engines still running when they are scored."""
    rng = np.random.default_rng(seed)
    predicted, true = [], []
    for g in frames:
        life = len(g)
        for t in rng.integers(int(0.1 * life), life, size=points):
            predicted.append(float(g["rul"].iloc[t]))
            true.append(float(life - 1 - t))
    predicted, true = np.array(predicted), np.array(true)
    return {"rul_rmse": float(np.sqrt(np.mean((predicted - true) ** 2))),
            "rul_nasa_score": nasa_score(predicted, true) / max(len(frames), 1), "rul_points": len(true)}


@reported("evaluate", summary=lambda m: ", ".join(f"{k} {v:.3f}" for k, v in m.items()
                                                  if k in ("test_monotonicity", "test_trendability",
                                                           "test_truth_correlation", "test_rul_rmse")))
def evaluate_step(his_path: str, unit: str, time: str, *, plot: str, truth: str = "") -> dict[str, float]:
    """HI metrics per split (held-out units: prospective scores), correlation with the ground truth where
    known, remaining-life error; Fig. 5-style plot."""
    his = pd.read_parquet(his_path)
    metrics: dict[str, float] = {}
    for split, frame in his.groupby("split"):
        groups = unit_frames(frame, unit, time)
        curves = [g["health_index"].to_numpy() for g in groups]
        report = hi_report(curves, [g[truth].to_numpy() for g in groups] if truth and truth in frame else None)
        if truth and truth in frame.columns:
            report["truth_correlation"] = report.pop("correlation_pearson")
            report["truth_cosine"] = report.pop("correlation")
        report |= rul_errors(groups)
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
            line, = ax.plot(g[time], g["health_index"], lw=1.2, label=f"{unit} {key}")
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
def register_step(model_path: str, his_path: str, metrics: dict[str, float], *, tracking_uri: str,
                  model_name: str = HEALTH_MODEL, plot: str | None = None, params: dict[str, Any] | None = None
                  ) -> dict[str, Any]:
    """Register regimes, unit features, encoder, fusion and remaining-life regression as one MLflow model
    (input: one unit's rows in time order; output: the HI and the remaining life of each row)."""
    from shopfloor.health.pyfunc import HealthIndexPyfunc
    from shopfloor.registry import register_model, use_tracking

    bundle = joblib.load(model_path)
    model = HealthIndexPyfunc(bundle["model"], bundle["features"], bundle["unit"], bundle["time"], bundle["types"],
                              rul=bundle["rul"], regimes=bundle["regimes"])
    his = pd.read_parquet(his_path)
    first = his[his[bundle["unit"]] == his[bundle["unit"]].iloc[0]].sort_values(bundle["time"])
    example = first[model.inputs.names].head(max(5, model.min_rows))
    use_tracking(tracking_uri)
    score = SCORE if SCORE in metrics else next(iter(metrics))
    reg = register_model(model, example, model_name=model_name, experiment=EXPERIMENT, metrics=metrics,
                         params=params or {}, score_metric=score,
                         artifacts={"hi_trajectories.png": Path(plot)} if plot else None,
                         tags={"shopfloor.pipeline": "health-index"})
    return {"model_name": reg.model_name, "version": reg.version, "alias": reg.alias, "run_id": reg.run_id,
            score: reg.score, "previous_champion": reg.previous_champion_score, "metrics": metrics}


def write_json(path: str, payload: dict[str, Any]) -> None:
    Path(path).write_text(json.dumps(payload, indent=2, default=float))
