"""What the tuning workers of a run leave, gathered for the steps that read their studies. Light on purpose:
the gathering step of the pipeline imports nothing but this."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any


def gather_studies(studies: list[str], out: str) -> dict[str, Any]:
    """Copy each worker's folder (its SQLite study, when no shared storage was given, and its report) into
    ``out``; returns how many workers reported and their jobs."""
    from shopfloor.platform.failures import RECORD

    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    reports, failed = [], []
    for study in studies:
        for path in Path(study).iterdir():
            if path.name == RECORD:  # a worker that failed: kept under its job's name for the synthesize step
                record = json.loads(path.read_text())
                failed.append(record["method"])
                shutil.copyfile(path, folder / f"failed-{record['method'].replace('/', '-')}.json")
                continue
            shutil.copyfile(path, folder / path.name)
            if path.suffix == ".json":
                reports.append(json.loads(path.read_text()))
    return {"workers": len(reports), "jobs": sorted(r["job"] for r in reports), "failed": sorted(failed)}
