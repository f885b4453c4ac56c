"""The pipelines Shopfloor ships, by the name the command line uses."""

from collections.abc import Callable

from pipelines.anomaly_detection import anomaly_detection
from pipelines.fault_detection import fault_detection
from pipelines.health_index import health_index
from pipelines.prognosis import prognosis
from pipelines.retraining import retraining
from pipelines.surface_inspection import surface_inspection

PIPELINES: dict[str, Callable] = {
    "fault-detection": fault_detection,
    "health-index": health_index,
    "retraining": retraining,
    "anomaly-detection": anomaly_detection,
    "prognosis": prognosis,
    "surface-inspection": surface_inspection,
}


def get(name: str) -> Callable:
    """The pipeline function called ``name``; ``KeyError`` lists the known names."""
    try:
        return PIPELINES[name]
    except KeyError:
        raise KeyError(f"unknown pipeline {name!r}; known: {sorted(PIPELINES)}") from None
