"""Locust users for the Shopfloor model server: v1 (KServe) and v2 (Open Inference Protocol).

Each user sends one row per request at ``SHOPFLOOR_RATE`` requests per second (default 10, the
paper's profile with 20 users = 200 RPS). Rows are drawn like the training data: from the CSV in
``SHOPFLOOR_LOADTEST_DATA`` if set, else from the gearbox simulator; their columns must be the
features the served model's metadata lists, in any order.
"""

from __future__ import annotations

import os
import random

from locust import HttpUser, constant_throughput, events, task

MODEL = os.environ.get("SHOPFLOOR_MODEL", "gearbox-fault-classifier")
RATE = float(os.environ.get("SHOPFLOOR_RATE", "10"))
_ROWS: list[list[float]] = []


def _load_rows(features: list[str]) -> list[list[float]]:
    import pandas as pd

    from shopfloor.data.simulate import simulate_gearbox

    path = os.environ.get("SHOPFLOOR_LOADTEST_DATA")
    table = pd.read_csv(path) if path else simulate_gearbox(rows=2000, seed=11)
    missing = [f for f in features if f not in table.columns]
    if missing:
        raise RuntimeError(f"load-test rows lack {len(missing)} model features (first {missing[0]!r}); "
                           "set SHOPFLOOR_LOADTEST_DATA to a CSV of the training data")
    return table[features].astype(float).values.tolist()


@events.test_start.add_listener
def _fetch_rows(environment, **_kwargs) -> None:
    import json
    import urllib.request

    with urllib.request.urlopen(f"{environment.host}/v2/models/{MODEL}", timeout=10) as answer:
        features = [i["name"] for i in json.load(answer)["inputs"]]
    _ROWS[:] = _load_rows(features)


class V1User(HttpUser):
    """KServe v1: ``{"instances": [[...]]}``."""

    wait_time = constant_throughput(RATE)

    @task
    def predict(self) -> None:
        self.client.post(f"/v1/models/{MODEL}:predict", json={"instances": [random.choice(_ROWS)]}, name="v1 predict")


class V2User(HttpUser):
    """Open Inference Protocol v2: one FP64 tensor of shape [1, features]."""

    wait_time = constant_throughput(RATE)

    @task
    def infer(self) -> None:
        row = random.choice(_ROWS)
        body = {"inputs": [{"name": "features", "shape": [1, len(row)], "datatype": "FP64", "data": row}]}
        self.client.post(f"/v2/models/{MODEL}/infer", json=body, name="v2 infer")
