"""Where Shopfloor keeps its state on one machine, and every environment variable it reads.

The embedded default keeps the MLflow tracking store (SQLite), MLflow artifacts, Optuna studies and
KFP local outputs under ``$SHOPFLOOR_HOME`` (default ``./.shopfloor``). ``MLFLOW_TRACKING_URI``
overrides the tracking store, as MLflow users expect. The ``SHOPFLOOR_*`` variables are read here and nowhere
else (``environment()``, at each call: a run sets some for the steps it starts); other modules name them through
the constants below when they set one for a child process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_HOME = ".shopfloor"
DEFAULT_IMAGE = "localhost:32000/shopfloor-python:0.1.0"

HOME_ENV = "SHOPFLOOR_HOME"  # the project data directory
MONITORING_ENV = "SHOPFLOOR_MONITORING"  # the prediction log and outcomes (default: $SHOPFLOOR_HOME/monitoring)
THREADS_ENV = "SHOPFLOOR_THREADS"  # the threads a run's steps may use together (a parent's budget)
EVENTS_ENV = "SHOPFLOOR_EVENTS"  # the file a run's steps write their progress events to
FAILPOINT_ENV = "SHOPFLOOR_FAILPOINT"  # NAME or NAME:SECONDS: stop at a fail point (fault-injection tests)
PUSHGATEWAY_ENV = "SHOPFLOOR_PUSHGATEWAY"  # the Prometheus Pushgateway run outcomes go to on the cluster
IMAGE_ENV = "SHOPFLOOR_IMAGE"  # the container image every component and the model server run in
ADMIN_PASSWORD_ENV = "SHOPFLOOR_MLFLOW_ADMIN_PASSWORD"
ADMIN_PASSWORD_FILE_ENV = "SHOPFLOOR_MLFLOW_ADMIN_PASSWORD_FILE"
USER_PASSWORD_ENV = "SHOPFLOOR_MLFLOW_USER_PASSWORD"


@dataclass(frozen=True)
class Environment:
    """The ``SHOPFLOOR_*`` variables as they are set now (None: unset or empty)."""

    home: str
    monitoring: str | None
    threads: str | None
    events: str | None
    failpoint: str | None
    pushgateway: str | None
    image: str
    admin_password: str | None
    admin_password_file: str | None
    user_password: str | None


def environment() -> Environment:
    """Every ``SHOPFLOOR_*`` variable, read now."""

    def get(name: str) -> str | None:
        return os.environ.get(name) or None

    return Environment(
        home=get(HOME_ENV) or DEFAULT_HOME,
        monitoring=get(MONITORING_ENV),
        threads=get(THREADS_ENV),
        events=get(EVENTS_ENV),
        failpoint=get(FAILPOINT_ENV),
        pushgateway=get(PUSHGATEWAY_ENV),
        image=get(IMAGE_ENV) or DEFAULT_IMAGE,
        admin_password=get(ADMIN_PASSWORD_ENV),
        admin_password_file=get(ADMIN_PASSWORD_FILE_ENV),
        user_password=get(USER_PASSWORD_ENV),
    )


def home() -> Path:
    """The project data directory, created on first use."""
    path = Path(environment().home).expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def tracking_uri() -> str:
    """MLflow tracking URI: ``MLFLOW_TRACKING_URI`` if set, else SQLite in the data directory."""
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return uri
    return f"sqlite:///{home() / 'mlflow.db'}"


def artifact_root() -> str:
    """Default artifact location for experiments created by Shopfloor on the embedded default."""
    path = home() / "mlartifacts"
    path.mkdir(parents=True, exist_ok=True)
    return path.as_uri()


def optuna_storage() -> str:
    """SQLite storage URL for Optuna studies, so that studies survive and can be resumed."""
    return f"sqlite:///{home() / 'optuna.db'}"


def kfp_local_root() -> Path:
    """Pipeline root for ``kfp.local`` runs."""
    path = home() / "kfp_local"
    path.mkdir(parents=True, exist_ok=True)
    return path
