"""The session's migrated MLflow store, copied where a test needs one, and the shared real data sets."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"
STORE_ENV = "SHOPFLOOR_TEST_STORE"


def seed_store(path: Path) -> None:
    """Put a copy of the session's migrated MLflow store at ``path`` unless a store is there: migrating a new
    SQLite store costs seconds, copying one costs milliseconds, and every test starts from the same empty store."""
    template = os.environ.get(STORE_ENV)
    if template and not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(template, path)
