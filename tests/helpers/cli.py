"""Run the ``shopfloor`` command as a user would: a subprocess with its own environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def shopfloor(
    *args: str, home: Path, timeout: float = 600, tracking_uri: str | None = None
) -> subprocess.CompletedProcess:
    """``shopfloor ARGS`` with ``home`` as its data directory and, unless ``tracking_uri`` says otherwise,
    the SQLite store in it."""
    if tracking_uri is None:
        from helpers.store import seed_store

        seed_store(home / "mlflow.db")  # the session's migrated store, copied (tests/conftest.py)
    env = {
        **os.environ,
        "SHOPFLOOR_HOME": str(home),
        "MLFLOW_TRACKING_URI": tracking_uri or f"sqlite:///{home / 'mlflow.db'}",
    }
    return subprocess.run(
        [sys.executable, "-m", "shopfloor_cli.main", *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def nothing_registered(home: Path) -> None:
    """Assert that the MLflow store under ``home`` (if any) holds no registered model."""
    from mlflow import MlflowClient

    db = home / "mlflow.db"
    if db.exists():
        assert MlflowClient(f"sqlite:///{db}").search_registered_models() == []


def run_cli(*args: str, home: Path, capsys, monkeypatch) -> tuple[int, str, str]:
    """``shopfloor ARGS`` in this process (``main(argv)``): the exit code, stdout and stderr. For checks that end
    before any pipeline starts, where a subprocess would prove nothing but cost seconds."""
    from shopfloor_cli.main import main

    monkeypatch.setenv("SHOPFLOOR_HOME", str(home))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{home / 'mlflow.db'}")
    capsys.readouterr()
    try:
        code = main(list(args))
    except SystemExit as exc:  # argparse's own errors
        code = exc.code if isinstance(exc.code, int) else 2
    out, err = capsys.readouterr()
    return code, out, err
