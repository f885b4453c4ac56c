"""Shared fixtures: an isolated Shopfloor data directory and MLflow store per test, small data sets."""

from __future__ import annotations

import os
from pathlib import Path

import mlflow
import pytest
from helpers.store import STORE_ENV, seed_store

from shopfloor.data.simulate import simulate_gearbox

# Under pytest-xdist the workers share the machine's CPUs: each gets its share as the thread budget that every
# Shopfloor process it starts reads (shopfloor.platform.cpus), so that two workers never run 2 x N threads on
# N cores, where OpenMP's waiting threads slow both many times over.
if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1:
    from shopfloor.platform.cpus import BUDGET_ENV, available_cpus, use_cpus

    os.environ.setdefault(BUDGET_ENV, str(max(1, available_cpus() // int(os.environ["PYTEST_XDIST_WORKER_COUNT"]))))
    use_cpus()  # and the test process's own pools, before torch starts its own


@pytest.fixture(scope="session", autouse=True)
def _migrated_store(tmp_path_factory):
    """One migrated MLflow store for the session; every SQLite store a test opens in this process (and every
    ``shopfloor`` command a test runs, see ``cli.shopfloor``) starts as a copy of it."""
    from mlflow import MlflowClient
    from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore as RegistryStore
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore as TrackingStore

    template = tmp_path_factory.mktemp("store") / "mlflow.db"
    client = MlflowClient(f"sqlite:///{template}")
    client.search_experiments()
    client.search_registered_models()
    os.environ[STORE_ENV] = str(template)
    originals = {cls: cls.__init__ for cls in (TrackingStore, RegistryStore)}

    def seeding(original):
        def init(self, db_uri, *args, **kwargs):
            if str(db_uri).startswith("sqlite:///"):
                seed_store(Path(str(db_uri).removeprefix("sqlite:///")))
            original(self, db_uri, *args, **kwargs)

        return init

    for cls, original in originals.items():
        cls.__init__ = seeding(original)
    yield template
    for cls, original in originals.items():
        cls.__init__ = original
    os.environ.pop(STORE_ENV, None)


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


def pytest_collection_modifyitems(config, items):
    """End-to-end runs (``slow``) first: the workers share them out while the quick tests fill the gaps, rather
    than one worker finishing a two-minute run alone at the end."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
