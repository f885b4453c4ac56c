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
from shopfloor.classify.model import FaultClassifier
from shopfloor.constants import EXPERIMENTS, FAULT_MODEL, RETRAIN_METRICS
from shopfloor.contract import TabularSchema
from shopfloor.data import ingest as ing
from shopfloor.defaults import RETRAINING
from shopfloor.errors import DataError
from shopfloor.progress import reported
from shopfloor.registry import Contract, reference_rows
from shopfloor.retrain.drift import drift_report

EXPERIMENT = EXPERIMENTS["retraining"]
METRICS = RETRAIN_METRICS


def champion_inputs(model_name: str, tracking_uri: str | None = None) -> Contract:
    """The contract of ``model_name@champion`` (its MLmodel file only): what new data must look like.

    ``RegistryError`` when no champion exists; ``DataError`` when it is not a fault classifier (a
    health-index model, say).
    """
    from shopfloor.registry import champion_contract, use_tracking

    use_tracking(tracking_uri)
    contract = champion_contract(model_name)
    if contract.kind != FaultClassifier.KIND:
        raise DataError("model", f"{model_name}@champion is a {contract.kind} model; only fault classifiers retrain")
    return contract


def load_champion(model_name: str, tracking_uri: str | None = None) -> tuple[Contract, FaultClassifier]:
    """The champion's contract and the registered ``FaultClassifier`` itself."""
    from shopfloor.registry import load_version

    contract = champion_inputs(model_name, tracking_uri)
    return contract, load_version(model_name, contract.version.version)


def check_columns(table: pd.DataFrame, features: list[str], label: str) -> None:
    """New data must hold exactly the champion's raw columns and the label."""
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


def labelled_rows(table: pd.DataFrame, schema: TabularSchema, label: str) -> pd.DataFrame:
    """The new table typed as the champion takes it (string columns as categories), with the 0/1 label."""
    categorical = [c.name for c in schema.categorical]
    prepared = ing.prepare(table[[*schema.names, label]], label, categorical=categorical, min_categories=1)
    return prepared.features[schema.names].assign(**{ing.LABEL: prepared.label.to_numpy()})


@reported("check", summary=lambda i: f"{i['rows']} new rows against champion v{i['champion_version']}; drift "
                                     + ("not measured" if i["drift"] is None else
                                        f"in {len(i['drifted'])} features" if i["drift"] else "none"))
def check_step(data: str, label: str, *, tracking_uri: str, adapt: str, holdout: str, report: str,
               model_name: str = FAULT_MODEL, holdout_size: float = RETRAINING.holdout_size,
               ks_threshold: float = RETRAINING.ks_threshold, psi_threshold: float = RETRAINING.psi_threshold,
               seed: int = RETRAINING.seed) -> dict[str, Any]:
    """Check the new table, split it stratified, and report drift per column (KS or categories, PSI)."""
    contract = champion_inputs(model_name, tracking_uri)
    features = contract.inputs.names
    table = ing.read_table(data)
    check_columns(table, features, label)
    rows = labelled_rows(table, contract.inputs, label)
    train, test = train_test_split(rows, test_size=holdout_size, stratify=rows[ing.LABEL], random_state=seed)
    for frame, path in ((train, adapt), (test, holdout)):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        frame.reset_index(drop=True).to_parquet(path, index=False)
    reference = reference_rows(contract.version.run_id)
    info: dict[str, Any] = {"champion_version": int(contract.version.version), "rows": len(rows),
                            "adapt_rows": len(train), "holdout_rows": len(test)}
    if reference is None:
        info |= {"drift": None, "drifted": []}
        Path(report).write_text(json.dumps(info, indent=2))
        return info
    drift = drift_report(reference[features], rows[features], ks_threshold=ks_threshold, psi_threshold=psi_threshold)
    info |= {"drift": drift.any_drift, "drifted": drift.drifted, "max_ks": float(drift.table["ks"].max()),
             "max_psi": float(drift.table["psi"].max())}
    Path(report).write_text(json.dumps({**info, "features": drift.table.reset_index().to_dict("records")}, indent=2))
    return info


