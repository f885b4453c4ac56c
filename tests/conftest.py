"""Shared fixtures: an isolated Shopfloor data directory and MLflow store per test, small data sets."""

from __future__ import annotations

import os
from pathlib import Path

import mlflow
import pytest

from shopfloor.data.simulate import simulate_gearbox

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # test processes share 2 cores: see shopfloor.platform.cpus


@pytest.fixture(autouse=True)
def _reset_mlflow_uri():
    """No test inherits another's MLflow store through MLflow's process-wide tracking URI."""
    yield
    mlflow.set_tracking_uri(None)


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """A fresh project data directory and SQLite MLflow store, torn down with the test."""
    root = tmp_path / "shopfloor-home"
    monkeypatch.setenv("SHOPFLOOR_HOME", str(root))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
    root.mkdir()
    yield root
    mlflow.set_tracking_uri(None)


@pytest.fixture
def gearbox_csv(tmp_path) -> Path:
    """600 simulated gearbox units (about 50 faulty) as CSV."""
    path = tmp_path / "gearbox.csv"
    simulate_gearbox(rows=600, seed=3).to_csv(path, index=False)
    return path
