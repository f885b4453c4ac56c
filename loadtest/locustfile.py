"""Locust users for the Shopfloor model server: v1 (KServe) and v2 (Open Inference Protocol).

Each user sends one row per request at ``SHOPFLOOR_RATE`` requests per second (default 10, the
Dahdal et al.'s profile with 20 users = 200 RPS). Users are ``FastHttpUser`` (geventhttpclient): Locust's
``HttpUser`` (requests) costs several times more CPU per request, enough to make the generator the
bottleneck long before the server. Rows are drawn like the training data: from the CSV in
``SHOPFLOOR_LOADTEST_DATA`` if set, else from the gearbox simulator; their columns must be the
inputs the served model's metadata lists, in any order. String columns are sent as strings (v1) or
BYTES tensors (v2), as the model's contract takes them.
"""

from __future__ import annotations

import os
import random

from locust import FastHttpUser, constant_throughput, events, task

from shopfloor.constants import FAULT_MODEL

MODEL = os.environ.get("SHOPFLOOR_MODEL", FAULT_MODEL)
RATE = float(os.environ.get("SHOPFLOOR_RATE", "10"))
_ROWS: list[list] = []
_INPUTS: list[dict] = []  # the served model's v2 input metadata: name and datatype per column


def _load_rows(inputs: list[dict]) -> list[list]:
    import pandas as pd

    from shopfloor.data.simulate import simulate_gearbox

    path = os.environ.get("SHOPFLOOR_LOADTEST_DATA")
    table = pd.read_csv(path) if path else simulate_gearbox(rows=2000, seed=11)
    names = [i["name"] for i in inputs]
    missing = [f for f in names if f not in table.columns]
    if missing:
        raise RuntimeError(
            f"load-test rows lack {len(missing)} model inputs (first {missing[0]!r}); "
            "set SHOPFLOOR_LOADTEST_DATA to a CSV of the training data"
        )
    table = table[names].dropna()
    for column in inputs:
        cast = str if column["datatype"] == "BYTES" else float
        table[column["name"]] = table[column["name"]].map(cast)
    return table.values.tolist()


@events.test_start.add_listener
def _fetch_rows(environment, **_kwargs) -> None:
    import json
    import urllib.request

    with urllib.request.urlopen(f"{environment.host}/v2/models/{MODEL}", timeout=10) as answer:
        _INPUTS[:] = json.load(answer)["inputs"]
    _ROWS[:] = _load_rows(_INPUTS)


def v2_body(row: list) -> dict:
    """One [1, columns] FP64 tensor for an all-numeric model, else one [1] tensor per column."""
    if all(i["datatype"] != "BYTES" for i in _INPUTS):
        return {"inputs": [{"name": "rows", "shape": [1, len(row)], "datatype": "FP64", "data": row}]}
    return {
        "inputs": [
            {
                "name": i["name"],
                "shape": [1],
                "datatype": "BYTES" if i["datatype"] == "BYTES" else "FP64",
                "data": [value],
            }
            for i, value in zip(_INPUTS, row, strict=True)
        ]
    }


class V1User(FastHttpUser):
    """KServe v1: ``{"instances": [[...]]}``."""

    wait_time = constant_throughput(RATE)

    @task
    def predict(self) -> None:
        self.client.post(f"/v1/models/{MODEL}:predict", json={"instances": [random.choice(_ROWS)]}, name="v1 predict")


class V2User(FastHttpUser):
    """Open Inference Protocol v2: one row per request (see ``v2_body``)."""

    wait_time = constant_throughput(RATE)

    @task
    def infer(self) -> None:
        self.client.post(f"/v2/models/{MODEL}/infer", json=v2_body(random.choice(_ROWS)), name="v2 infer")
