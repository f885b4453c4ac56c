"""Prometheus metrics of the model server, in the default registry that KServe serves on /metrics.

Request latency is measured by a small ASGI middleware around the whole app (parsing included),
and 4xx answers that never reached the model (malformed JSON, schema errors) are counted there as
``malformed_request``; rejections by the row checks are counted with their own reason.
"""

from __future__ import annotations

import contextvars
import functools
import re
import time

import numpy as np
from prometheus_client import Counter, Gauge, Histogram

LATENCY = Histogram(
    "shopfloor_request_latency_seconds",
    "Inference request latency, end to end in the server",
    ["model", "protocol"],
    buckets=(0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
RESPONSES = Counter(
    "shopfloor_responses_total", "Inference responses by status class (2xx, 4xx, 5xx)", ["model", "protocol", "status"]
)
ROWS = Counter("shopfloor_rows_scored_total", "Rows scored", ["model"])
ANSWERED_TOGETHER = Histogram(
    "shopfloor_requests_answered_together",
    "Inference requests whose bodies arrived in one turn of the event loop and were answered together",
    ["model"],
    buckets=(1, 2, 4, 8, 16, 32, 64),
)
PREDICTIONS = Counter(
    "shopfloor_predictions_total",
    "Rows by the value of each whole-number output (e.g. class)",
    ["model", "output", "value"],
)
UNKNOWN_CATEGORIES = Counter(
    "shopfloor_unknown_categories_total",
    "Values of a string column that the model never saw in training (answered all the same)",
    ["model", "column"],
)
REJECTED = Counter("shopfloor_rejected_requests_total", "Requests answered 4xx, by reason", ["reason"])
MODEL_INFO = Gauge(
    "shopfloor_model_version_info", "The model version being served (value 1)", ["model", "alias", "version"]
)
SERVED_VERSION = Gauge("shopfloor_served_version", "The version number this server answers with", ["model"])
ALIAS_VERSION = Gauge(
    "shopfloor_registry_alias_version",
    "The version number the registry's alias named at the last successful check",
    ["model", "alias"],
)
ALIAS_CHECKS = Counter(
    "shopfloor_alias_checks_total", "Checks of the registry's alias, by outcome (ok, failed)", ["model", "outcome"]
)
ALIAS_CHECK_TIME = Gauge(
    "shopfloor_alias_check_last_success_timestamp_seconds", "When the registry last answered an alias check", ["model"]
)
RELOADS = Counter("shopfloor_model_reloads_total", "Switches to a new model version", ["model"])
LOAD_FAILURES = Counter(
    "shopfloor_model_load_failures_total",
    "Versions the alias named that could not be loaded (the served version stays)",
    ["model", "version"],
)

_REJECT_COUNTED: contextvars.ContextVar[dict | None] = contextvars.ContextVar("reject_counted", default=None)


def reject(reason: str) -> None:
    """Count a rejection made by the row checks (so the middleware does not count it again)."""
    REJECTED.labels(reason).inc()
    flag = _REJECT_COUNTED.get()
    if flag is not None:
        flag["counted"] = True


@functools.cache
def _child(metric, *labels: str):
    """The labelled series of a metric whose labels never get removed, looked up once: ``labels()`` takes a
    lock and builds a key on every call, a measurable share of a one-row request."""
    return metric.labels(*labels)


def observe(model: str, outputs, results: dict[str, np.ndarray], rows: int) -> None:
    """Count the rows scored and, for every scalar whole-number output (a class), the rows per value."""
    _child(ROWS, model).inc(rows)
    for output in outputs:
        if output.datatype in ("INT64", "INT32", "BOOL") and not output.shape:
            values = results[output.name]
            if len(values) == 1:  # the common one-row request, without np.unique's cost
                _child(PREDICTIONS, model, output.name, str(int(values[0]))).inc()
                continue
            kinds, counts = np.unique(values, return_counts=True)
            for value, count in zip(kinds.tolist(), counts.tolist(), strict=True):
                _child(PREDICTIONS, model, output.name, str(int(value))).inc(count)


def set_version(model: str, alias: str, version: str, previous: str | None = None) -> None:
    if previous is not None:
        MODEL_INFO.remove(model, alias, previous)
    MODEL_INFO.labels(model, alias, version).set(1)
    SERVED_VERSION.labels(model).set(float(version))


def alias_checked(model: str, alias: str, version: str | None) -> None:
    """Record an alias check: the version the registry named, or a failure (``version`` None)."""
    if version is None:
        ALIAS_CHECKS.labels(model, "failed").inc()
        return
    ALIAS_CHECKS.labels(model, "ok").inc()
    ALIAS_VERSION.labels(model, alias).set(float(version))
    ALIAS_CHECK_TIME.labels(model).set_to_current_time()


_ROUTE = re.compile(r"^/v([12])/models/([^/:]+)(?::(predict|explain)|/infer)$")


def _route(path: str) -> tuple[str, str] | None:
    """(protocol, model) of an inference path, or None."""
    match = _ROUTE.match(path)
    if match is None or (match.group(1) == "1") != (match.group(3) is not None):
        return None
    return f"v{match.group(1)}", match.group(2)


class MetricsMiddleware:
    """Pure ASGI middleware (it runs in the request's task, so the endpoint can flag its rejections)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        route = _route(scope.get("path", "")) if scope["type"] == "http" else None
        if route is None:
            return await self.app(scope, receive, send)
        protocol, model = route
        flag = {"counted": False}
        token = _REJECT_COUNTED.set(flag)
        status = {"code": 500}

        async def capture(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        start = time.perf_counter()
        try:
            await self.app(scope, receive, capture)
        finally:
            _REJECT_COUNTED.reset(token)
            answered(model, protocol, status["code"], time.perf_counter() - start, flag["counted"])


def answered_together(model: str, requests: int) -> None:
    """Count one turn of the event loop's direct answers: how many requests it answered together."""
    _child(ANSWERED_TOGETHER, model).observe(requests)


def answered(model: str, protocol: str, code: int, seconds: float, rejection_counted: bool) -> None:
    """Count one answered inference request and its latency (a 4xx the row checks did not count is counted here
    as a malformed request)."""
    _child(LATENCY, model, protocol).observe(seconds)
    _child(RESPONSES, model, protocol, f"{code // 100}xx").inc()
    if 400 <= code < 500 and not rejection_counted:
        REJECTED.labels("malformed_request").inc()