def challenger_from(champion: FaultClassifier, x: pd.DataFrame, y: np.ndarray, seed: int = 0
                    ) -> tuple[FaultClassifier, dict[str, Any]]:
    """A challenger adapted to (x, y): EnKF warm start when the final step can ``retrain`` (the ResNet),
    otherwise a clone of the whole pipeline (preprocessing included) refitted. The challenger keeps the
    champion's columns, threshold and labels."""
    estimator = champion.estimator
    final = estimator[-1] if hasattr(estimator, "steps") else estimator
    start = time.perf_counter()
    schema = champion.inputs
    if hasattr(final, "retrain"):
        fitted = copy.deepcopy(estimator)
        head = fitted[:-1] if hasattr(fitted, "steps") else None
        rows = head.transform(x) if head is not None else x
        result = fitted[-1].retrain(rows, y, method="enkf", seed=seed)
        how = {"method": "enkf", "iterations": result.iterations, "train_error": result.error}
    else:
        fitted = clone(estimator).fit(x, y)
        how = {"method": "refit"}
        if hasattr(fitted, "steps"):  # the encoder may have met new categories
            schema = ing.schema_of(fitted[0], x, [c.name for c in schema.columns if c.type == "boolean"])
    challenger = FaultClassifier(fitted, schema, threshold=champion.threshold, labels=champion.labels)
    return challenger, {**how, "seconds": time.perf_counter() - start}


@reported("retrain", summary=lambda i: f"challenger by {i['method']} in {i['seconds']:.2f} s "
                                       f"from champion v{i['champion_version']}")
def retrain_step(adapt: str, *, tracking_uri: str, challenger: str, model_name: str = FAULT_MODEL,
                 seed: int = RETRAINING.seed) -> dict[str, Any]:
    """Build the challenger from the current champion on the adaptation rows and save it (joblib)."""
    contract, champion = load_champion(model_name, tracking_uri)
    rows = pd.read_parquet(adapt)
    model, info = challenger_from(champion, rows[contract.inputs.names], rows[ing.LABEL].to_numpy(), seed=seed)
    Path(challenger).parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, challenger)
    return {**info, "champion_version": int(contract.version.version)}


def _scores(model: FaultClassifier, rows: pd.DataFrame) -> dict[str, float]:
    predicted = model.predict(None, rows[model.inputs.names])["class"].to_numpy()
    return classification_report(rows[ing.LABEL].to_numpy(), predicted)


@reported("promote", summary=lambda r: r["reason"])
def promote_step(adapt: str, holdout: str, challenger: str, drift: str, *, tracking_uri: str,
                 model_name: str = FAULT_MODEL, metric: str = RETRAINING.metric, margin: float = RETRAINING.margin,
                 retrain_info: dict[str, Any] | None = None) -> dict[str, Any]:
    """Score both models on the held-out rows, register the challenger, move the alias if it earned it."""
    from shopfloor.registry import REFERENCE, register_model
    from shopfloor.registry.promotion import Decision

    if metric not in METRICS:
        raise DataError("metric", f"must be one of {list(METRICS)}, got {metric!r}")
    contract, champion = load_champion(model_name, tracking_uri)
    version = contract.version
    model = joblib.load(challenger)
    rows = pd.read_parquet(holdout)
    old, new = _scores(champion, rows), _scores(model, rows)
    promote = new[metric] >= old[metric] - margin
    verdict = "promoted" if promote else "kept the champion"
    reason = (f"{verdict}: challenger {metric} {new[metric]:.3f} vs champion v{version.version} {old[metric]:.3f} "
              f"on {len(rows)} held-out rows (margin {margin:g})")
    metrics = {**{f"test_{k}": new[k] for k in METRICS}, **{f"champion_test_{k}": old[k] for k in METRICS}}
    retrain_info = retrain_info or {}
    metrics |= {f"retrain_{k}": float(v) for k, v in retrain_info.items() if isinstance(v, int | float)}
    reference = pd.read_parquet(adapt)

    def decide() -> Decision:
        """Compare-and-set, under the registry lock: the decision stands only if the champion it was made
        against still holds the alias; a champion that moved during this run is never overwritten."""
        from shopfloor.registry import champion_version

        now = str(champion_version(model_name).version)
        if now != str(version.version):
            return Decision(False, f"kept the champion: it moved from v{version.version} to v{now} during this "
                                   "run, so the comparison no longer holds; registered as challenger")
        return Decision(promote, reason, str(version.version), old[metric], new[metric], len(rows))

    reg = register_model(model, reference[model.inputs.names].head(5), model_name=model_name, experiment=EXPERIMENT,
                         metrics=metrics, params={"metric": metric, "margin": margin,
                                                  "parent_version": version.version,
                                                  "method": retrain_info.get("method", "")},
                         score_metric=f"test_{metric}", promote=decide,
                         artifacts={REFERENCE: Path(adapt), "drift.json": Path(drift)},
                         tags={"shopfloor.pipeline": "retraining"})
    promote, reason = reg.decision.promote, reg.decision.reason
    return {"model_name": model_name, "version": reg.version, "alias": reg.alias, "promoted": promote,
            "reason": reason, "metric": metric, "challenger": new[metric], "champion": old[metric],
            "champion_version": int(version.version), "run_id": reg.run_id}
