"""Where Shopfloor keeps its state on one machine: one project data directory.

The embedded default keeps the MLflow tracking store (SQLite), MLflow artifacts, Optuna studies and
KFP local outputs under ``$SHOPFLOOR_HOME`` (default ``./.shopfloor``). ``MLFLOW_TRACKING_URI``
overrides the tracking store, as MLflow users expect.
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_HOME = ".shopfloor"


def home() -> Path:
    """The project data directory, created on first use."""
    path = Path(os.environ.get("SHOPFLOOR_HOME", DEFAULT_HOME)).expanduser().resolve()
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
