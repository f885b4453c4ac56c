"""The health-index workflow as plain functions over files, one per pipeline step.

ingest (checked trajectories, units split into fitted and held-out) -> train (scaler, 2DS, APAIC)
-> evaluate (HI metrics on the held-out units, Fig. 5 plot) -> register (one MLflow model) -> deploy
(the serving stack, as for the classifier).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd

from shopfloor.constants import EXPERIMENTS, HEALTH_MODEL
from shopfloor.health.data import load_trajectories
from shopfloor.health.metrics import correlation, hi_report
from shopfloor.health.model import HealthIndexModel
from shopfloor.progress import reported

EXPERIMENT = EXPERIMENTS["health-index"]
SCORE = "test_monotonicity"


@reported("ingest", summary=lambda i: f"{i['rows']} rows, {i['units']} units ({i['train_units']} fitted, "
                                      f"{i['test_units']} held out), {len(i['features'])} features")
def ingest_step(data: str, unit: str, time: str, *, train: str, test: str, t_d: int, t_f: int,
                truth: str = "", drop: list[str] | None = None, test_fraction: float = 0.25,
                seed: int = 0) -> dict[str, Any]:
    """Check the trajectories, hold out a share of the units (at least one) for evaluation."""
    from shopfloor.data.ingest import read_table

    table = read_table(data)
    exclude = [c for c in [truth, *(drop or [])] if c]
    traj = load_trajectories(table, unit, time, t_d, t_f, exclude=exclude)
    rng = np.random.default_rng(seed)
    units = list(traj.units)
    n_test = max(1, int(round(test_fraction * len(units)))) if len(units) > 1 else 0
    held = set(rng.choice(units, size=n_test, replace=False).tolist()) if n_test else set()
    keep = [unit, time, *traj.features, *([truth] if truth and truth in table.columns else [])]
    frame = table[keep]
    frame[~frame[unit].isin(held)].to_parquet(train, index=False)
    frame[frame[unit].isin(held)].to_parquet(test, index=False)
    return {"units": len(units), "train_units": len(units) - len(held), "test_units": len(held),
            "features": traj.features, "rows": len(table)}


def _arrays(frame: pd.DataFrame, unit: str, time: str, features: list[str]) -> list[np.ndarray]:
    return [g.sort_values(time)[features].to_numpy(float) for _, g in frame.groupby(unit, sort=True)]


@reported("train 2DS + APAIC", summary=lambda i: f"{i['features']} features, APAIC converged in "
                                                 f"{i['apaic_iterations']} iterations")
def train_step(train: str, test: str, unit: str, time: str, *, model_path: str, his_path: str, t_d: int, t_f: int,
               truth: str = "", diversity: float = 1.0, epochs: int = 60, embedding_dim: int = 8,
               beta: float = 0.05, seed: int = 0) -> dict[str, Any]:
    """Fit the 2DS encoder and APAIC fusion on the fitted units (held-out units enter the fusion
    unlabelled, Eq. 9) and write every row's HI."""
    tr, te = pd.read_parquet(train), pd.read_parquet(test)
    features = [c for c in tr.columns if c not in {unit, time, truth}]
    model = HealthIndexModel(t_d, t_f, diversity=diversity, epochs=epochs, embedding_dim=embedding_dim,
                             beta=beta, seed=seed, progress=True)
    model.fit(_arrays(tr, unit, time, features), running=_arrays(te, unit, time, features) if len(te) else ())
    joblib.dump({"model": model, "features": features}, model_path)
    his = pd.concat([tr.assign(split="train"), te.assign(split="test")], ignore_index=True)
    his["health_index"] = model.transform(his[features].to_numpy(float))
    his.to_parquet(his_path, index=False)
    return {"features": len(features), "apaic_iterations": model.fusion.n_iter_}


@reported("evaluate", summary=lambda m: ", ".join(f"{k} {v:.3f}" for k, v in m.items()
                                                  if k in ("test_monotonicity", "test_trendability",
                                                           "test_truth_correlation")))
def evaluate_step(his_path: str, unit: str, time: str, *, plot: str, truth: str = "") -> dict[str, float]:
    """HI metrics per split (and correlation with the ground truth where known); Fig. 5-style plot."""
    his = pd.read_parquet(his_path)
    metrics: dict[str, float] = {}
    for split, frame in his.groupby("split"):
        groups = [g.sort_values(time) for _, g in frame.groupby(unit)]
        curves = [g["health_index"].to_numpy() for g in groups]
        report = hi_report(curves)
        if truth and truth in frame.columns:
            report["truth_correlation"] = float(np.mean([np.corrcoef(c, g[truth])[0, 1]
                                                         for c, g in zip(curves, groups, strict=True)]))
            report["truth_cosine"] = float(np.mean([correlation(c, g[truth]) for c, g in zip(curves, groups,
                                                                                            strict=True)]))
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
        ax.set_title(f"{split} units (dashed: ground truth)" if truth else f"{split} units")
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
    """Register scaler, encoder and fusion weights as one MLflow model (input: a feature row; output: the HI)."""
    from shopfloor.health.pyfunc import HealthIndexPyfunc
    from shopfloor.registry import register_model, use_tracking

    bundle = joblib.load(model_path)
    example = pd.read_parquet(his_path)[bundle["features"]].head(5)
    use_tracking(tracking_uri)
    score = SCORE if SCORE in metrics else next(iter(metrics))
    reg = register_model(HealthIndexPyfunc(bundle["model"], bundle["features"]), example,
                         model_name=model_name, experiment=EXPERIMENT, metrics=metrics, params=params or {},
                         score_metric=score, artifacts={"hi_trajectories.png": Path(plot)} if plot else None,
                         tags={"shopfloor.pipeline": "health-index"})
    return {"model_name": reg.model_name, "version": reg.version, "alias": reg.alias, "run_id": reg.run_id,
            score: reg.score, "previous_champion": reg.previous_champion_score, "metrics": metrics}


def write_json(path: str, payload: dict[str, Any]) -> None:
    Path(path).write_text(json.dumps(payload, indent=2, default=float))
