"""A milling sub-cut detector in the model contract: sub-cuts of raw signals in, a score and a flag out.

Input: one sub-cut, a [window, signals] array of the raw (unscaled) signals in the order the model was trained
on, or a batch of them; any scaling is inside the model. Outputs per sub-cut: ``score`` (higher: more likely a
failed tool; the KL divergence of the beta-VAE's posterior, or the simple detector's score when that won on
validation) and ``anomaly``, true when the score reaches the threshold set on validation windows. ``details``
names the detector that serves.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from shopfloor.anomaly_detection.base import SubcutDetector
from shopfloor.contract import Output, ShopfloorModel, TensorSchema, Windows
from shopfloor.errors import DataError


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

    @staticmethod
    def typical(detector: SubcutDetector, healthy: np.ndarray) -> np.ndarray:
        """The healthy window whose score is the median of ``healthy``'s: what explanations compare with."""
        scores = np.asarray(detector.decision_function(healthy), dtype=np.float64)
        return healthy[int(np.argsort(scores)[len(scores) // 2])]

    def __init__(
        self, detector: SubcutDetector, signals: tuple[str, ...], stride: int, reference: np.ndarray | None = None
    ) -> None:
        """``reference``: a typical healthy sub-cut ([window, signals], raw), what explanations compare with."""
        self.detector, self.stride = detector, stride
        self.inputs = TensorSchema("subcut", detector.window_, tuple(signals))
        self.reference = None if reference is None else np.asarray(reference, dtype=np.float64)

    def details(self) -> dict:
        return self.detector.details() | {
            "window": self.detector.window_,
            "stride": self.stride,
            "signals": list(self.inputs.signals),
        }

    def stack(self, batches: Sequence[Windows]) -> Windows:
        """Each sub-cut is scored on its own, so sub-cuts sent together are scored as one batch."""
        return Windows.stacked(batches)

    def predict_rows(self, rows: Windows) -> dict[str, np.ndarray]:
        score = self.detector.decision_function(rows.values)
        return {"score": np.asarray(score, dtype=np.float64), "anomaly": score >= self.detector.threshold_}

    def explain_rows(self, rows: Windows) -> dict[str, Any]:
        """Each signal's Shapley share of each sub-cut's score against a typical healthy sub-cut (the training's
        healthy window of median score): a signal absent takes its values from that window. The shares sum to
        ``score`` minus ``baseline_score`` (``shopfloor.platform.shapley``)."""
        from shopfloor.platform.shapley import masked_shapley

        reference = getattr(self, "reference", None)  # models pickled before explanations have none
        if reference is None:
            raise DataError("explain", "this version was registered without a reference sub-cut to explain against")
        answer = self.predict_rows(rows)
        explained = []
        for i, window in enumerate(rows.values):

            def scores(present: np.ndarray, window: np.ndarray = window) -> np.ndarray:
                mixed = np.where(present[:, None, :], window[None], reference[None])  # [coalitions, window, signals]
                return np.ravel(self.detector.decision_function(mixed))

            shares, baseline = masked_shapley(scores, len(self.inputs.signals))
            explained.append(
                {
                    "score": float(answer["score"][i]),
                    "anomaly": bool(answer["anomaly"][i]),
                    "baseline_score": baseline,
                    "contributions": dict(zip(self.inputs.signals, shares.tolist(), strict=True)),
                }
            )
        return {
            "units": "anomaly score",
            "reference": "a typical healthy sub-cut: the training's healthy window of median score",
            "rows": explained,
        }
