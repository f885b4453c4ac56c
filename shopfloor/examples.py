"""A small model of every kind and one request for it, fitted in seconds on the kind's simulator.

The docs' serving examples register each kind's example and answer its request through the model server's own
request path, so every body and answer on the serving page comes from a run of today's code. A kind names its
example in the catalog (``shopfloor.kinds``); its module lives in the kind's package.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shopfloor.kinds import example_of


@dataclass
class Example:
    """A fitted model of one kind, the input example its MLflow signature is read from, the v1 instances of one
    request (as a client sends them) and the files the registered version keeps beside it."""

    model: Any
    input_example: Any
    instances: list[Any]
    score_metric: str
    artifacts: dict[str, Path] = field(default_factory=dict)


def register_example(kind: str, model_name: str, experiment: str = "examples") -> Example:
    """``kind``'s example registered under ``model_name`` in the current tracking store (champion alias)."""
    from shopfloor.registry import register_model

    with tempfile.TemporaryDirectory(prefix=f"shopfloor-example-{kind}-") as folder:  # the files: copied in
        example = example_of(kind)(Path(folder))
        register_model(
            example.model,
            example.input_example,
            model_name=model_name,
            experiment=experiment,
            metrics={example.score_metric: 0.0},
            params={},
            score_metric=example.score_metric,
            artifacts=example.artifacts or None,
        )
    return example
