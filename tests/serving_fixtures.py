"""A registered model in a temporary MLflow store and a real model server on a free loopback port."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import mlflow
import pandas as pd

from shopfloor.classify.train import train_reference
from shopfloor.data import ingest as ing
from shopfloor.data.simulate import simulate_gearbox
from shopfloor.registry import register_sklearn, use_tracking

MODEL = "gearbox-fault-classifier"


def register_gearbox_model(home: Path, f2: float, seed: int = 0, class_weight: str | None = None):
    """Train a logistic regression on simulated gearbox rows and register it with the given test F2."""
    saved = os.environ.get("SHOPFLOOR_HOME")
    os.environ["SHOPFLOOR_HOME"] = str(home)  # artifacts go under this test's home
    try:
        use_tracking(f"sqlite:///{home / 'mlflow.db'}")
        model, splits = train_reference(simulate_gearbox(rows=800, seed=seed), "faulty", seed, class_weight)
        example = splits.train.drop(columns=[ing.LABEL]).head(5)
        reg = register_sklearn(model, example, model_name=MODEL, experiment="serving-tests",
                               metrics={"test_f2": f2}, params={}, score_metric="test_f2")
    finally:
        mlflow.set_tracking_uri(None)
        if saved is None:
            os.environ.pop("SHOPFLOOR_HOME", None)
        else:
            os.environ["SHOPFLOOR_HOME"] = saved
    return reg, model, splits.test.drop(columns=[ing.LABEL])


@dataclass
class Answer:
    status: int
    body: dict
    headers: dict


def call(url: str, body: object | None = None, raw: bytes | None = None, method: str | None = None) -> Answer:
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(url, data=data, method=method or ("POST" if data is not None else "GET"),
                                     headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return Answer(answer.status, json.loads(answer.read() or b"{}"), dict(answer.headers))
    except urllib.error.HTTPError as err:
        text = err.read()
        try:
            payload = json.loads(text)
        except ValueError:
            payload = {"raw": text.decode(errors="replace")}
        return Answer(err.code, payload, dict(err.headers))


def rows_as_lists(frame: pd.DataFrame) -> list[list[float]]:
    return frame.astype(float).values.tolist()
