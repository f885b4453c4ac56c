"""Live quality: each served version scored on the rows whose real outcome came back.

The metric is the one each kind of model is registered with, so the live figure sits beside the test figure
of its registration (``test_<metric>`` on the version's run). Each kind's model class computes its own
(``live_metrics``); this module only joins the log with the outcomes and asks the kind:

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

import pandas as pd

from shopfloor.kinds import kind_answering, model_class
from shopfloor.monitoring.outcomes import joined
from shopfloor.monitoring.store import OUTPUT


@dataclass(frozen=True)
class Quality:
    model: str
    version: str
    rows: int  # labelled rows the figures come from
    metrics: dict[str, float]


def score(table: pd.DataFrame, kind: str | None = None) -> dict[str, float]:
    """The live metrics of joined rows of one version, as its kind computes them (``kind``: its name in the
    catalog; by default the kind whose answers these are)."""
    out = {c[len(OUTPUT) :]: table[c] for c in table.columns if c.startswith(OUTPUT)}
    return model_class(kind or kind_answering(set(out))).live_metrics(out, table["label"].to_numpy(float), table)


def live_quality(
    model: str, since: datetime | None = None, root: Path | None = None, kind: str | None = None
) -> list[Quality]:
    """Live quality of each version of ``model`` that answered since ``since`` and has outcomes (``kind``: the
    model's kind where the caller knows it; by default read from the logged answers)."""
    table = joined(model, since=since, root=root, inputs=False)
    if table.empty:
        return []
    found = []
    for version, rows in table.groupby("version", sort=True):
        found.append(Quality(model, str(version), len(rows), score(rows, kind)))
    return found


def log_evaluation(quality: Quality) -> str:
    """Log ``quality`` to MLflow as an evaluation run of the version, in the experiment of the run that
    registered it; the run id."""
    import mlflow

    client = mlflow.MlflowClient()
    version = client.get_model_version(quality.model, quality.version)
    experiment = client.get_run(version.run_id).info.experiment_id if version.run_id else None
    with mlflow.start_run(
        experiment_id=experiment,
        run_name=f"live-quality {quality.model} v{quality.version}",
        tags={
            "shopfloor.evaluates": f"{quality.model}/{quality.version}",
            "shopfloor.source_run": version.run_id or "",
        },
    ) as run:
        mlflow.log_metrics({f"live_{k}": v for k, v in quality.metrics.items()} | {"live_labelled_rows": quality.rows})
    return run.info.run_id
