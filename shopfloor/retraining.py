"""The continuous-retraining workflow as plain functions over files, one per pipeline step.

check:    new data against the champion's signature; split into adaptation and held-out rows; drift
          report against the rows the champion was trained on (logged with it as ``reference/``).
retrain:  a challenger from the champion: EnKF warm start for a ResNet, a refit for scikit-learn models.
          A champion of another kind (health index, anomaly detector, wear prognosis) takes its own rows,
          split by unit, cut or tool, and its own challenger (``shopfloor.retrain.kinds``).
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
    ``RegistryError`` when no champion exists."""
    from shopfloor.registry import champion_contract, use_tracking

    use_tracking(tracking_uri)
    return champion_contract(model_name)


def is_classifier(contract: Contract) -> bool:
    return contract.kind == FaultClassifier.KIND


def load_champion(model_name: str, tracking_uri: str | None = None) -> tuple[Contract, Any]:
    """The champion's contract and the registered model itself (a ``FaultClassifier``, or another kind's)."""
    from shopfloor.registry import load_version

    contract = champion_inputs(model_name, tracking_uri)
    return contract, load_version(model_name, contract.version.version)


def read_new_rows(data: str, contract: Contract, label: str) -> pd.DataFrame:
    """The new rows checked against the champion: a classifier's labelled table, or what another kind learns
    from (``shopfloor.retrain.kinds``). ``DataError`` naming the field otherwise."""
    if is_classifier(contract):
        table = ing.read_table(data)
        check_columns(table, contract.inputs.names, label, contract.details.get("key_column"))
        return table
    from shopfloor.registry import load_version
    from shopfloor.retrain.kinds import retrainer_for

    return retrainer_for(contract.kind).read(data, load_version(contract.version.name, contract.version.version))


def check_columns(table: pd.DataFrame, features: list[str], label: str, key_column: str | None = None) -> None:
    """New data must hold exactly the champion's raw columns and the label (and its business key, if named)."""
    if table.empty:
        raise DataError("data", "the new data have no rows")
    if label not in table.columns:
        raise DataError(label, "label column not found in the new data")
    missing = [f for f in features if f not in table.columns]
    if missing:
        raise DataError(missing[0], f"feature of the champion's signature is missing from the new data "
                                    f"({len(missing)} missing)")
    extra = [c for c in table.columns if c not in features and c not in (label, key_column)]
    if extra:
        raise DataError(extra[0], "column is not in the champion's signature (drop it or retrain from scratch)")


def labelled_rows(table: pd.DataFrame, schema: TabularSchema, label: str) -> pd.DataFrame:
    """The new table typed as the champion takes it (string columns as categories), with the 0/1 label."""
    categorical = [c.name for c in schema.categorical]
    prepared = ing.prepare(table[[*schema.names, label]], label, categorical=categorical, min_categories=1)
    return prepared.features[schema.names].assign(**{ing.LABEL: prepared.label.to_numpy()})


def _check_summary(i: dict[str, Any]) -> str:
    head = f"{i['rows']} new rows against champion v{i['champion_version']}; "
    if "group" in i:  # another kind than a classifier: rows kept together by unit, cut or tool
        return head + f"{i['groups']} {i['group']}s, {i['adapt_rows']} rows to adapt on, {i['holdout_rows']} held out"
    return head + "drift " + ("not measured" if i["drift"] is None else
                              f"in {len(i['drifted'])} features" if i["drift"] else "none")


@reported("check", summary=_check_summary)
def check_step(data: str, label: str, *, tracking_uri: str, adapt: str, holdout: str, report: str,
               model_name: str = FAULT_MODEL, holdout_size: float = RETRAINING.holdout_size,
               ks_threshold: float = RETRAINING.ks_threshold, psi_threshold: float = RETRAINING.psi_threshold,
               seed: int = RETRAINING.seed) -> dict[str, Any]:
    """Check the new table, split it stratified, and report drift per column (KS or categories, PSI). For
    other kinds than a classifier: check their rows and split them by group (``shopfloor.retrain.kinds``)."""
    contract = champion_inputs(model_name, tracking_uri)
    if not is_classifier(contract):
        return _check_kind(data, contract, adapt=adapt, holdout=holdout, report=report,
                           holdout_size=holdout_size, seed=seed)
    features = contract.inputs.names
    table = ing.read_table(data)
    check_columns(table, features, label, contract.details.get("key_column"))
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


