"""Surface inspection's reading of a user's images, as its ingest step reads them: the classes (the good one and
each defect kind), their images and sizes, and the split a run would make. Problems (a file that is not an image,
one class, too few images, a manifest naming missing files) raise ``DataError``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from shopfloor.data.check import DataCheck
from shopfloor.defaults import SURFACE_INSPECTION
from shopfloor.surface_inspection.data import load, split


def check_images(
    path: str | Path,
    good_class: str = SURFACE_INSPECTION.good_class,
    *,
    min_images: int = SURFACE_INSPECTION.min_images,
    seed: int = SURFACE_INSPECTION.seed,
) -> DataCheck:
    data = load(path, good_class=good_class, min_images=min_images)
    train, valid, test = split(data, seed=seed)
    report = DataCheck("surface-inspection", str(path), len(data), counted="images")
    classes, counts = np.unique(data.labels, return_counts=True)
    report.facts = {
        "classes": {
            str(c): f"{int(n)} images" + (" (defect-free)" if c == good_class else "")
            for c, n in zip(classes, counts, strict=True)
        },
        "defect kinds": ", ".join(data.kinds),
        "summary": [
            f"{int((data.defect == 0).sum())} good, {int(data.defect.sum())} defect images of {len(data.kinds)} kinds"
        ],
    }
    report.split = (
        f"train/valid/test {len(train)}/{len(valid)}/{len(test)} images, stratified by class "
        f"({int(valid.defect.sum())} defect images in validation)"
    )
    few = [f"{c} ({int(n)})" for c, n in zip(classes, counts, strict=True) if n < 20]
    if few:
        report.warnings.append(
            f"classes with fewer than 20 images, their validation figures are noisy: {', '.join(few)}"
        )
    return report
