"""A milling sub-cut detector in the model contract: sub-cuts of raw signals in, a score and a flag out.

Input: one sub-cut, a [window, signals] array of the raw (unscaled) signals in the order the model was trained
on, or a batch of them; any scaling is inside the model. Outputs per sub-cut: ``score`` (higher: more likely a
failed tool; the KL divergence of the beta-VAE's posterior, or the simple detector's score when that won on
validation) and ``anomaly``, true when the score reaches the threshold set on validation windows. ``details``
names the detector that serves.
"""

from __future__ import annotations

import numpy as np

from shopfloor.anomaly_detection.base import SubcutDetector
from shopfloor.contract import Output, ShopfloorModel, TensorSchema, Windows


class MillingAnomalyPyfunc(ShopfloorModel[TensorSchema, Windows]):
    KIND = "anomaly-detection"
    ANSWER = "anomaly"
    OUTPUTS = (
        Output("score", "FP64", description="anomaly score of the sub-cut (higher: more likely a failed tool)"),
        Output("anomaly", "BOOL", description="the score reached the threshold set on validation: a failed tool"),
    )

    @classmethod
    def live_metrics(cls, outputs, label, table) -> dict[str, float]:
        """``precision`` of the anomaly flag; ``ap`` (average precision) of the score where failed and healthy
        tools both came back (label 1: a failed tool)."""
        from sklearn.metrics import average_precision_score, precision_score

        truth = label.astype(int)
        flagged = outputs["anomaly"].to_numpy(bool).astype(int)
        metrics = {"precision": precision_score(truth, flagged, zero_division=0)}
        if len(np.unique(truth)) == 2:
            metrics["ap"] = average_precision_score(truth, outputs["score"].to_numpy(float))
        return {k: float(v) for k, v in metrics.items()}

    def __init__(self, detector: SubcutDetector, signals: tuple[str, ...], stride: int) -> None:
        self.detector, self.stride = detector, stride
        self.inputs = TensorSchema("subcut", detector.window_, tuple(signals))

    def details(self) -> dict:
        return self.detector.details() | {
            "window": self.detector.window_,
            "stride": self.stride,
            "signals": list(self.inputs.signals),
        }

    def predict_rows(self, rows: Windows) -> dict[str, np.ndarray]:
        score = self.detector.decision_function(rows.values)
        return {"score": np.asarray(score, dtype=np.float64), "anomaly": score >= self.detector.threshold_}
