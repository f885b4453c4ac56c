"""Where the registry is: the tracking URI, a reachable and writable server, the experiments, and the packages
every registered model needs where it is served."""

from __future__ import annotations

import os
from importlib import metadata

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from shopfloor import config
from shopfloor.errors import RegistryError

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


HTTP_LIMITS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
}


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
    raise RegistryError(
        f"MLFLOW_TRACKING_URI: the MLflow server at {uri} is unreachable ({problem}); "
        "start it (shopfloor mlflow-server) or point MLFLOW_TRACKING_URI at a running one"
    )


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
    client.set_registered_model_tag(
        model_name, "shopfloor.last_writer", os.environ.get("MLFLOW_TRACKING_USERNAME", "anonymous")
    )


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


def run_page(run_id: str, uri: str | None = None) -> str:
    """The MLflow UI page of ``run_id`` where the tracking store is a server that answers (``check_reachable``),
    else "" (a local store has no page until ``shopfloor ui`` serves it)."""
    uri = uri or config.tracking_uri()
    if not uri.startswith(("http://", "https://")):
        return ""
    try:
        check_reachable(uri, timeout=2.0)
        run = MlflowClient(uri).get_run(run_id)
    except (RegistryError, MlflowException):
        return ""
    return f"{uri.rstrip('/')}/#/experiments/{run.info.experiment_id}/runs/{run_id}"
