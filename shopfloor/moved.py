"""Models registered before each pipeline became one package still load.

A registered model is a pickle that names the modules of its classes (``shopfloor.classify.model``,
``shopfloor.milling.detector``, ...). Those modules now live in the pipeline's package; this finder answers an
old name with the module at its new place, so unpickling a version registered by an earlier Shopfloor gives
today's classes. It imports nothing of Shopfloor until an old name is asked for.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
from types import ModuleType

_PACKAGES = {
    "classify": "fault_detection",
    "health": "health_index",
    "milling": "anomaly_detection",
    "wear": "prognosis",
    "retrain": "retraining",
}
_MODULES = {
    "classify.model": "fault_detection.pyfunc",
    "health.model": "health_index.estimator",
    "wear.model": "prognosis.wear_model",
    "retrain.base": "retraining.base",
    "retrain.drift": "retraining.drift",
    "retrain.classifier_refit": "fault_detection.retrain",
    "retrain.health_refit": "health_index.retrain",
    "retrain.detector_refit": "anomaly_detection.retrain",
    "retrain.wear_refit": "prognosis.retrain",
    "retrain.resnet": "fault_detection.resnet",
    "retrain.estimators": "fault_detection.estimators",
    "retrain.trainers": "fault_detection.trainers",
}


def new_name(old: str) -> str | None:
    """The module that ``old`` (a full dotted name) became, or None where it did not move."""
    prefix, _, rest = old.partition(".")
    if prefix != "shopfloor" or not rest:
        return None
    if rest in _MODULES:
        return f"shopfloor.{_MODULES[rest]}"
    package, _, module = rest.partition(".")
    if package in _PACKAGES:
        return f"shopfloor.{_PACKAGES[package]}" + (f".{module}" if module else "")
    return None


class _MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname: str, path: object = None, target: object = None):  # type: ignore[override]
        return importlib.util.spec_from_loader(fullname, self) if new_name(fullname) else None

    def create_module(self, spec) -> ModuleType:  # type: ignore[no-untyped-def]
        return importlib.import_module(new_name(spec.name) or spec.name)

    def exec_module(self, module: ModuleType) -> None:
        """The module at its new place has run already."""


def install() -> None:
    """Answer the old module names (once per process)."""
    if not any(isinstance(f, _MovedModules) for f in sys.meta_path):
        sys.meta_path.insert(0, _MovedModules())  # before the path finder, which would load a second copy
