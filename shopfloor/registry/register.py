"""MLflow tracking and registry helpers: one run per model, in the model contract, aliases that follow
the metric.

A new version takes the ``champion`` alias only when its score is at least the current champion's;
otherwise it is tagged ``challenger``. Registration is all-or-nothing: if any step after the run
starts fails, the run is marked failed and any version created for it is deleted, so the registry
never holds a half-registered model.

Writers that run at once (two pipelines, two production lines, SQLite or the MLflow server) take the
registry lock of the model (``shopfloor.registry.lock``) from the creation of the version to the alias
move, and make the promotion decision inside it, against the champion of that moment: no writer can
overwrite a better champion that arrived while it trained. A version is created tagged
``shopfloor.pending`` and untagged after its alias is set; a pending version seen by a lock holder
belongs to a writer that died (killed, machine lost) and is removed then.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from shopfloor.constants import CHALLENGER, CHAMPION
from shopfloor.contract import ShopfloorModel
from shopfloor.errors import RegistryError
from shopfloor.platform.failpoints import reach
from shopfloor.platform.latency import scoring_latency
from shopfloor.platform.refusal import refused
from shopfloor.registry.champions import champion_score
from shopfloor.registry.history import move_alias
from shopfloor.registry.lock import registry_lock
from shopfloor.registry.promotion import Decision, by_score, forced
from shopfloor.registry.report import REPORT_FILE, RunReport, model_card, png_artifacts
from shopfloor.registry.tracking import (
    REQUIREMENTS,
    check_reachable,
    check_writable,
    ensure_experiment,
    pinned,
    use_tracking,
)

PENDING = "shopfloor.pending"  # tag of a version whose registration has not finished (value: its run id)

log = logging.getLogger(__name__)


@dataclass
class Registration:
    model_name: str
    version: int
    alias: str
    run_id: str
    score: float
    previous_champion_score: float | None
    decision: Decision
    report_uri: str = ""  # the run's report.html

    @property
    def uri(self) -> str:
        return f"models:/{self.model_name}/{self.version}"


def log_contract_model(model: ShopfloorModel, example: pd.DataFrame | np.ndarray, model_name: str):
    """Log ``model`` (an MLflow pyfunc with the ``shopfloor`` package as its code) in the active run; the
    version is created by ``register_model``, under the registry lock."""
    import shopfloor

    return mlflow.pyfunc.log_model(
        name="model",
        python_model=model,
        signature=model.signature(),
        input_example=example,
        metadata=model.metadata(),
        code_paths=[str(Path(shopfloor.__file__).parent)],
        pip_requirements=pinned(REQUIREMENTS),
    )


def sweep_pending(model_name: str) -> list[int]:
    """Finish or remove versions left pending by writers that died; call with the registry lock held.

    A pending version that already holds an alias died after its alias move: it is complete and only its
    tag goes. One without an alias died before the decision: it is deleted and its run marked failed.
    Returns the deleted version numbers."""
    client = MlflowClient()
    deleted: list[int] = []
    try:
        versions = client.search_model_versions(f"name='{model_name}'")
    except MlflowException:
        return deleted
    for found in versions:
        if PENDING not in (found.tags or {}):
            continue
        if found.aliases:
            client.delete_model_version_tag(model_name, str(found.version), PENDING)
            continue
        client.delete_model_version(model_name, str(found.version))
        deleted.append(int(found.version))
        if found.run_id:
            try:
                client.set_terminated(found.run_id, status="FAILED")
                client.set_tag(found.run_id, "shopfloor.failure", "writer died before its alias was set")
            except MlflowException:
                pass
        log.warning("removed version %s of %s, left pending by a writer that died", found.version, model_name)
    return deleted


def prepare_registry(model_name: str) -> str:
    """Before a run: the tracking store is reachable, this identity may write ``model_name`` (on a server with
    authentication), and versions of ``model_name`` left pending by a killed run are cleared (under the registry
    lock). Returns the tracking URI. Every refusal comes here, in seconds, not after training."""
    uri = use_tracking(check_reachable())
    try:
        check_writable(model_name)
        with registry_lock(model_name):
            sweep_pending(model_name)
    except MlflowException as exc:
        raise RegistryError(f"model {model_name!r}: {refused(exc) or exc.message}") from None
    return uri


def register_model(model: ShopfloorModel, example: pd.DataFrame | np.ndarray, **kwargs: Any) -> Registration:
    """``_register``, with the store's own failures (a stopped server or database) named as registry errors:
    the step fails with the tracking URI in its message, and nothing of the run is left registered."""
    try:
        return _register(model, example, **kwargs)
    except MlflowException as exc:
        detail = refused(exc) or (str(exc).strip().splitlines()[0][:400] if str(exc).strip() else type(exc).__name__)
        raise RegistryError(
            f"MLFLOW_TRACKING_URI {mlflow.get_tracking_uri()}: the registry failed while "
            f"registering {kwargs.get('model_name')!r}, and nothing was registered: {detail}"
        ) from exc


def _register(
    model: ShopfloorModel,
    example: pd.DataFrame | np.ndarray,
    *,
    model_name: str,
    experiment: str,
    metrics: dict[str, float],
    params: dict[str, Any],
    score_metric: str,
    artifacts: dict[str, Path] | None = None,
    tables: dict[str, pd.DataFrame] | None = None,
    tags: dict[str, str] | None = None,
    promote: bool | Callable[[], Decision] | None = None,
    log_model: Any = log_contract_model,
    report: RunReport | None = None,
) -> Registration:
    """Log ``model`` with its params, metrics and files in one run, register it and set its alias.

    ``score_metric`` must be among ``metrics``; it decides champion vs challenger (``promotion.by_score``) unless
    ``promote`` decides it: a bool, or a callable called under the registry lock, after the version exists, that
    returns a ``promotion.Decision`` (its metrics and tags are logged on the run).
    ``artifacts`` maps artifact names (``dir/file``) to local files. ``report`` (the pipeline's own sections)
    is completed with the tables, PNG plots, parameters, metrics and the registry's decision, logged as
    ``report.html``, and summed up as the version's description (``shopfloor.registry.report``).
    """
    if score_metric not in metrics:
        raise ValueError(f"score_metric {score_metric!r} is not among the metrics")
    client = MlflowClient()
    mlflow.set_experiment(experiment_id=ensure_experiment(experiment))
    run = mlflow.start_run(tags=tags)
    try:
        mlflow.log_params({k: str(v)[:500] for k, v in params.items()})
        mlflow.log_metrics({k: float(v) for k, v in metrics.items()})
        if artifacts:
            with tempfile.TemporaryDirectory() as staging:
                for name, path in artifacts.items():
                    target = Path(staging) / name
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(path, target)
                mlflow.log_artifacts(staging)
        for name, table in (tables or {}).items():
            mlflow.log_table(table, artifact_file=name)
        model.verify(example)  # the path that will serve it answers what was fitted, or nothing is registered
        mlflow.log_metrics(scoring_latency(model, example))
        info = log_model(model, example, model_name)
        score = float(metrics[score_metric])
        decision = None
        with registry_lock(model_name):
            sweep_pending(model_name)
            made = mlflow.register_model(info.model_uri, model_name, tags={PENDING: run.info.run_id})
            version = int(made.version)
            reach("registration")
            previous = champion_score(model_name, score_metric)  # the champion of this moment, read once
            if callable(promote):
                decision = promote()
            elif promote is None:
                decision = by_score(score, previous, score_metric)
            else:
                decision = forced(promote)
            mlflow.log_metrics({k: float(v) for k, v in decision.metrics.items()})
            mlflow.set_tags(decision.tags)
            alias = CHAMPION if decision.promote else CHALLENGER
            client.set_model_version_tag(model_name, str(version), score_metric, f"{score:.6f}")
            kind = (
                "retraining"
                if (tags or {}).get("shopfloor.pipeline") == "retraining"
                else ("promotion" if decision.promote else "challenger")
            )
            move_alias(
                model_name, alias, version, kind=kind, reason=decision.reason, run_id=run.info.run_id, client=client
            )
            client.delete_model_version_tag(model_name, str(version), PENDING)
        report_uri = _report(
            report or RunReport(f"{model_name}: a {model.KIND} run"),
            model=model,
            model_name=model_name,
            version=version,
            alias=alias,
            decision=decision,
            metrics=metrics,
            params=params,
            tables=tables or {},
            artifacts=artifacts or {},
            chosen=(tags or {}).get("shopfloor.chosen"),
            client=client,
        )
    except BaseException:
        # Every version this run created goes, including one registered by a log step that failed later.
        try:
            for made in client.search_model_versions(f"run_id='{run.info.run_id}'"):
                client.delete_model_version(made.name, str(made.version))
        except MlflowException:
            log.exception("could not delete the versions of failed run %s", run.info.run_id)
        mlflow.end_run(status="FAILED")
        raise
    mlflow.end_run()
    return Registration(model_name, version, alias, run.info.run_id, score, previous, decision, report_uri)


def _report(
    report: RunReport,
    *,
    model: ShopfloorModel,
    model_name: str,
    version: int,
    alias: str,
    decision: Decision,
    metrics: dict[str, float],
    params: dict[str, Any],
    tables: dict[str, pd.DataFrame],
    artifacts: dict[str, Path],
    chosen: str | None,
    client: MlflowClient,
) -> str:
    """Complete ``report`` with what every run logs and the decision; log it in the active run and write the
    version's model card. Returns the report's artifact URI."""
    for name, table in tables.items():
        report.table(name.removesuffix(".json").replace("_", " "), table, chosen=chosen)
    for name, png in png_artifacts(artifacts):
        report.image(name.removesuffix(".png").replace("_", " "), png)
    report.facts("parameters", {k: str(v)[:200] for k, v in params.items()})
    measured = {k: v for k, v in metrics.items() if k.startswith("test_")}
    shown = {k: v for k, v in metrics.items() if k.startswith(("test_", "valid_", "cv_"))}
    report.facts("figures of the registered model", shown or metrics)
    decided = f"version {version} of {model_name} is @{alias}: {decision.reason}"
    report.section("registry decision", decided)
    mlflow.log_text(report.render(), REPORT_FILE)
    predicts = "; ".join(f"{o.name} ({o.description})" if o.description else o.name for o in model.outputs)
    card = model_card(
        kind=model.KIND,
        predicts=predicts,
        trained=report.lead or "see report.html in its run",
        measured=dict(list(measured.items())[:8]),
        decision=decided,
        limits=report.limits,
    )
    client.update_model_version(model_name, str(version), description=card)
    return mlflow.get_artifact_uri(REPORT_FILE)
