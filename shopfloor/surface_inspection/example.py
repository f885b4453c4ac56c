"""Surface inspection's example for the docs: a small CNN trained for one epoch on simulated tiles, asked about
one tile sent as its PNG file (base64, KServe's image convention)."""

from __future__ import annotations

import base64
from pathlib import Path

from shopfloor.examples import Example


def example(folder: Path) -> Example:
    from shopfloor.data.images import encode_png
    from shopfloor.surface_inspection import classify
    from shopfloor.surface_inspection.data import load
    from shopfloor.surface_inspection.pyfunc import SurfaceInspectionPyfunc
    from shopfloor.surface_inspection.simulate import KINDS, simulate_surfaces

    data = load(simulate_surfaces(folder / "tiles", {"good": 20, **dict.fromkeys(KINDS, 5)}, seed=1), min_images=1)
    net, _ = classify.train_cnn(data.images, data.defect, classify.CNNConfig(filters=4, epochs=1), 0, False)
    classes = {"good_class": data.good_class, "defect_kinds": data.kinds}
    model = SurfaceInspectionPyfunc(classify.CNNScorer(net), 0.5, "classify", "cnn/class-weights", classes)
    tile = encode_png(data.images[0][::2, ::2])  # every second pixel: a short page; the model resizes any size
    request = [{"image": {"b64": base64.b64encode(tile).decode()}}]
    return Example(model, {"image": [encode_png(data.images[0])]}, request, "valid_ap")
