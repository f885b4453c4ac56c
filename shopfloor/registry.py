"""MLflow tracking and registry helpers: one run per model, in the model contract, aliases that follow
the metric.

A new version takes the ``champion`` alias only when its score is at least the current champion's;
otherwise it is tagged ``challenger``. Registration is all-or-nothing: if any step after the run
starts fails, the run is marked failed and any version created for it is deleted, so the registry
never holds a half-registered model.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
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
from shopfloor.contract import SequenceSchema, ShopfloorModel, TabularSchema, TensorSchema, schema_from_dict
from shopfloor.errors import DataError, RegistryError

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
    mlflow.set_tracking_uri(uri)
    return uri


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
        raise RegistryError(f"model {model_name!r} has no version with alias {alias!r}") from exc


@dataclass(frozen=True)
class Contract:
    """A registered version's contract, read from its ``MLmodel`` file alone (no model download)."""

    version: Any  # mlflow ModelVersion
    kind: str
    inputs: TabularSchema | TensorSchema | SequenceSchema
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

    @property
    def uri(self) -> str:
        return f"models:/{self.model_name}/{self.version}"


def log_contract_model(model: ShopfloorModel, example: pd.DataFrame | np.ndarray, model_name: str):
    """Log ``model`` (an MLflow pyfunc with the ``shopfloor`` package as its code) in the active run and
    register it as ``model_name``."""
    import shopfloor

    return mlflow.pyfunc.log_model(name="model", python_model=model, signature=model.signature(),
                                   input_example=example, registered_model_name=model_name,
                                   metadata=model.metadata(), code_paths=[str(Path(shopfloor.__file__).parent)],
                                   pip_requirements=pinned(REQUIREMENTS))


def register_model(model: ShopfloorModel, example: pd.DataFrame | np.ndarray, *, model_name: str, experiment: str,
                   metrics: dict[str, float], params: dict[str, Any], score_metric: str,
                   artifacts: dict[str, Path] | None = None, tables: dict[str, pd.DataFrame] | None = None,
                   tags: dict[str, str] | None = None, promote: bool | None = None,
                   log_model: Any = log_contract_model) -> Registration:
    """Log ``model`` with its params, metrics and files in one run, register it and set its alias.

    ``score_metric`` must be among ``metrics``; it decides champion vs challenger (higher wins, ties
    go to the newcomer) unless ``promote`` decides it (the retraining pipeline compares champion and
    challenger on the same held-out rows itself). ``artifacts`` maps artifact names (``dir/file``) to local files.
    """
    if score_metric not in metrics:
        raise ValueError(f"score_metric {score_metric!r} is not among the metrics")
    client = MlflowClient()
    mlflow.set_experiment(experiment_id=ensure_experiment(experiment))
    previous = champion_score(model_name, score_metric)
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
        info = log_model(model, example, model_name)
        version = int(info.registered_model_version)
        score = float(metrics[score_metric])
        wins = previous is None or score >= previous if promote is None else promote
        alias = CHAMPION if wins else CHALLENGER
        client.set_registered_model_alias(model_name, alias, str(version))
        client.set_model_version_tag(model_name, str(version), score_metric, f"{score:.6f}")
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
    return Registration(model_name, version, alias, run.info.run_id, score, previous)
