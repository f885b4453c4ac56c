"""A surface inspection model in the model contract: image files in (any size, grayscale or colour, PNG or
JPEG, decoded and resized inside the model), a defect flag out, with its probability (classify mode: a defect
classifier) or its anomaly score (detect mode: a detector that learned the good images only). The flag is
``defect`` in both modes, so that whoever acts on it reads one field; ``details`` name the mode and the scorer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from shopfloor.contract import Images, ImageSchema, Output, ShopfloorModel

MODES = ("classify", "detect")


class Scorer(Protocol):
    def score(self, images: np.ndarray) -> np.ndarray: ...


class SurfaceInspectionPyfunc(ShopfloorModel[ImageSchema, Images]):
    KIND = "surface-inspection"
    ANSWER = "defect"

    @classmethod
    def live_metrics(cls, outputs, label, table) -> dict[str, float]:
        """With label 1 for an image found defective: ``precision``, ``recall`` and ``f2`` of the flag, and ``ap``
        and ``roc_auc`` of the probability or anomaly score where both classes came back."""
        from sklearn.metrics import average_precision_score, fbeta_score, precision_score, recall_score, roc_auc_score

        truth = np.asarray(label).astype(int)
        flagged = outputs["defect"].to_numpy().astype(int)
        metrics = {
            "precision": precision_score(truth, flagged, zero_division=0),
            "recall": recall_score(truth, flagged, zero_division=0),
            "f2": fbeta_score(truth, flagged, beta=2, zero_division=0),
        }
        score = next((outputs[k] for k in ("defect_probability", "anomaly_score") if k in outputs), None)
        if score is not None and len(np.unique(truth)) == 2:
            metrics["ap"] = average_precision_score(truth, score.to_numpy(float))
            metrics["roc_auc"] = roc_auc_score(truth, score.to_numpy(float))
        return {k: float(v) for k, v in metrics.items()}

    def __init__(self, scorer: Scorer, threshold: float, mode: str, method: str, classes: dict[str, Any]) -> None:
        """``scorer``: images -> probability (classify) or anomaly score (detect); an image is flagged at or above
        ``threshold``. ``classes``: the good class and defect kinds it was trained on."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.scorer, self.threshold, self.mode, self.method, self.classes = scorer, threshold, mode, method, classes
        self.inputs = ImageSchema()

    @property
    def OUTPUTS(self) -> tuple[Output, ...]:  # type: ignore[override]  # noqa: N802 - the mode sets the outputs
        score = (
            Output("defect_probability", "FP64", description="probability that the image shows a defect")
            if self.mode == "classify"
            else Output("anomaly_score", "FP64", description="how unlike the good images it learned (higher: more)")
        )
        return (Output("defect", "INT64", description="1: a defect (the score reached the threshold)"), score)

    def details(self) -> dict[str, Any]:
        return {"mode": self.mode, "method": self.method, "threshold": float(self.threshold), **self.classes}

    def stack(self, batches: Sequence[Images]) -> Images:
        """Each image is scored on its own, so images sent together go through the network as one batch."""
        return Images.stacked(batches)

    def predict_rows(self, rows: Images) -> dict[str, np.ndarray]:
        score = np.asarray(self.scorer.score(rows.values), dtype=np.float64)
        name = "defect_probability" if self.mode == "classify" else "anomaly_score"
        return {"defect": (score >= self.threshold).astype(np.int64), name: score}
