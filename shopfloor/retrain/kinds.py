"""The catalog of kinds: a registered model's kind name to the retrainer that knows it.

A new kind of model adds its retrainer (a ``KindRetrainer``, ``shopfloor.retrain.base``) here and nowhere else:
the retraining steps, the CLI and the log's training rows ask the catalog and never branch on a kind.
"""

from __future__ import annotations

from shopfloor.errors import DataError
from shopfloor.retrain.base import KindRetrainer, metric_for
from shopfloor.retrain.classifier_refit import ClassifierRetrainer
from shopfloor.retrain.detector_refit import DetectorRetrainer
from shopfloor.retrain.health_refit import HealthIndexRetrainer
from shopfloor.retrain.wear_refit import PrognosisRetrainer

RETRAINERS: dict[str, type[KindRetrainer]] = {
    r.KIND: r for r in (ClassifierRetrainer, HealthIndexRetrainer, DetectorRetrainer, PrognosisRetrainer)}

__all__ = ["RETRAINERS", "KindRetrainer", "metric_for", "retrainer_for"]


def retrainer_for(kind: str) -> KindRetrainer:
    """The retrainer of ``kind``; a ``DataError`` for a kind that has none."""
    if kind not in RETRAINERS:
        raise DataError("model", f"no retraining for a {kind} model")
    return RETRAINERS[kind]()
