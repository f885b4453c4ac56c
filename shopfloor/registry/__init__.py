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
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from shopfloor import config
from shopfloor.constants import CHALLENGER, CHAMPION
from shopfloor.contract import InputSchema, ShopfloorModel, schema_from_dict
from shopfloor.errors import DataError, RegistryError
from shopfloor.platform.failpoints import reach
from shopfloor.platform.latency import scoring_latency
from shopfloor.platform.refusal import refused
from shopfloor.registry.history import move_alias
from shopfloor.registry.lock import registry_lock
from shopfloor.registry.promotion import Decision, by_score, forced

#: The development rows logged with each model (raw columns + label): what drift is measured against and what
#: retraining adds new rows to.
REFERENCE = "reference/train.parquet"

PENDING = "shopfloor.pending"  # tag of a version whose registration has not finished (value: its run id)

log = logging.getLogger(__name__)

# What every registered model needs where it is served. Declared, not inferred: MLflow's inference imports
# the model in a subprocess (seconds per registration) and picks up whatever the caller has loaded.
REQUIREMENTS = ("mlflow", "scikit-learn", "numpy", "pandas", "scipy", "torch", "cloudpickle")


def pinned(packages: tuple[str, ...]) -> list[str]:
    """``name==version`` for each installed package."""
    return [f"{name}=={metadata.version(name)}" for name in packages]


def use_tracking(uri: str | None = None) -> str:
    """Point MLflow at ``uri`` (default: the embedded SQLite store) and return it.

    The registry follows the tracking URI; no global registry URI is set, because MLflow lets a global
    one override even the tracking URI a client is created with.
    """
    uri = uri or config.tracking_uri()
    # MLflow's HTTP client retries a dead server for minutes by default; a stopped server or database must
    # fail a step in seconds (a user's own settings of these variables win).
    for name, value in HTTP_LIMITS.items():
        os.environ.setdefault(name, value)
    mlflow.set_tracking_uri(uri)
    return uri


HTTP_LIMITS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
               "MLFLOW_HTTP_REQUEST_TIMEOUT": "30"}


def check_reachable(uri: str | None = None, timeout: float = 5.0) -> str:
    """Fail fast, naming the setting, when the tracking store cannot be reached: an ``http(s)`` server must
    answer its ``/health`` within ``timeout`` seconds. Local stores need no check. Returns the URI."""
    import urllib.error
    import urllib.request

    uri = uri or config.tracking_uri()
    if not uri.startswith(("http://", "https://")):
        return uri
    try:
        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=timeout) as answer:
            if answer.status == 200:
                return uri
            problem = f"answered {answer.status}"
    except urllib.error.HTTPError as exc:
        problem = f"answered {exc.code}"
    except (OSError, ValueError) as exc:
        problem = str(getattr(exc, "reason", exc))
    raise RegistryError(f"MLFLOW_TRACKING_URI: the MLflow server at {uri} is unreachable ({problem}); "
                        "start it (shopfloor mlflow-server) or point MLFLOW_TRACKING_URI at a running one")


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


def check_writable(model_name: str) -> None:
    """On an MLflow server, prove that this identity may change ``model_name`` (if it exists yet) by recording
    itself as the model's last writer; a read-only identity is refused here (MLflow's ``PERMISSION_DENIED``)."""
    if not mlflow.get_tracking_uri().startswith(("http://", "https://")):
        return
    client = MlflowClient()
    try:
        client.get_registered_model(model_name)
    except MlflowException as exc:
        if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
            return  # the first registration creates it, and its creator may manage it
        raise
    client.set_registered_model_tag(model_name, "shopfloor.last_writer",
                                    os.environ.get("MLFLOW_TRACKING_USERNAME", "anonymous"))


def ensure_experiment(name: str) -> str:
    """Experiment id for ``name``; on a local store its artifacts go under the data directory."""
    found = mlflow.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    uri = mlflow.get_tracking_uri()
    location = config.artifact_root() if uri.startswith(("sqlite:", "file:")) or "://" not in uri else None
    if location:
        location = f"{location}/{name}"
    return mlflow.create_experiment(name, artifact_location=location)


def champion_score(model_name: str, metric: str, alias: str = CHAMPION) -> float | None:
    """The ``metric`` logged by the run behind ``model_name@alias``, or None without a champion."""
    client = MlflowClient()
    try:
        version = client.get_model_version_by_alias(model_name, alias)
    except MlflowException:
        return None
    value = client.get_run(version.run_id).data.metrics.get(metric)
    return None if value is None else float(value)


def champion_version(model_name: str, alias: str = CHAMPION):
    """The ``ModelVersion`` behind ``model_name@alias``; ``RegistryError`` when there is none."""
    try:
        return MlflowClient().get_model_version_by_alias(model_name, alias)
    except MlflowException as exc:
        why = refused(exc)
        if why:
            raise RegistryError(f"model {model_name!r}: {why} (reading {model_name}@{alias})") from None
        raise RegistryError(f"model {model_name!r} has no version with alias {alias!r}") from exc


