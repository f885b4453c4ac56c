"""The catalog of model kinds: a registered model's kind name to its model class and its retrainer.

A new kind of model is one line here: its registered model class (a ``ShopfloorModel``: outputs, scoring, live
metrics) and its retrainer (a ``KindRetrainer``: new rows, split, challenger, comparison). The server, live quality,
the retraining steps and the CLI ask the catalog and never branch on a kind. Classes are named by import path and
loaded on first use (as the synthesizers' catalog does), so listing the kinds imports neither torch nor a kind's
package, and no kind's module imports this one back.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from typing import TYPE_CHECKING, Any

from shopfloor.errors import DataError

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from shopfloor.contract import ShopfloorModel
    from shopfloor.retraining.base import KindRetrainer


@dataclass(frozen=True)
class Kind:
    name: str
    model: str  # "module:Class" of the registered model
    retrainer: str  # "module:Class" of its retrainer
    example: str  # "module:function": a small model of the kind and one request for it (``shopfloor.examples``)


#: Each kind is named as the pipeline that trains it (its CLI command and MLflow experiment).
KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind(
            "fault-detection",
            "shopfloor.fault_detection.pyfunc:FaultClassifier",
            "shopfloor.fault_detection.retrain:ClassifierRetrainer",
            "shopfloor.fault_detection.example:example",
        ),
        Kind(
            "health-index",
            "shopfloor.health_index.pyfunc:HealthIndexPyfunc",
            "shopfloor.health_index.retrain:HealthIndexRetrainer",
            "shopfloor.health_index.example:example",
        ),
        Kind(
            "anomaly-detection",
            "shopfloor.anomaly_detection.pyfunc:MillingAnomalyPyfunc",
            "shopfloor.anomaly_detection.retrain:DetectorRetrainer",
            "shopfloor.anomaly_detection.example:example",
        ),
        Kind(
            "prognosis",
            "shopfloor.prognosis.pyfunc:PrognosisPyfunc",
            "shopfloor.prognosis.retrain:PrognosisRetrainer",
            "shopfloor.prognosis.example:example",
        ),
        Kind(
            "surface-inspection",
            "shopfloor.surface_inspection.pyfunc:SurfaceInspectionPyfunc",
            "shopfloor.surface_inspection.retrain:SurfaceRetrainer",
            "shopfloor.surface_inspection.example:example",
        ),
    )
}


def _load(path: str) -> Any:
    module, _, attr = path.partition(":")
    return getattr(import_module(module), attr)


#: Kind names of models registered before the kind was named as its pipeline.
EARLIER_NAMES = {
    "classifier": "fault-detection",
    "health_index": "health-index",
    "anomaly_detector": "anomaly-detection",
}


def canonical(name: str) -> str:
    """The kind's name today (a model registered by an earlier Shopfloor may carry an earlier one)."""
    return EARLIER_NAMES.get(name, name)


def _kind(name: str) -> Kind:
    name = canonical(name)
    if name not in KINDS:
        raise DataError("model", f"no kind of model named {name!r} (known: {', '.join(KINDS)})")
    return KINDS[name]


def model_class(kind: str) -> type[ShopfloorModel]:
    """The registered model class of ``kind``; a ``DataError`` for an unknown kind."""
    return _load(_kind(kind).model)


def retrainer_for(kind: str) -> KindRetrainer:
    """The retrainer of ``kind``; a ``DataError`` for a kind that has none."""
    return _load(_kind(kind).retrainer)()


def example_of(kind: str) -> Callable[[Path], Any]:
    """The function that fits ``kind``'s small example model in a scratch folder: a ``shopfloor.examples.Example``
    (typed loosely here, so that the catalog imports no kind's code)."""
    return _load(_kind(kind).example)


def kind_answering(outputs: set[str] | list[str]) -> str:
    """The kind whose answers hold ``outputs`` (logged answers name their outputs, not their kind): the kind whose
    model class declares ``ANSWER`` among them; ``ValueError`` when none does."""
    for name, kind in KINDS.items():
        if _load(kind.model).ANSWER in outputs:
            return name
    raise ValueError(f"no kind of model answers {sorted(outputs)}")
