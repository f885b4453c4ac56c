"""The milling anomaly detector in the model contract: sub-cuts of raw signals in, scores and a flag out.

Input: one sub-cut, a [window, signals] array of the raw (unscaled) signals in the order the model was
trained on, or a batch of them; the min-max scaling is inside the model. Outputs per sub-cut: the
latent score (KL divergence), the input score (reconstruction MSE) and ``anomaly``, true when the score
the model was tuned on reaches the threshold set on validation windows.
"""

from __future__ import annotations

import numpy as np

from shopfloor.contract import Output, ShopfloorModel, TensorSchema, Windows
from shopfloor.milling.detector import MillingAnomalyDetector


class MillingAnomalyPyfunc(ShopfloorModel):
    KIND = "anomaly_detector"
    OUTPUTS = (Output("latent_score", "FP64", description="KL divergence of the sub-cut's posterior from the prior"),
               Output("input_score", "FP64", description="mean squared reconstruction error (scaled signals)"),
               Output("anomaly", "BOOL", description="the tuned score reached the threshold: a failed tool"))

    def __init__(self, detector: MillingAnomalyDetector, signals: tuple[str, ...], stride: int) -> None:
        self.detector, self.stride = detector, stride
        self.inputs = TensorSchema("subcut", detector.window_, tuple(signals))

    def details(self) -> dict:
        d = self.detector
        return {"score": d.score, "threshold": float(d.threshold_), "threshold_metric": d.threshold_metric,
                "window": d.window_, "stride": self.stride, "signals": list(self.inputs.signals),
                "members": [m.config.to_dict() for m in d.members_]}

    def predict_rows(self, rows: Windows) -> dict[str, np.ndarray]:
        scores = self.detector.scores(rows.values)
        return {"latent_score": scores["latent"], "input_score": scores["input"],
                "anomaly": scores[self.detector.score] >= self.detector.threshold_}
