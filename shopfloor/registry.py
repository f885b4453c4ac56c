"""MLflow tracking and registry helpers: one run per model, aliases that follow the metric.

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
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature

from shopfloor import config
from shopfloor.errors import RegistryError

log = logging.getLogger(__name__)

CHAMPION, CHALLENGER = "champion", "challenger"
# Types inside fitted scikit-learn pipelines that skops (MLflow's safe format) must be told to trust.
SKOPS_TRUSTED = ["numpy.dtype"]
# What a served scikit-learn model needs. Declared, not inferred: MLflow's inference imports the model
# in a subprocess (seconds per registration) and picks up whatever the caller has loaded.
SKLEARN_REQUIREMENTS = ("mlflow", "scikit-learn", "numpy", "pandas", "scipy", "skops")


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


def _native(model: Any) -> bool:
    """Whether every step of ``model`` is scikit-learn's own (skops can store it safely)."""
    steps = [step for _, step in model.steps] if hasattr(model, "steps") else [model]
    return all(type(step).__module__.startswith("sklearn") for step in steps)


def register_sklearn(model: Any, example: pd.DataFrame, **kwargs: Any) -> Registration:
    """``register_model`` for a scikit-learn estimator (MLflow's sklearn flavor).

    Pure scikit-learn models are stored with skops; a pipeline holding a Shopfloor estimator (the
    ResNet classifier) is pickled, with the ``shopfloor`` package shipped as code so it loads anywhere.
    """
    import shopfloor

    signature = infer_signature(example, model.predict(example))
    if _native(model):
        storage = {"skops_trusted_types": SKOPS_TRUSTED, "pip_requirements": pinned(SKLEARN_REQUIREMENTS)}
    else:
        storage = {"serialization_format": mlflow.sklearn.SERIALIZATION_FORMAT_CLOUDPICKLE,
                   "code_paths": [str(Path(shopfloor.__file__).parent)],
                   "pip_requirements": pinned((*SKLEARN_REQUIREMENTS, "torch", "cloudpickle"))}

    def log(model_name: str):
        return mlflow.sklearn.log_model(model, name="model", signature=signature, input_example=example.head(2),
                                        registered_model_name=model_name, **storage)

    return register_model(log, **kwargs)


def register_pyfunc(python_model: Any, example: pd.DataFrame, output: str, **kwargs: Any) -> Registration:
    """``register_model`` for an MLflow ``PythonModel`` whose code lives in the ``shopfloor`` package
    (shipped with the model through ``code_paths``, so the model loads wherever MLflow runs)."""
    import shopfloor

    prediction = pd.DataFrame({output: python_model.predict(None, example)})
    signature = infer_signature(example, prediction)

    def log(model_name: str):
        return mlflow.pyfunc.log_model(name="model", python_model=python_model, signature=signature,
                                       input_example=example.head(2), registered_model_name=model_name,
                                       code_paths=[str(Path(shopfloor.__file__).parent)],
                                       pip_requirements=pinned((*SKLEARN_REQUIREMENTS, "torch")))

    return register_model(log, **kwargs)


def register_model(log_model: Any, *, model_name: str, experiment: str, metrics: dict[str, float],
                   params: dict[str, Any], score_metric: str, artifacts: dict[str, Path] | None = None,
                   tables: dict[str, pd.DataFrame] | None = None, tags: dict[str, str] | None = None,
                   promote: bool | None = None) -> Registration:
    """Log a model (``log_model(model_name)`` does it inside the run) with its params, metrics and files in
    one run, register it and set its alias.

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
        info = log_model(model_name)
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
