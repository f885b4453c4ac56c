"""The continuous-retraining workflow as plain functions over files, one per pipeline step.

check:    new data read as the champion's kind reads them; split into adaptation and held-out rows; drift
          report against the rows the champion was trained on (logged with it as ``reference/``), where the
          kind measures one.
retrain:  a challenger from the champion, as its kind builds one: EnKF warm start for a ResNet, a refit for
          scikit-learn models, its own for a health index, an anomaly detector or a wear prognosis.

Every step asks the champion's kind (``shopfloor.kinds``: one retrainer per kind) and none branches on it.
promote:  champion and challenger scored on the same held-out rows; the challenger is registered
          either way (so its run and reason stay on record) and takes the ``champion`` alias only if
          its metric is not worse than the champion's by more than ``margin``.

Nothing is registered before the last step, and that step is all-or-nothing, so a failed run never
touches the champion. Servers that follow ``@champion`` pick a promoted version up by themselves.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import joblib
import pandas as pd

from shopfloor.constants import EXPERIMENTS, FAULT_MODEL, RETRAIN_METRICS
from shopfloor.defaults import RETRAINING
from shopfloor.errors import DataError
from shopfloor.kinds import retrainer_for
from shopfloor.progress import reported
from shopfloor.registry import Contract

EXPERIMENT = EXPERIMENTS["retraining"]
METRICS = RETRAIN_METRICS


def champion_inputs(model_name: str, tracking_uri: str | None = None) -> Contract:
    """The contract of ``model_name@champion`` (its MLmodel file only): what new data must look like.
    ``RegistryError`` when no champion exists."""
    from shopfloor.registry import champion_contract, use_tracking

    use_tracking(tracking_uri)
    return champion_contract(model_name)


def load_champion(model_name: str, tracking_uri: str | None = None) -> tuple[Contract, Any]:
    """The champion's contract and the registered model itself (a ``FaultClassifier``, or another kind's)."""
    from shopfloor.registry import load_version

    contract = champion_inputs(model_name, tracking_uri)
    return contract, load_version(model_name, contract.version.version)


def write_log_rows(
    model_name: str, label: str, since: Any = None, root: Path | None = None, loaded: tuple[Contract, Any] | None = None
) -> Path:
    """The answers the served champion logged, with their outcomes, as its kind's new rows in a Parquet file (the
    file a retraining run reads); ``loaded``: the champion as ``load_champion`` gave it, where the caller has it."""
    from shopfloor.monitoring.training_rows import write_training_rows

    contract, champion = loaded or load_champion(model_name)
    retrainer = retrainer_for(contract.kind)
    table = retrainer.log_rows(model_name, champion, label, since, root)
    # a kind that splits rows keeps the log's order (oldest first); the others sort theirs by unit, cut or tool
    return write_training_rows(model_name, table, root, answer_order=retrainer.time_split)


SPLIT_WORDS = {"time": "the latest rows held out", "random": "held out at random, stratified by the label"}


def split_mode(retrainer: Any, requested: str, time_column: str, data: str) -> str:
    """``time`` or ``random`` for a kind that can hold out its latest rows (``auto``: time for the served answers,
    which the log gives oldest first, or where a time column is named), ``groups`` for the others."""
    from shopfloor.data.splitfiles import in_time_order

    if not retrainer.time_split:
        if requested == "time" or time_column:
            raise retrainer.no_time_split("split" if requested == "time" else "time-column")
        return "groups"
    if requested != "auto":
        return requested
    answers = str(data).endswith(".parquet") and Path(data).exists() and in_time_order(data)
    return "time" if time_column or answers else "random"


def _check_summary(i: dict[str, Any]) -> str:
    head = f"{i['rows']} new rows against champion v{i['champion_version']}; "
    if "group" in i:  # another kind than a classifier: rows kept together by unit, cut or tool
        return head + f"{i['groups']} {i['group']}s, {i['adapt_rows']} rows to adapt on, {i['holdout_rows']} held out"
    return (
        head
        + f"{i['holdout_rows']} {i.get('split', 'held out')}; drift "
        + ("not measured" if i["drift"] is None else f"in {len(i['drifted'])} features" if i["drift"] else "none")
    )


@reported("check", summary=_check_summary)
def check_step(
    data: str,
    label: str,
    *,
    tracking_uri: str,
    adapt: str,
    holdout: str,
    report: str,
    model_name: str = FAULT_MODEL,
    holdout_size: float = RETRAINING.holdout_size,
    ks_threshold: float = RETRAINING.ks_threshold,
    psi_threshold: float = RETRAINING.psi_threshold,
    time_column: str = RETRAINING.time_column,
    split: str = RETRAINING.split,
    seed: int = RETRAINING.seed,
) -> dict[str, Any]:
    """Check the new rows as the champion's kind reads them, split them (a classifier's latest rows held out in
    time order (``split_mode``) or stratified at random; another kind's by unit, cut or tool), and report drift per
    column where the kind measures it (KS or categories, PSI)."""
    from shopfloor.registry import reference_rows

    contract, champion = load_champion(model_name, tracking_uri)
    retrainer = retrainer_for(contract.kind)
    mode = split_mode(retrainer, split, time_column, data)
    rows = retrainer.read(data, champion, label, time_column)
    drift = retrainer.drift(
        rows,
        champion,
        reference_rows(contract.version.run_id),
        {"ks_threshold": ks_threshold, "psi_threshold": psi_threshold},
    )
    info: dict[str, Any] = {
        "champion_version": int(contract.version.version),
        "kind": contract.kind,
        "rows": len(rows),
        **retrainer.summary(rows, champion),
    }
    if mode == "time":
        train, test = retrainer.split_latest(rows, holdout_size)
    else:
        train, test = retrainer.split(rows, champion, holdout_size, seed)
    info["split"] = SPLIT_WORDS[mode] if retrainer.time_split else f"whole {retrainer.group_column(champion)}s"
    del rows
    for frame, path in ((train, adapt), (test, holdout)):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        frame.to_parquet(path, index=False)
    info |= {"adapt_rows": len(train), "holdout_rows": len(test)}
    per_column = drift.pop("features", []) if drift else []
    info |= drift or {"drift": None, "drifted": []}
    Path(report).write_text(json.dumps({**info, "features": per_column} if per_column else info, indent=2))
    return info


@reported(
    "retrain",
    summary=lambda i: f"challenger by {i['method']} in {i['seconds']:.2f} s from champion v{i['champion_version']}",
)
def retrain_step(
    adapt: str,
    *,
    tracking_uri: str,
    challenger: str,
    model_name: str = FAULT_MODEL,
    fine_tune_epochs: int = RETRAINING.fine_tune_epochs,
    simulations: int = RETRAINING.simulations,
    seed: int = RETRAINING.seed,
) -> dict[str, Any]:
    """Build the challenger from the current champion on the adaptation rows, as its kind does, and save it
    (joblib)."""
    from shopfloor.registry import reference_rows

    contract, champion = load_champion(model_name, tracking_uri)
    rows = pd.read_parquet(adapt)
    model, info = retrainer_for(contract.kind).challenger(
        champion,
        rows,
        reference=reference_rows(contract.version.run_id),
        seed=seed,
        settings={"fine_tune_epochs": fine_tune_epochs, "simulations": simulations},
    )
    Path(challenger).parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, challenger)
    return {**info, "champion_version": int(contract.version.version)}


@reported("promote", summary=lambda r: r["reason"])
def promote_step(
    adapt: str,
    holdout: str,
    challenger: str,
    drift: str,
    *,
    tracking_uri: str,
    model_name: str = FAULT_MODEL,
    metric: str = RETRAINING.metric,
    margin: float = RETRAINING.margin,
    retrain_info: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Score both models on the held-out rows, register the challenger, move the alias if it earned it."""
    from shopfloor.registry import register_model
    from shopfloor.registry.promotion import Decision

    if metric not in METRICS:
        raise DataError("metric", f"must be one of {list(METRICS)}, got {metric!r}")
    contract, champion = load_champion(model_name, tracking_uri)
    version = contract.version
    model = joblib.load(challenger)
    rows = pd.read_parquet(holdout)
    retrainer = retrainer_for(contract.kind)
    metric = retrainer.metric(metric)
    old, new = retrainer.score(champion, rows), retrainer.score(model, rows)
    example = retrainer.example(pd.read_parquet(adapt), model)
    kept = retrainer.training_rows(adapt, contract)
    promote = new[metric] >= old[metric] - margin
    verdict = "promoted" if promote else "kept the champion"
    reason = (
        f"{verdict}: challenger {metric} {new[metric]:.3f} vs champion v{version.version} {old[metric]:.3f} "
        f"on {len(rows)} held-out rows (margin {margin:g})"
    )
    metrics = {**{f"test_{k}": v for k, v in new.items()}, **{f"champion_test_{k}": v for k, v in old.items()}}
    retrain_info = retrain_info or {}
    metrics |= {f"retrain_{k}": float(v) for k, v in retrain_info.items() if isinstance(v, int | float)}

    def decide() -> Decision:
        """Compare-and-set, under the registry lock: the decision stands only if the champion it was made
        against still holds the alias; a champion that moved during this run is never overwritten."""
        from shopfloor.registry import champion_version

        now = str(champion_version(model_name).version)
        if now != str(version.version):
            return Decision(
                False,
                f"kept the champion: it moved from v{version.version} to v{now} during this "
                "run, so the comparison no longer holds; registered as challenger",
            )
        return Decision(promote, reason, str(version.version), old[metric], new[metric], len(rows))

    reg = register_model(
        model,
        example,
        model_name=model_name,
        experiment=EXPERIMENT,
        metrics=metrics,
        params={
            "metric": metric,
            "margin": margin,
            "parent_version": version.version,
            "kind": contract.kind,
            "method": retrain_info.get("method", ""),
        },
        score_metric=f"test_{metric}",
        promote=decide,
        artifacts={**kept, "drift.json": Path(drift)},
        tags={"shopfloor.pipeline": "retraining"},
    )
    promote, reason = reg.decision.promote, reg.decision.reason
    return {
        "model_name": model_name,
        "version": reg.version,
        "alias": reg.alias,
        "promoted": promote,
        "reason": reason,
        "metric": metric,
        "challenger": new[metric],
        "champion": old[metric],
        "champion_version": int(version.version),
        "run_id": reg.run_id,
        "report_html": reg.report_uri,
        "kind": contract.kind,
        "scores": {"challenger": new, "champion": old},
        "holdout_rows": len(rows),
    }
