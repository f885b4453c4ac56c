"""The continuous-retraining workflow as plain functions over files, one per pipeline step.

check:    new data against the champion's signature; split into adaptation and held-out rows; drift
          report against the rows the champion was trained on (logged with it as ``reference/``).
retrain:  a challenger from the champion: EnKF warm start for a ResNet, a refit for scikit-learn models.
promote:  champion and challenger scored on the same held-out rows; the challenger is registered
          either way (so its run and reason stay on record) and takes the ``champion`` alias only if
          its metric is not worse than the champion's by more than ``margin``.

Nothing is registered before the last step, and that step is all-or-nothing, so a failed run never
touches the champion. Servers that follow ``@champion`` pick a promoted version up by themselves.
"""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import train_test_split

from shopfloor.classify.metrics import classification_report
from shopfloor.data import ingest as ing
from shopfloor.errors import DataError
from shopfloor.fault_detection import MODEL_NAME, REFERENCE
from shopfloor.retrain.drift import drift_report

EXPERIMENT = "retraining"
METRICS = ("f2", "f1", "recall", "precision", "g_mean", "accuracy")


def load_champion(model_name: str, tracking_uri: str | None = None,
                  with_model: bool = True) -> tuple[Any, Any, list[str]]:
    """(model version, scikit-learn model, feature names) of ``model_name@champion``; the model is
    None when ``with_model`` is False (checks that need only the signature skip the download).

    ``RegistryError`` when no champion exists; ``DataError`` when it is not a classifier with a
    signature (a health-index model, say).
    """
    import mlflow

    from shopfloor.registry import champion_version, use_tracking

    use_tracking(tracking_uri)
    version = champion_version(model_name)
    uri = f"models:/{model_name}/{version.version}"
    info = mlflow.models.get_model_info(uri)
    if "sklearn" not in info.flavors or info.signature is None:
        raise DataError("model", f"{uri} is not a scikit-learn classifier with a signature; only those retrain")
    model = mlflow.sklearn.load_model(uri) if with_model else None
    return version, model, info.signature.inputs.input_names()


def check_columns(table: pd.DataFrame, features: list[str], label: str) -> None:
    """New data must hold exactly the champion's features and the label."""
    if table.empty:
        raise DataError("data", "the new data have no rows")
    if label not in table.columns:
        raise DataError(label, "label column not found in the new data")
    missing = [f for f in features if f not in table.columns]
    if missing:
        raise DataError(missing[0], f"feature of the champion's signature is missing from the new data "
                                    f"({len(missing)} missing)")
    extra = [c for c in table.columns if c not in features and c != label]
    if extra:
        raise DataError(extra[0], "column is not in the champion's signature (drop it or retrain from scratch)")


def reference_rows(run_id: str) -> pd.DataFrame | None:
    """The training rows logged with the champion (None for models registered without them)."""
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        return pd.read_parquet(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=REFERENCE))
    except (MlflowException, OSError):
        return None


def check_step(data: str, label: str, *, tracking_uri: str, adapt: str, holdout: str, report: str,
               model_name: str = MODEL_NAME, holdout_size: float = 0.4, ks_threshold: float = 0.1,
               psi_threshold: float = 0.25, seed: int = 0) -> dict[str, Any]:
    """Check the new table, split it stratified, and report drift per feature (KS, PSI)."""
    version, _, features = load_champion(model_name, tracking_uri, with_model=False)
    table = ing.read_table(data)
    check_columns(table, features, label)
    prepared = ing.prepare(table[[*features, label]], label)
    rows = prepared.features[features].assign(**{ing.LABEL: prepared.label.to_numpy()})
    train, test = train_test_split(rows, test_size=holdout_size, stratify=rows[ing.LABEL], random_state=seed)
    for frame, path in ((train, adapt), (test, holdout)):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        frame.reset_index(drop=True).to_parquet(path, index=False)
    reference = reference_rows(version.run_id)
    info: dict[str, Any] = {"champion_version": int(version.version), "rows": len(rows), "adapt_rows": len(train),
                            "holdout_rows": len(test)}
    if reference is None:
        info |= {"drift": None, "drifted": []}
        Path(report).write_text(json.dumps(info, indent=2))
        return info
    drift = drift_report(reference[features], rows[features], ks_threshold=ks_threshold, psi_threshold=psi_threshold)
    info |= {"drift": drift.any_drift, "drifted": drift.drifted, "max_ks": float(drift.table["ks"].max()),
             "max_psi": float(drift.table["psi"].max())}
    Path(report).write_text(json.dumps({**info, "features": drift.table.reset_index().to_dict("records")}, indent=2))
    return info