@dataclass(frozen=True)
class Contract:
    """A registered version's contract, read from its ``MLmodel`` file alone (no model download)."""

    version: Any  # mlflow ModelVersion
    kind: str
    inputs: InputSchema
    details: dict[str, Any]


def champion_contract(model_name: str, alias: str = CHAMPION) -> Contract:
    """The contract of ``model_name@alias``; ``RegistryError`` without one, ``DataError`` for a model that
    was not registered by Shopfloor's contract."""
    version = champion_version(model_name, alias)
    uri = f"models:/{model_name}/{version.version}"
    info = mlflow.models.get_model_info(uri)
    meta = (info.metadata or {}).get("shopfloor")
    if not meta or "inputs" not in meta:
        raise DataError("model", f"{uri} was not registered with Shopfloor's model contract (no inputs in its "
                                 "metadata); register it again with this version of Shopfloor")
    details = {k: v for k, v in meta.items() if k not in ("contract", "kind", "inputs", "outputs")}
    return Contract(version, meta.get("kind", "model"), schema_from_dict(meta["inputs"]), details)


def load_version(model_name: str, version: str | int) -> ShopfloorModel:
    """The ``ShopfloorModel`` registered as ``model_name`` version ``version``."""
    uri = f"models:/{model_name}/{version}"
    model = mlflow.pyfunc.load_model(uri).unwrap_python_model()
    if not isinstance(model, ShopfloorModel):
        raise DataError("model", f"{uri} is a {type(model).__name__}, not a Shopfloor model; register it again")
    return model


@dataclass
class Registration:
    model_name: str
    version: int
    alias: str
    run_id: str
    score: float
    previous_champion_score: float | None
    decision: Decision

    @property
    def uri(self) -> str:
        return f"models:/{self.model_name}/{self.version}"


def log_contract_model(model: ShopfloorModel, example: pd.DataFrame | np.ndarray, model_name: str):
    """Log ``model`` (an MLflow pyfunc with the ``shopfloor`` package as its code) in the active run; the
    version is created by ``register_model``, under the registry lock."""
    import shopfloor

    return mlflow.pyfunc.log_model(name="model", python_model=model, signature=model.signature(),
                                   input_example=example, metadata=model.metadata(),
                                   code_paths=[str(Path(shopfloor.__file__).parent)],
                                   pip_requirements=pinned(REQUIREMENTS))


def reference_rows(run_id: str) -> pd.DataFrame | None:
    """The training rows logged with a version's run (None for models registered without them)."""
    try:
        return pd.read_parquet(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=REFERENCE))
    except (MlflowException, OSError):
        return None


def sweep_pending(model_name: str) -> list[int]:
    """Finish or remove versions left pending by writers that died; call with the registry lock held.

    A pending version that already holds an alias died after its alias move: it is complete and only its
    tag goes. One without an alias died before the decision: it is deleted and its run marked failed.
    Returns the deleted version numbers."""
    client = MlflowClient()
    deleted = []
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


def register_model(model: ShopfloorModel, example: pd.DataFrame | np.ndarray, **kwargs: Any) -> Registration:
    """``_register``, with the store's own failures (a stopped server or database) named as registry errors:
    the step fails with the tracking URI in its message, and nothing of the run is left registered."""
    try:
        return _register(model, example, **kwargs)
    except MlflowException as exc:
        detail = refused(exc) or (str(exc).strip().splitlines()[0][:400] if str(exc).strip() else type(exc).__name__)
        raise RegistryError(f"MLFLOW_TRACKING_URI {mlflow.get_tracking_uri()}: the registry failed while "
                            f"registering {kwargs.get('model_name')!r}, and nothing was registered: {detail}") \
            from exc


def _register(model: ShopfloorModel, example: pd.DataFrame | np.ndarray, *, model_name: str, experiment: str,
                   metrics: dict[str, float], params: dict[str, Any], score_metric: str,
                   artifacts: dict[str, Path] | None = None, tables: dict[str, pd.DataFrame] | None = None,
                   tags: dict[str, str] | None = None, promote: bool | Callable[[], Decision] | None = None,
                   log_model: Any = log_contract_model) -> Registration:
    """Log ``model`` with its params, metrics and files in one run, register it and set its alias.

    ``score_metric`` must be among ``metrics``; it decides champion vs challenger (``promotion.by_score``) unless
    ``promote`` decides it: a bool, or a callable called under the registry lock, after the version exists, that
    returns a ``promotion.Decision`` (its metrics and tags are logged on the run).
    ``artifacts`` maps artifact names (``dir/file``) to local files.
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
            kind = "retraining" if (tags or {}).get("shopfloor.pipeline") == "retraining" else (
                "promotion" if decision.promote else "challenger")
            move_alias(model_name, alias, version, kind=kind, reason=decision.reason, run_id=run.info.run_id,
                       client=client)
            client.delete_model_version_tag(model_name, str(version), PENDING)
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
    return Registration(model_name, version, alias, run.info.run_id, score, previous, decision)
