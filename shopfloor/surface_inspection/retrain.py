"""Retraining a surface inspection model on new labelled images.

New rows are images with an id and an outcome: columns ``image_id``, ``label`` (1: the part was defective) and
``image`` (a 64x64 grayscale array, as the model takes it after decoding), written from the logged answers with
their outcomes, or read from a folder of class folders or a manifest (the champion's good class is label 0,
every other class 1). Images are split stratified, each its own group. The challenger follows the champion: a
CNN continues from the champion's weights for a few epochs on the adaptation images (a warm start keeps what it
learned from its larger training set), gradient boosting and the texture distance are refitted, the latent flow
continues from its weights on the new good images' codes; the threshold is set again on the adaptation images
(classify: best F2; detect: the same share of good images under it). Both are scored on the held-out images by
AP, ROC-AUC and F2.
"""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shopfloor.errors import DataError
from shopfloor.retraining.base import KindRetrainer

IMAGE_ID, LABEL, IMAGE = "image_id", "label", "image"


def image_array(rows: pd.DataFrame) -> np.ndarray:
    """The ``image`` column as one [n, 64, 64] float32 array."""
    return np.array([np.stack(list(i)) for i in rows[IMAGE]], dtype=np.float32)


class SurfaceRetrainer(KindRetrainer):
    KIND = "surface-inspection"
    group = IMAGE_ID
    positive = LABEL

    def log_rows(self, model: str, champion: Any, label: str, since: Any = None, root: Any = None) -> pd.DataFrame:
        from shopfloor.monitoring.training_rows import answered_rows

        table = answered_rows(model, since, root)
        return pd.DataFrame(
            {
                IMAGE_ID: (table["request_id"].astype(str) + ":" + table["row"].astype(str)).to_numpy(),
                LABEL: table["label"].to_numpy(float).astype(int),
                IMAGE: [[list(r) for r in i] for i in table["input"]],
            }
        )

    def read(self, path: str, champion: Any, label: str = "", time_column: str = "") -> pd.DataFrame:
        source = Path(path)
        if source.is_dir() or source.suffix.lower() == ".csv":
            from shopfloor.surface_inspection.data import load

            data = load(source, good_class=champion.classes["good_class"], min_images=1)
            return pd.DataFrame({IMAGE_ID: data.paths, LABEL: data.defect, IMAGE: [i.tolist() for i in data.images]})
        from shopfloor.data.ingest import read_table

        table = read_table(path)
        missing = [c for c in (IMAGE_ID, LABEL, IMAGE) if c not in table.columns]
        if missing:
            raise DataError(missing[0], f"column not found in {path}: new images need {IMAGE_ID}, {LABEL}, {IMAGE}")
        if table.empty:
            raise DataError("data", "the new data have no rows")
        if not table[LABEL].isin([0, 1]).all():
            raise DataError(LABEL, "must be 0 (a good part) or 1 (a defective part)")
        try:
            images = image_array(table)
        except (ValueError, TypeError) as exc:
            raise DataError(IMAGE, f"each image must be a 64 x 64 array of numbers: {exc}"[:300]) from exc
        if images.shape[1:] != (champion.inputs.size, champion.inputs.size) or not np.isfinite(images).all():
            raise DataError(IMAGE, f"each image must be a finite {champion.inputs.size} x {champion.inputs.size} array")
        return table[[IMAGE_ID, LABEL, IMAGE]].assign(**{LABEL: table[LABEL].astype(int)})

    def split(
        self, rows: pd.DataFrame, champion: Any, holdout_size: float, seed: int
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        adapt, holdout = super().split(rows, champion, holdout_size, seed)
        if holdout[LABEL].nunique() < 2 or adapt[LABEL].nunique() < 2:
            raise DataError(
                LABEL,
                f"the new images hold {int((rows[LABEL] == 1).sum())} defective and {int((rows[LABEL] == 0).sum())} "
                "good part(s): both kinds are needed to adapt on and to score on (two or more of each)",
            )
        return adapt, holdout

    def summary(self, rows: pd.DataFrame, champion: Any) -> dict[str, Any]:
        return {**super().summary(rows, champion), "defective": int(rows[LABEL].sum()), "images": len(rows)}

    def challenger(
        self, champion: Any, adapt: pd.DataFrame, *, reference: pd.DataFrame | None, seed: int, settings: dict[str, Any]
    ) -> tuple[Any, dict[str, Any]]:
        from shopfloor.surface_inspection import classify, detect
        from shopfloor.surface_inspection import synthesis as syn
        from shopfloor.surface_inspection.pyfunc import SurfaceInspectionPyfunc

        started = time.perf_counter()
        images, defect = image_array(adapt), adapt[LABEL].to_numpy(int)
        scorer = copy.deepcopy(champion.scorer)
        epochs = int(settings.get("fine_tune_epochs", 5))
        if isinstance(scorer, classify.CNNScorer):
            scorer.net = classify.continue_cnn(scorer.net, images, defect, epochs, seed)
            how = f"warm start of the CNN ({epochs} epochs)"
        elif isinstance(scorer, classify.TextureBoosting):
            scorer = classify.TextureBoosting(seed).fit(images, defect)
            how = "refit of gradient boosting on texture statistics"
        elif isinstance(scorer, detect.LatentFlow):
            good = images[defect == 0]
            scorer.flow_, _ = syn.fit_flow(
                scorer.autoencoder_, good, syn.FlowConfig(steps=max(50, 20 * epochs)), seed, start=scorer.flow_
            )
            how = "warm start of the latent flow on the new good images"
        elif isinstance(scorer, detect.TextureDistance):
            scorer = detect.TextureDistance().fit(images[defect == 0])
            how = "refit of the texture distance on the new good images"
        else:  # the autoencoder's reconstruction error: the same autoencoder, its threshold set again
            how = "the champion's autoencoder, threshold set again on the new good images"
        score = scorer.score(images)
        if champion.mode == "classify":
            threshold = classify.f2_threshold(defect, score)
        else:
            threshold = float(np.quantile(score[defect == 0], champion.classes.get("quantile", 0.95)))
        model = SurfaceInspectionPyfunc(scorer, threshold, champion.mode, champion.method, champion.classes)
        return model, {
            "method": how,
            "threshold": threshold,
            "images": len(images),
            "seconds": time.perf_counter() - started,
        }

    def score(self, model: Any, rows: pd.DataFrame) -> dict[str, float]:
        from sklearn.metrics import average_precision_score, fbeta_score, roc_auc_score

        truth = rows[LABEL].to_numpy(int)
        score = np.asarray(model.scorer.score(image_array(rows)), dtype=np.float64)
        flagged = (score >= model.threshold).astype(int)
        return {
            "ap": float(average_precision_score(truth, score)),
            "roc_auc": float(roc_auc_score(truth, score)),
            "f2": float(fbeta_score(truth, flagged, beta=2, zero_division=0)),
        }

    def example(self, rows: pd.DataFrame, model: Any) -> dict[str, list[bytes]]:
        from shopfloor.data.images import encode_png

        return {"image": [encode_png(image_array(rows.head(1))[0])]}
