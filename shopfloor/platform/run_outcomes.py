"""How each pipeline run ended, where Prometheus can read it: the alerts for unattended runs.

Every run's outcome (the exit step of the compiled pipelines, ``dsl.ExitHandler``; the local runner for runs
on one machine) is recorded as gauges of the pipeline:

- ``shopfloor_pipeline_last_run_timestamp_seconds{pipeline}`` and ``shopfloor_pipeline_last_run_success{pipeline}``
  (1 succeeded, 0 failed);
- ``shopfloor_pipeline_last_success_timestamp_seconds{pipeline}``, kept across failed runs.

On one machine they go to ``$SHOPFLOOR_HOME/metrics/shopfloor_pipeline_NAME.prom`` in Prometheus' text format
(what node_exporter's textfile collector reads), written atomically, with every outcome also appended to
``pipeline_runs.jsonl`` (state, error). On the cluster, with ``SHOPFLOOR_PUSHGATEWAY`` set, they are pushed to
that Pushgateway (grouped by pipeline; a failed run does not overwrite the last success).
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

from shopfloor import config
from shopfloor.config import environment

log = logging.getLogger(__name__)
SUCCEEDED = "SUCCEEDED"


def metrics_dir() -> Path:
    path = config.home() / "metrics"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _previous_success(path: Path) -> float | None:
    if not path.exists():
        return None
    for line in path.read_text().splitlines():
        if line.startswith("shopfloor_pipeline_last_success_timestamp_seconds{"):
            return float(line.rsplit(" ", 1)[1])
    return None


def record_outcome(
    pipeline: str, state: str, error: str = "", task: str = "", when: float | None = None, directory: Path | None = None
) -> dict:
    """Record that a run of ``pipeline`` ended in ``state`` (KFP's words: SUCCEEDED, FAILED, CANCELED...)."""
    when = time.time() if when is None else when
    succeeded = state == SUCCEEDED
    directory = directory or metrics_dir()
    path = directory / f"shopfloor_pipeline_{pipeline.replace('-', '_')}.prom"
    last_success = when if succeeded else _previous_success(path)
    label = f'{{pipeline="{pipeline}"}}'
    lines = [
        "# HELP shopfloor_pipeline_last_run_timestamp_seconds When the last run of the pipeline ended",
        "# TYPE shopfloor_pipeline_last_run_timestamp_seconds gauge",
        f"shopfloor_pipeline_last_run_timestamp_seconds{label} {when:.3f}",
        "# HELP shopfloor_pipeline_last_run_success 1 when the last run of the pipeline succeeded, else 0",
        "# TYPE shopfloor_pipeline_last_run_success gauge",
        f"shopfloor_pipeline_last_run_success{label} {int(succeeded)}",
    ]
    if last_success is not None:
        lines += [
            "# HELP shopfloor_pipeline_last_success_timestamp_seconds When a run of the pipeline last succeeded",
            "# TYPE shopfloor_pipeline_last_success_timestamp_seconds gauge",
            f"shopfloor_pipeline_last_success_timestamp_seconds{label} {last_success:.3f}",
        ]
    temporary = path.with_suffix(".prom.tmp")
    temporary.write_text("\n".join(lines) + "\n")
    os.replace(temporary, path)
    outcome = {"pipeline": pipeline, "state": state, "time": when, "error": error[:2000], "task": task}
    with (directory / "pipeline_runs.jsonl").open("a") as out:
        out.write(json.dumps(outcome) + "\n")
    gateway = environment().pushgateway
    if gateway:
        push(gateway, pipeline, when, succeeded)
    return outcome


def push(gateway: str, pipeline: str, when: float, succeeded: bool) -> None:
    """Push the outcome to a Pushgateway (POST: a failed run leaves the last success in place)."""
    from prometheus_client import CollectorRegistry, Gauge, pushadd_to_gateway

    registry = CollectorRegistry()
    Gauge(
        "shopfloor_pipeline_last_run_timestamp_seconds", "When the last run ended", ["pipeline"], registry=registry
    ).labels(pipeline).set(when)
    Gauge(
        "shopfloor_pipeline_last_run_success", "1 when the last run succeeded", ["pipeline"], registry=registry
    ).labels(pipeline).set(int(succeeded))
    if succeeded:
        Gauge(
            "shopfloor_pipeline_last_success_timestamp_seconds",
            "When a run last succeeded",
            ["pipeline"],
            registry=registry,
        ).labels(pipeline).set(when)
    try:
        pushadd_to_gateway(
            gateway, job="shopfloor-pipelines", grouping_key={"pipeline": pipeline}, registry=registry, timeout=10
        )
    except OSError:  # the outcome stays in the run's log; the alert on a missing success still fires
        log.exception("could not push the outcome of %s to %s", pipeline, gateway)
