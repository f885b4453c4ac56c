"""Run the ``shopfloor`` command as a user would: a subprocess with its own environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def shopfloor(*args: str, home: Path, timeout: float = 600, tracking_uri: str | None = None) \
        -> subprocess.CompletedProcess:
    """``shopfloor ARGS`` with ``home`` as its data directory and, unless ``tracking_uri`` says otherwise,
    the SQLite store in it."""
    env = {**os.environ, "SHOPFLOOR_HOME": str(home),
           "MLFLOW_TRACKING_URI": tracking_uri or f"sqlite:///{home / 'mlflow.db'}"}
    return subprocess.run([sys.executable, "-m", "shopfloor_cli.main", *args], env=env, capture_output=True,
                          text=True, timeout=timeout)


def nothing_registered(home: Path) -> None:
    """Assert that the MLflow store under ``home`` (if any) holds no registered model."""
    from mlflow import MlflowClient

    db = home / "mlflow.db"
    if db.exists():
        assert MlflowClient(f"sqlite:///{db}").search_registered_models() == []
