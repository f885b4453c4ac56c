"""The model server's view of the feedback loop: prediction-log counters and live-quality gauges on /metrics.

Live quality over the answers of a sliding window (``window_seconds``, default a week) is recomputed from
the Parquet log and the outcomes every ``refresh_seconds`` by a background
thread (reading files has no place on the request path) and exported as
``shopfloor_live_quality{model,version,metric}`` with ``shopfloor_live_labelled_rows{model,version}`` beside it,
and the test figure the version was registered with as ``shopfloor_registered_quality{model,version,metric}``,
so that an alert rule can compare the two once enough rows are labelled.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime

from prometheus_client import REGISTRY
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from shopfloor.constants import QUALITY_REFRESH_SECONDS, QUALITY_WINDOW_SECONDS
from shopfloor.monitoring.live_quality import Quality, live_quality

log = logging.getLogger("kserve")
DEFAULT_REFRESH_SECONDS, DEFAULT_WINDOW_SECONDS = QUALITY_REFRESH_SECONDS, QUALITY_WINDOW_SECONDS


class LiveCollector:
    """Collects, at scrape time, what the served models' logs and live-quality watchers hold."""

    def __init__(self, served: dict) -> None:
        self.served = served

    def collect(self):
        rows = CounterMetricFamily(
            "shopfloor_prediction_log_rows",
            "Answered rows by what became of them in the "
            "prediction log (written, dropped: queue full, failed: write error)",
            labels=["model", "outcome"],
        )
        queued = GaugeMetricFamily(
            "shopfloor_prediction_log_queued_rows", "Answered rows waiting for the writer", labels=["model"]
        )
        live = GaugeMetricFamily(
            "shopfloor_live_quality",
            "Quality of a served version on the rows whose outcome came back",
            labels=["model", "version", "metric"],
        )
        labelled = GaugeMetricFamily(
            "shopfloor_live_labelled_rows", "Answered rows with an outcome, per version", labels=["model", "version"]
        )
        registered = GaugeMetricFamily(
            "shopfloor_registered_quality",
            "The test figure a version was registered with",
            labels=["model", "version", "metric"],
        )
        for name, model in list(self.served.items()):
            plog = model.prediction_log
            if plog is not None:
                stats = plog.stats
                for outcome, value in (
                    ("written", stats.written),
                    ("dropped", stats.dropped),
                    ("failed", stats.failed),
                ):
                    rows.add_metric([name, outcome], value)
                queued.add_metric([name], stats.queued)
            watcher = getattr(model, "live", None)
            if watcher is None:
                continue
            for quality in watcher.latest:
                labelled.add_metric([name, quality.version], quality.rows)
                for metric, value in quality.metrics.items():
                    live.add_metric([name, quality.version, metric], value)
            for (version, metric), value in watcher.registered.items():
                registered.add_metric([name, version, metric], value)
        yield from (rows, queued, live, labelled, registered)


_registered = False


def register_collector(served: dict) -> None:
    global _registered
    if not _registered:
        REGISTRY.register(LiveCollector(served))
        _registered = True


def registered_quality(run_id: str) -> dict[str, float]:
    """The ``test_*`` figures of the run that registered a version (``test_f2`` -> ``f2``)."""
    import mlflow

    if not run_id:
        return {}
    metrics = mlflow.get_run(run_id).data.metrics
    return {k[len("test_") :]: float(v) for k, v in metrics.items() if k.startswith("test_")}


class LiveQualityWatcher:
    """Recomputes live quality of a served model every ``refresh_seconds`` in a daemon thread."""

    def __init__(
        self, model, refresh_seconds: float = DEFAULT_REFRESH_SECONDS, window_seconds: float = DEFAULT_WINDOW_SECONDS
    ) -> None:
        self.model, self.refresh_seconds, self.window_seconds = model, refresh_seconds, window_seconds
        self.latest: list[Quality] = []
        self.registered: dict[tuple[str, str], float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="live-quality", daemon=True)

    def start(self) -> LiveQualityWatcher:
        self._thread.start()
        return self

    def refresh(self) -> list[Quality]:
        current = self.model.current
        if current is not None and not any(v == current.version for v, _ in self.registered):
            try:
                for metric, value in registered_quality(current.run_id).items():
                    self.registered[(current.version, metric)] = value
            except Exception as exc:  # the registry may be away: the live figures do not need it; tried again next time
                log.warning("could not read the registered figures of version %s: %s", current.version, exc)
        if self.model.prediction_log is not None:
            self.model.prediction_log.flush()  # score what this process answered up to now
        since = datetime.fromtimestamp(time.time() - self.window_seconds, UTC)
        self.latest = live_quality(self.model.name, since=since, kind=current.model.KIND if current else None)
        return self.latest

    def _run(self) -> None:
        while not self._stop.wait(self.refresh_seconds):
            try:
                self.refresh()
            except Exception:
                log.exception("live quality of %s could not be computed", self.model.name)

    def stop(self) -> None:
        self._stop.set()
