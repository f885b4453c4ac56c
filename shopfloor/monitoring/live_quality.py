"""Live quality: each served version scored on the rows whose real outcome came back.

The metric is the one each kind of model is registered with, so the live figure sits beside the test figure
of its registration (``test_<metric>`` on the version's run):

- classifier (label 0/1): ``f2``, ``precision``, ``recall`` of the answered ``class`` (the registered
  threshold), ``pr_auc`` (average precision) of ``fault_probability``;
- anomaly detector (label 1 = failed tool): ``ap`` of ``score``, ``precision`` of ``anomaly``;
- health index (label = steps the unit still ran after the answer, once its failure is observed):
  ``rank_correlation`` (Spearman of the health index with the life that was left over every answered row, sign
  turned so that 1 is perfect), ``rul_ranking`` (the same over each request's last row only: units ranked as
  they stood when asked, the figure the health-index pipeline registers as ``test_rul_ranking``) and ``rul_mae``;
- wear prognosis (label = the wear measured at the next cut): ``mae`` of the first forecast step and
  ``coverage`` of its 10-90 % band.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sklearn.metrics import average_precision_score, fbeta_score, precision_score, recall_score

from shopfloor.monitoring.outcomes import joined
from shopfloor.monitoring.store import OUTPUT


@dataclass(frozen=True)
class Quality:
    model: str
    version: str
    rows: int  # labelled rows the figures come from
    metrics: dict[str, float]


def _first(values: pd.Series) -> np.ndarray:
    """The first step of a vector output (a forecast curve), or the scalar output itself."""
    return np.array([v[0] if isinstance(v, list | np.ndarray) else v for v in values], dtype=float)


def score(table: pd.DataFrame) -> dict[str, float]:
    """The live metrics of joined rows of one version, chosen by which outputs the model answers."""
    y = table["label"].to_numpy(float)
    out = {c[len(OUTPUT):]: table[c] for c in table.columns if c.startswith(OUTPUT)}
    both = len(np.unique(y)) == 2
    if "class" in out:
        answered = out["class"].to_numpy(int)
        truth = y.astype(int)
        metrics = {"f2": fbeta_score(truth, answered, beta=2, zero_division=0),
                   "precision": precision_score(truth, answered, zero_division=0),
                   "recall": recall_score(truth, answered, zero_division=0)}
        if both and "fault_probability" in out:
            metrics["pr_auc"] = average_precision_score(truth, out["fault_probability"].to_numpy(float))
        return {k: float(v) for k, v in metrics.items()}
    if "anomaly" in out:
        truth = y.astype(int)
        metrics = {"precision": precision_score(truth, out["anomaly"].to_numpy(bool).astype(int), zero_division=0)}
        if both:
            metrics["ap"] = average_precision_score(truth, out["score"].to_numpy(float))
        return {k: float(v) for k, v in metrics.items()}
    if "health_index" in out:
        metrics = {"rul_mae": float(np.mean(np.abs(out["rul"].to_numpy(float) - y)))} if "rul" in out else {}
        hi = out["health_index"].to_numpy(float)
        if len(np.unique(y)) > 1:
            metrics["rank_correlation"] = float(-spearmanr(hi, y).statistic)
        if {"request_id", "row"} <= set(table.columns):
            # the pipeline's own figure (registered as test_rul_ranking): units ranked at one moment each, here
            # each request's last row, the unit as it stood when asked
            last = (table.groupby("request_id")["row"].transform("max") == table["row"]).to_numpy()
            if last.sum() >= 3 and len(np.unique(y[last])) > 1:
                metrics["rul_ranking"] = float(-spearmanr(hi[last], y[last]).statistic)
        return metrics
    if "median" in out:
        median = _first(out["median"])
        metrics = {"mae": float(np.mean(np.abs(median - y)))}
        if "q10" in out and "q90" in out:
            metrics["coverage"] = float(np.mean((_first(out["q10"]) <= y) & (y <= _first(out["q90"]))))
        return metrics
    raise ValueError(f"no live metric for a model answering {sorted(out)}")


def live_quality(model: str, since: datetime | None = None, root: Path | None = None) -> list[Quality]:
    """Live quality of each version of ``model`` that answered since ``since`` and has outcomes."""
    table = joined(model, since=since, root=root, inputs=False)
    if table.empty:
        return []
    found = []
    for version, rows in table.groupby("version", sort=True):
        found.append(Quality(model, str(version), len(rows), score(rows)))
    return found


def log_evaluation(quality: Quality) -> str:
    """Log ``quality`` to MLflow as an evaluation run of the version, in the experiment of the run that
    registered it; the run id."""
    import mlflow

    client = mlflow.MlflowClient()
    version = client.get_model_version(quality.model, quality.version)
    experiment = client.get_run(version.run_id).info.experiment_id if version.run_id else None
    with mlflow.start_run(experiment_id=experiment, run_name=f"live-quality {quality.model} v{quality.version}",
                          tags={"shopfloor.evaluates": f"{quality.model}/{quality.version}",
                                "shopfloor.source_run": version.run_id or ""}) as run:
        mlflow.log_metrics({f"live_{k}": v for k, v in quality.metrics.items()} | {"live_labelled_rows": quality.rows})
    return run.info.run_id
