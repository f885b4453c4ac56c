"""What every sub-cut anomaly detector shares, and which tool classes a detector may learn from.

A detector learns what healthy cuts look like and scores a sub-cut (higher: more likely a failed tool); its flag
threshold is set on validation sub-cuts. The beta-VAE (``detector.MillingAnomalyDetector``) and the simple
detectors a practitioner would try first (``baselines``) all implement this, so the pipeline can choose
between them on validation and serve the winner in one contract.
"""

from __future__ import annotations

import numpy as np

from shopfloor.anomaly_detection.data import CLASS_NAMES, FAILED
from shopfloor.errors import DataError
from shopfloor.fault_detection.selection import best_threshold

THRESHOLD_METRICS = ("f1", "f2")
#: Tool classes a detector learns from. Healthy only is what von Hahn and Mechefske train on (their training set
#: is 100 % healthy); healthy + degraded is offered but is not theirs. Failed tools never train a detector.
TRAIN_ON = {"healthy": (0,), "healthy+degraded": (0, 1)}
DEFAULT_TRAIN_ON = "healthy"


def training_mask(
    tool_class: np.ndarray, train_on: str = DEFAULT_TRAIN_ON, learn: np.ndarray | None = None
) -> np.ndarray:
    """The training windows a detector learns from: those of the ``train_on`` classes, or ``learn`` checked.

    A ``learn`` mask that reaches a failed window (or a degraded one when training on healthy tools only) is an
    error naming the class, not something to drop silently: it means the caller's labels or split are wrong.
    """
    if train_on not in TRAIN_ON:
        raise DataError("train-on", f"choose one of {', '.join(TRAIN_ON)}, got {train_on!r}")
    classes = np.asarray(tool_class).astype(int)
    allowed = TRAIN_ON[train_on]
    if learn is None:
        return np.isin(classes, allowed)
    learn = np.asarray(learn, dtype=bool)
    stray = sorted(set(classes[learn].tolist()) - set(allowed))
    if stray:
        names = ", ".join(f"{(learn & (classes == c)).sum()} {CLASS_NAMES[c]}" for c in stray)
        hint = "" if FAILED in stray else " (use --train-on healthy+degraded to learn from degraded tools too)"
        raise DataError(
            "train-on",
            f"the training windows include {names} sub-cut(s); a detector trained on "
            f"{train_on} tools learns from classes {list(allowed)} only{hint}",
        )
    return learn


class SubcutDetector:
    """Scores sub-cuts (``decision_function``: higher is more anomalous) and flags those at or above a threshold
    set on validation (F1- or F2-optimal). Subclasses set ``name``, ``window_``, ``signals_`` when fitted."""

    name = "detector"
    window_: int  # samples per sub-cut, set when fitted
    signals_: int  # signals per sub-cut, set when fitted

    def __init__(self, threshold_metric: str = "f1") -> None:
        if threshold_metric not in THRESHOLD_METRICS:
            raise ValueError(f"threshold_metric must be one of {THRESHOLD_METRICS}, got {threshold_metric!r}")
        self.threshold_metric = threshold_metric
        self.threshold_ = np.inf

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def set_threshold(self, X: np.ndarray, failed: np.ndarray) -> float:
        """The F1- or F2-optimal threshold of the score on ``X`` (validation windows)."""
        self.threshold_, self.threshold_value_ = best_threshold(
            failed, self.decision_function(X), self.threshold_metric
        )
        return self.threshold_

    def predict(self, X: np.ndarray) -> np.ndarray:
        """True where the score reaches the threshold (a window of a failed tool)."""
        return self.decision_function(X) >= self.threshold_

    def details(self) -> dict:
        """What the registered model says of itself (its ``details`` in the contract)."""
        return {"detector": self.name, "threshold": float(self.threshold_), "threshold_metric": self.threshold_metric}
