"""A method that fails is reported, not fatal: one synthesizer's branch (or one classifier) failing leaves the
others to be compared, and the run registers the best of those that worked.

A pipeline task that raises fails the whole DAG (in kfp.local and on Kubeflow alike), so a branch step that
fails for a method's own reason writes a failure record where its outputs go instead, and returns normally. The
next step of the branch finds the record among its inputs and passes it on without working; the step that
gathers the branches (training) leaves the failed method out of the choice and reports it. Errors in what every
method needs (a ``DataError`` naming a bad option or column, a missing input) still stop the run.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

RECORD = "shopfloor-failure.json"
KEY = "shopfloor_failure"


@dataclass(frozen=True)
class Failure:
    method: str
    step: str
    error: str

    @classmethod
    def of(cls, method: str, step: str, exc: BaseException) -> Failure:
        text = str(exc).strip().splitlines()[0][:500] if str(exc).strip() else ""
        return cls(method, step, f"{type(exc).__name__}: {text}" if text else type(exc).__name__)

    def to_dict(self) -> dict[str, Any]:
        return {KEY: True, **asdict(self)}

    def __str__(self) -> str:
        return f"{self.method} failed at {self.step}: {self.error}"


def write(path: str | Path, failure: Failure) -> None:
    """Put the record where an output would go: inside it when the output is a folder, else in its place."""
    path = Path(path)
    target = path / RECORD if path.is_dir() else path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(failure.to_dict()))


def read(path: str | Path) -> Failure | None:
    """The failure record at an input (a folder holding one, or a file that is one), or None."""
    path = Path(path)
    target = path / RECORD if path.is_dir() else path
    try:
        with open(target, "rb") as handle:
            if handle.read(1) != b"{":  # a Parquet file, a model, a plot: an output that worked
                return None
            handle.seek(0)
            record = json.loads(handle.read())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or not record.get(KEY):
        return None
    return Failure(record["method"], record["step"], record["error"])
