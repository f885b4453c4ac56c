"""Locust users for a served surface inspection model: one image per request, v1 as KServe's image convention
(``{"instances": [{"image": {"b64": ...}}]}``) and v2 as one BYTES tensor (base64 text in JSON).

    locust -f loadtest/images.py --host http://localhost:8084

Images come from the folder in ``SHOPFLOOR_LOADTEST_IMAGES`` (class subfolders, as a run takes them) or from
the surface simulator. ``SHOPFLOOR_MODEL`` names the model (default: the surface inspection model) and
``SHOPFLOOR_RATE`` the requests per second of each user (default 10).
"""

from __future__ import annotations

import base64
import os
import random
import tempfile
from pathlib import Path

from locust import FastHttpUser, constant_throughput, events, task

from shopfloor.constants import SURFACE_MODEL

MODEL = os.environ.get("SHOPFLOOR_MODEL", SURFACE_MODEL)
RATE = float(os.environ.get("SHOPFLOOR_RATE", "10"))
_IMAGES: list[str] = []  # base64 text of each image file


def load_images(folder: str | None) -> list[str]:
    """Every image file of ``folder``'s class folders (masks left out) as base64 text; simulated when None."""
    from shopfloor.surface_inspection.data import IMAGE_SUFFIXES, _is_mask

    if folder is None:
        from shopfloor.surface_inspection.simulate import simulate_surfaces

        folder = str(simulate_surfaces(tempfile.mkdtemp(prefix="loadtest-surfaces-"), {"good": 40, "scratch": 10}))
    files = [
        p
        for p in sorted(Path(folder).glob("*/*"))
        if p.suffix.lower() in IMAGE_SUFFIXES and not _is_mask(p, {q.name for q in p.parent.iterdir()})
    ]
    if not files:
        raise RuntimeError(f"no images in the class folders of {folder}")
    return [base64.b64encode(p.read_bytes()).decode() for p in files]


@events.test_start.add_listener
def _read_images(environment, **_kwargs) -> None:
    _IMAGES[:] = load_images(os.environ.get("SHOPFLOOR_LOADTEST_IMAGES"))


class ImageV1User(FastHttpUser):
    wait_time = constant_throughput(RATE)

    @task
    def predict(self) -> None:
        body = {"instances": [{"image": {"b64": random.choice(_IMAGES)}}]}
        self.client.post(f"/v1/models/{MODEL}:predict", json=body, name="v1 image")


class ImageV2User(FastHttpUser):
    wait_time = constant_throughput(RATE)

    @task
    def infer(self) -> None:
        tensor = {"name": "image", "shape": [1], "datatype": "BYTES", "data": [random.choice(_IMAGES)]}
        self.client.post(f"/v2/models/{MODEL}/infer", json={"inputs": [tensor]}, name="v2 image")
