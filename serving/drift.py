"""Online drift: the served rows of the last ``window`` requests against the rows the model was trained on.

When a version is loaded, the training rows logged with it (``reference/train.parquet``, as fault
detection and retraining log them) give each numeric column its deciles and the share of training rows
between them. Every scored row goes into a ring buffer of the last ``window`` rows (one array write per
request). When Prometheus scrapes ``/metrics``, a collector computes each column's population stability
index of the buffer against the training shares, ``sum (q - p) ln(q / p)`` (the batch drift report's
formula, ``shopfloor.retraining.drift.psi``), and exports it as ``shopfloor_feature_psi{model, feature}``,
with the rows it was computed on; nothing is exported before ``min_rows`` rows have been seen. Models
without logged training rows (or with no numeric column) export nothing.
"""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY

FLOOR = 1e-4


class OnlineDrift:
    def __init__(
        self,
        model: str,
        reference: pd.DataFrame,
        columns: list[str],
        window: int = 2000,
        min_rows: int = 200,
        bins: int = 10,
    ) -> None:
        self.model, self.columns, self.window, self.min_rows = model, list(columns), window, min_rows
        self.edges, self.expected = [], []
        for column in self.columns:
            values = reference[column].dropna().to_numpy(float)
            inner = np.unique(np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1]))
            edges = np.r_[-np.inf, inner, np.inf]
            self.edges.append(edges)
            self.expected.append(np.maximum(np.histogram(values, edges)[0] / len(values), FLOOR))
        self.buffer = np.empty((window, len(self.columns)))
        self.count = 0
        self.lock = threading.Lock()

    def add(self, rows) -> None:
        """Keep the numeric values of a request's checked rows (``contract.Rows``: numeric in schema order)."""
        values = rows.numeric
        n = len(values)
        if n >= self.window:
            with self.lock:
                self.buffer[:] = values[-self.window :]
                self.count += n
            return
        with self.lock:
            start = self.count % self.window
            end = start + n
            if end <= self.window:
                self.buffer[start:end] = values
            else:
                split = self.window - start
                self.buffer[start:] = values[:split]
                self.buffer[: end - self.window] = values[split:]
            self.count += n

    def psi(self) -> dict[str, float]:
        """Each column's PSI over the rows in the window ({} before ``min_rows`` rows)."""
        with self.lock:
            seen = min(self.count, self.window)
            if seen < self.min_rows:
                return {}
            recent = self.buffer[:seen].copy()
        out = {}
        for k, column in enumerate(self.columns):
            q = np.maximum(np.histogram(recent[:, k], self.edges[k])[0] / seen, FLOOR)
            out[column] = float(np.sum((q - self.expected[k]) * np.log(q / self.expected[k])))
        return out

    @property
    def rows(self) -> int:
        return min(self.count, self.window)


class DriftCollector:
    """Exports the PSI of every served model's online drift at scrape time."""

    def __init__(self, served) -> None:
        self.served = served  # the name -> RegistryModel dict of the process

    def collect(self):
        psi = GaugeMetricFamily(
            "shopfloor_feature_psi",
            "Population stability index of the last served rows against the training rows, per numeric feature",
            labels=["model", "feature"],
        )
        rows = GaugeMetricFamily(
            "shopfloor_drift_window_rows", "Served rows the online drift is computed on", labels=["model"]
        )
        for name, model in list(self.served.items()):
            drift = getattr(model, "drift", None)
            if drift is None:
                continue
            rows.add_metric([name], drift.rows)
            for feature, value in drift.psi().items():
                psi.add_metric([name, feature], value)
        yield psi
        yield rows


_registered = False


def register_collector(served) -> None:
    """Add the collector to the default registry once per process."""
    global _registered
    if not _registered:
        REGISTRY.register(DriftCollector(served))
        _registered = True


def for_version(model_name: str, loaded_model, run_id: str, window: int = 2000) -> OnlineDrift | None:
    """The online drift of a loaded version, from the training rows logged with its run (None without)."""
    from shopfloor.contract import TabularSchema
    from shopfloor.registry import reference_rows

    schema = getattr(loaded_model, "inputs", None)
    if not isinstance(schema, TabularSchema) or not schema.numeric:
        return None
    reference = reference_rows(run_id)
    if reference is None:
        return None
    columns = [c.name for c in schema.numeric if c.name in reference.columns]
    if len(columns) != len(schema.numeric):
        return None
    return OnlineDrift(model_name, reference, columns, window=window)
