"""Registered models in a temporary MLflow store and a real model server on a free loopback port."""

from __future__ import annotations

import json
import os
import socket
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd

from shopfloor.constants import FAULT_MODEL
from shopfloor.data import ingest as ing
from shopfloor.data.simulate import simulate_gearbox
from shopfloor.fault_detection.pyfunc import FaultClassifier
from shopfloor.fault_detection.train import reference_classifier
from shopfloor.registry import Registration, register_model, use_tracking

MODEL = FAULT_MODEL
VARIANTS = ("A", "B", "C")


def gearbox_with_variant(rows: int, seed: int) -> pd.DataFrame:
    """Simulated gearbox rows plus a string column ``variant`` (the product variant), which raises the
    fault rate of variant C so that the model has a reason to use it."""
    table = simulate_gearbox(rows=rows, seed=seed)
    rng = np.random.default_rng(seed)
    variant = rng.choice(VARIANTS, size=rows)
    flip = (variant == "C") & (rng.random(rows) < 0.05)
    return table.assign(variant=variant, faulty=np.where(flip, 1, table["faulty"]))


def register_in(
    home: Path,
    model: FaultClassifier,
    example: pd.DataFrame,
    f2: float,
    name: str = MODEL,
    tracking_uri: str | None = None,
    **kwargs,
) -> Registration:
    """Register ``model`` in the SQLite store of ``home`` (its artifacts under ``home``), or in the store at
    ``tracking_uri``."""
    saved = os.environ.get("SHOPFLOOR_HOME")
    os.environ["SHOPFLOOR_HOME"] = str(home)
    try:
        use_tracking(tracking_uri or f"sqlite:///{home / 'mlflow.db'}")
        return register_model(
            model,
            example,
            model_name=name,
            experiment="serving-tests",
            metrics={"test_f2": f2},
            params={},
            score_metric="test_f2",
            **kwargs,
        )
    finally:
        mlflow.set_tracking_uri(None)
        if saved is None:
            os.environ.pop("SHOPFLOOR_HOME", None)
        else:
            os.environ["SHOPFLOOR_HOME"] = saved


def register_gearbox_model(
    home: Path,
    f2: float,
    seed: int = 0,
    class_weight: str | None = None,
    variant: bool = False,
    name: str = MODEL,
    threshold: float = 0.5,
    reference: Path | None = None,
    tracking_uri: str | None = None,
):
    """Train a logistic regression on simulated gearbox rows (with a ``variant`` string column if asked)
    and register it with the given test F2; with ``reference`` (a file to write), the training rows are
    logged with it as fault detection logs them. Returns (registration, model, raw test rows)."""
    from shopfloor.registry import REFERENCE

    table = gearbox_with_variant(800, seed) if variant else simulate_gearbox(rows=800, seed=seed)
    model, splits = reference_classifier(
        table, "faulty", seed, class_weight, categorical=["variant"] if variant else None
    )
    model.threshold = threshold
    rows = splits.test.drop(columns=[ing.LABEL])
    kwargs = {}
    if reference is not None:
        splits.train.to_parquet(reference, index=False)
        kwargs["artifacts"] = {REFERENCE: reference}
    reg = register_in(
        home, model, splits.train.drop(columns=[ing.LABEL]).head(5), f2, name=name, tracking_uri=tracking_uri, **kwargs
    )
    return reg, model, rows


@dataclass
class Answer:
    status: int
    body: dict
    headers: dict


def call(url: str, body: object | None = None, raw: bytes | None = None, method: str | None = None) -> Answer:
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(
        url,
        data=data,
        method=method or ("POST" if data is not None else "GET"),
        headers={"content-type": "application/json"},
    )
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


def rows_as_lists(frame: pd.DataFrame) -> list[list]:
    return [[v if isinstance(v, str) else float(v) for v in row] for row in frame.itertuples(index=False)]


def metrics_text(url: str) -> str:
    with urllib.request.urlopen(f"{url}/metrics") as answer:
        return answer.read().decode()


def metric_value(text: str, series: str) -> float:
    """The value of one exact series line of a Prometheus text page (0 when absent)."""
    line = next((line for line in text.splitlines() if line.startswith(series + " ")), None)
    return 0.0 if line is None else float(line.rsplit(" ", 1)[1])


def raw_exchange(url: str, head: bytes, body: bytes = b"", timeout: float = 10.0) -> tuple[int, bytes]:
    """Send bytes as they are on a new connection; the status and the raw bytes of the one response read."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(head + body)
        data = b""
        while response_length(data) is None:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
        return int(data.split(b" ", 2)[1]), data


def response_length(data: bytes) -> int | None:
    """The length of the first whole HTTP response at the start of ``data`` (its head and as many body bytes as
    its Content-Length promises; the head and the body may come in separate packets), or None until it is whole."""
    head, sep, rest = data.partition(b"\r\n\r\n")
    if not sep:
        return None
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            size = int(value.strip())
            return len(head) + 4 + size if len(rest) >= size else None
    return len(data)


def read_responses(sock: socket.socket, n: int) -> list[tuple[int, dict[str, str], dict]]:
    """The next ``n`` responses on ``sock``: status, lower-cased headers and JSON body of each."""
    data, out = b"", []
    while len(out) < n:
        length = response_length(data)
        if length is None:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"closed after {len(out)} of {n} responses")
            data += chunk
            continue
        head, _, body = data[:length].partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        out.append((int(lines[0].split(" ", 2)[1]), headers, json.loads(body or b"{}")))
        data = data[length:]
    return out