def challenger_from(champion: Any, x: pd.DataFrame, y: np.ndarray, seed: int = 0) -> tuple[Any, dict[str, Any]]:
    """A challenger adapted to (x, y): EnKF warm start when the final step can ``retrain`` (the ResNet),
    otherwise a clone of the whole pipeline refitted."""
    final = champion[-1] if hasattr(champion, "steps") else champion
    start = time.perf_counter()
    if hasattr(final, "retrain"):
        challenger = copy.deepcopy(champion)
        head = challenger[:-1] if hasattr(challenger, "steps") else None
        rows = head.transform(x) if head is not None else x
        result = challenger[-1].retrain(rows, y, method="enkf", seed=seed)
        how = {"method": "enkf", "iterations": result.iterations, "train_error": result.error}
    else:
        challenger = clone(champion).fit(x, y)
        how = {"method": "refit"}
    return challenger, {**how, "seconds": time.perf_counter() - start}


def retrain_step(adapt: str, *, tracking_uri: str, challenger: str, model_name: str = MODEL_NAME,
                 seed: int = 0) -> dict[str, Any]:
    """Build the challenger from the current champion on the adaptation rows and save it (joblib)."""
    version, champion, features = load_champion(model_name, tracking_uri)
    rows = pd.read_parquet(adapt)
    model, info = challenger_from(champion, rows[features], rows[ing.LABEL].to_numpy(), seed=seed)
    Path(challenger).parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, challenger)
    return {**info, "champion_version": int(version.version)}


def _scores(model: Any, rows: pd.DataFrame, features: list[str]) -> dict[str, float]:
    return classification_report(rows[ing.LABEL].to_numpy(), np.asarray(model.predict(rows[features])))


def promote_step(adapt: str, holdout: str, challenger: str, drift: str, *, tracking_uri: str,
                 model_name: str = MODEL_NAME, metric: str = "f2", margin: float = 0.0,
                 retrain_info: dict[str, Any] | None = None) -> dict[str, Any]:
    """Score both models on the held-out rows, register the challenger, move the alias if it earned it."""
    from shopfloor.registry import register_sklearn

    if metric not in METRICS:
        raise DataError("metric", f"must be one of {list(METRICS)}, got {metric!r}")
    version, champion, features = load_champion(model_name, tracking_uri)
    model = joblib.load(challenger)
    rows = pd.read_parquet(holdout)
    old, new = _scores(champion, rows, features), _scores(model, rows, features)
    promote = new[metric] >= old[metric] - margin
    verdict = "promoted" if promote else "kept the champion"
    reason = (f"{verdict}: challenger {metric} {new[metric]:.3f} vs champion v{version.version} {old[metric]:.3f} "
              f"on {len(rows)} held-out rows (margin {margin:g})")
    metrics = {**{f"test_{k}": new[k] for k in METRICS}, **{f"champion_test_{k}": old[k] for k in METRICS}}
    retrain_info = retrain_info or {}
    metrics |= {f"retrain_{k}": float(v) for k, v in retrain_info.items() if isinstance(v, int | float)}
    reference = pd.read_parquet(adapt)
    reg = register_sklearn(model, reference[features].head(5), model_name=model_name, experiment=EXPERIMENT,
                           metrics=metrics, params={"metric": metric, "margin": margin,
                                                    "parent_version": version.version,
                                                    "method": retrain_info.get("method", "")},
                           score_metric=f"test_{metric}", promote=promote,
                           artifacts={REFERENCE: Path(adapt), "drift.json": Path(drift)},
                           tags={"shopfloor.pipeline": "retraining", "shopfloor.decision": verdict,
                                 "shopfloor.reason": reason})
    return {"model_name": model_name, "version": reg.version, "alias": reg.alias, "promoted": promote,
            "reason": reason, "metric": metric, "challenger": new[metric], "champion": old[metric],
            "champion_version": int(version.version), "run_id": reg.run_id}
