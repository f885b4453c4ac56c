"""How long a registered model takes to score what a request brings, measured where it is registered.

One request is one item where the model's inputs take items one at a time (a row of a table, a window), else the
registration example as a whole (a unit's history); a batch is 100 items. Each is scored through the model's own
serving path (``predict_rows`` on checked inputs, as the model server calls it) until ``seconds`` have passed, and
the median and 99th percentile are kept (at least 3 calls each: a slow model's figures are then few). The figures
are logged with every version (``latency_*`` metrics), so a user sees what a champion costs to serve before it
serves, and a pipeline can leave out a method that is too slow.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd

BATCH = 100


def _items(example: Any, n: int) -> Any:
    """The first ``n`` items of ``example``, repeated to ``n`` where it holds fewer."""
    if isinstance(example, pd.DataFrame):
        reps = -(-n // max(1, len(example)))
        return pd.concat([example] * reps, ignore_index=True).head(n)
    array = np.asarray(example)
    reps = -(-n // max(1, len(array)))
    return np.concatenate([array] * reps)[:n]


def _timings(model: Any, batch: Any, seconds: float, at_least: int = 3) -> np.ndarray:
    times: list[float] = []
    began = time.perf_counter()
    while len(times) < at_least or time.perf_counter() - began < seconds:
        start = time.perf_counter()
        model.predict_rows(batch)
        times.append(time.perf_counter() - start)
        if len(times) >= 10_000:
            break
    return np.asarray(times) * 1e3


def scoring_latency(model: Any, example: Any, seconds: float = 0.1) -> dict[str, float]:
    """``latency_one_p50_ms`` / ``_p99_ms`` and ``latency_batch_p50_ms`` / ``_p99_ms`` (``latency_batch_items`` items,
    0 where the model takes only whole examples) of ``model`` (a ``ShopfloorModel``) on ``example``."""
    try:
        one = model.inputs.from_input(_items(example, 1))
        model.predict_rows(one)
        batch = model.inputs.from_input(_items(example, BATCH))
        items = BATCH
    except (ValueError, TypeError):  # a request is a whole example here (a unit's rows in time order)
        one = batch = model.inputs.from_input(example)
        items = 0
    single = _timings(model, one, seconds)
    many = _timings(model, batch, seconds)
    return {
        "latency_one_p50_ms": float(np.percentile(single, 50)),
        "latency_one_p99_ms": float(np.percentile(single, 99)),
        "latency_batch_p50_ms": float(np.percentile(many, 50)),
        "latency_batch_p99_ms": float(np.percentile(many, 99)),
        "latency_batch_items": float(items),
    }