def _check_kind(data: str, contract: Contract, *, adapt: str, holdout: str, report: str, holdout_size: float,
                seed: int) -> dict[str, Any]:
    from shopfloor.registry import load_version
    from shopfloor.retrain.kinds import retrainer_for

    retrainer = retrainer_for(contract.kind)
    champion = load_version(contract.version.name, contract.version.version)
    rows = retrainer.read(data, champion)
    train, test = retrainer.split(rows, champion, holdout_size, seed)
    for frame, path in ((train, adapt), (test, holdout)):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        frame.to_parquet(path, index=False)
    info = {"champion_version": int(contract.version.version), "kind": contract.kind, "rows": len(rows),
            "adapt_rows": len(train), "holdout_rows": len(test), "drift": None, "drifted": [],
            **retrainer.summary(rows, champion)}
    Path(report).write_text(json.dumps(info, indent=2))
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
    challenger = FaultClassifier(fitted, schema, threshold=champion.threshold, labels=champion.labels,
                                 key_column=champion.details().get("key_column"))
    return challenger, {**how, "seconds": time.perf_counter() - start}


@reported("retrain", summary=lambda i: f"challenger by {i['method']} in {i['seconds']:.2f} s "
                                       f"from champion v{i['champion_version']}")
def retrain_step(adapt: str, *, tracking_uri: str, challenger: str, model_name: str = FAULT_MODEL,
                 fine_tune_epochs: int = RETRAINING.fine_tune_epochs, simulations: int = RETRAINING.simulations,
                 seed: int = RETRAINING.seed) -> dict[str, Any]:
    """Build the challenger from the current champion on the adaptation rows and save it (joblib)."""
    contract, champion = load_champion(model_name, tracking_uri)
    rows = pd.read_parquet(adapt)
    if is_classifier(contract):
        model, info = challenger_from(champion, rows[contract.inputs.names], rows[ing.LABEL].to_numpy(), seed=seed)
    else:
        from shopfloor.registry import reference_rows
        from shopfloor.retrain.kinds import retrainer_for

        model, info = retrainer_for(contract.kind).challenger(
            champion, rows, reference=reference_rows(contract.version.run_id), seed=seed,
            settings={"fine_tune_epochs": fine_tune_epochs, "simulations": simulations})
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
    from shopfloor.retrain.kinds import metric_for, retrainer_for

    if metric not in METRICS:
        raise DataError("metric", f"must be one of {list(METRICS)}, got {metric!r}")
    contract, champion = load_champion(model_name, tracking_uri)
    version = contract.version
    model = joblib.load(challenger)
    rows = pd.read_parquet(holdout)
    metric = metric_for(contract.kind, metric)
    adapted = pd.read_parquet(adapt)
    if is_classifier(contract):
        old, new = _scores(champion, rows), _scores(model, rows)
        example, kept = adapted[model.inputs.names].head(5), {REFERENCE: Path(adapt)}
    else:
        retrainer = retrainer_for(contract.kind)
        old, new = retrainer.score(champion, rows), retrainer.score(model, rows)
        example, kept = retrainer.example(adapted, model), retrainer.training_rows(adapt, contract)
    promote = new[metric] >= old[metric] - margin
    verdict = "promoted" if promote else "kept the champion"
    reason = (f"{verdict}: challenger {metric} {new[metric]:.3f} vs champion v{version.version} {old[metric]:.3f} "
              f"on {len(rows)} held-out rows (margin {margin:g})")
    metrics = {**{f"test_{k}": v for k, v in new.items()}, **{f"champion_test_{k}": v for k, v in old.items()}}
    retrain_info = retrain_info or {}
    metrics |= {f"retrain_{k}": float(v) for k, v in retrain_info.items() if isinstance(v, int | float)}

    def decide() -> Decision:
        """Compare-and-set, under the registry lock: the decision stands only if the champion it was made
        against still holds the alias; a champion that moved during this run is never overwritten."""
        from shopfloor.registry import champion_version

        now = str(champion_version(model_name).version)
        if now != str(version.version):
            return Decision(False, f"kept the champion: it moved from v{version.version} to v{now} during this "
                                   "run, so the comparison no longer holds; registered as challenger")
        return Decision(promote, reason, str(version.version), old[metric], new[metric], len(rows))

    reg = register_model(model, example, model_name=model_name, experiment=EXPERIMENT,
                         metrics=metrics, params={"metric": metric, "margin": margin,
                                                  "parent_version": version.version, "kind": contract.kind,
                                                  "method": retrain_info.get("method", "")},
                         score_metric=f"test_{metric}", promote=decide,
                         artifacts={**kept, "drift.json": Path(drift)},
                         tags={"shopfloor.pipeline": "retraining"})
    promote, reason = reg.decision.promote, reg.decision.reason
    return {"model_name": model_name, "version": reg.version, "alias": reg.alias, "promoted": promote,
            "reason": reason, "metric": metric, "challenger": new[metric], "champion": old[metric],
            "champion_version": int(version.version), "run_id": reg.run_id, "kind": contract.kind,
            "scores": {"challenger": new, "champion": old}, "holdout_rows": len(rows)}

