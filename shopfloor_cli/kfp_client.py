"""Kubeflow Pipelines on a cluster: upload and run a pipeline, schedule recurring runs, list and delete them.

Everything goes through the kfp SDK's ``Client``; the pipeline is compiled from source first, with the
image the cluster pulls and the MLflow URI the cluster reaches passed as run parameters.
"""

from __future__ import annotations

import inspect
import tempfile
from pathlib import Path
from typing import Any

from pipelines.catalog import get
from pipelines.compile import compile_pipeline
from shopfloor.constants import CLUSTER_TRACKING_URI, KFP_EXPERIMENT


def kfp_cron(cron: str) -> str:
    """KFP's scheduler reads six cron fields (seconds first); a usual five-field line gets second 0."""
    fields = cron.split()
    if len(fields) == 5:
        return "0 " + " ".join(fields)
    if len(fields) == 6:
        return " ".join(fields)
    raise ValueError(f"cron must have 5 fields (minute hour day month weekday) or 6, got {cron!r}")


def run_arguments(name: str, arguments: dict[str, Any], tracking_uri: str, image: str | None) -> dict[str, Any]:
    """The pipeline's parameters: the caller's, the MLflow URI and, where the pipeline takes one, the image."""
    accepted = inspect.signature(get(name).pipeline_func).parameters
    out = {**arguments, "tracking_uri": tracking_uri}
    if image and "image" in accepted:
        out["image"] = image
    unknown = [k for k in out if k not in accepted]
    if unknown:
        raise ValueError(f"pipeline {name!r} has no parameter {unknown[0]!r}; it takes {list(accepted)}")
    return out


def client(host: str, namespace: str | None = None, token: str | None = None):
    import kfp

    return kfp.Client(host=host, existing_token=token, **({"namespace": namespace} if namespace else {}))


def _package(name: str, image: str | None, folder: str) -> str:
    return str(compile_pipeline(name, out=Path(folder) / f"{name}.yaml", image=image))


def submit(
    name: str,
    host: str,
    arguments: dict[str, Any],
    *,
    tracking_uri: str = CLUSTER_TRACKING_URI,
    image: str | None = None,
    experiment: str = KFP_EXPERIMENT,
    namespace: str | None = None,
    token: str | None = None,
) -> dict[str, str]:
    """Compile ``name``, upload it as a run in ``experiment`` and return the run id and its URL."""
    params = run_arguments(name, arguments, tracking_uri, image)
    kfp_client = client(host, namespace, token)
    with tempfile.TemporaryDirectory() as folder:
        result = kfp_client.create_run_from_pipeline_package(
            _package(name, image, folder), arguments=params, experiment_name=experiment, namespace=namespace
        )
    return {"run_id": result.run_id, "url": f"{host.rstrip('/')}/#/runs/details/{result.run_id}"}


def schedule(
    name: str,
    host: str,
    cron: str,
    arguments: dict[str, Any],
    *,
    tracking_uri: str = CLUSTER_TRACKING_URI,
    image: str | None = None,
    experiment: str = KFP_EXPERIMENT,
    job_name: str | None = None,
    namespace: str | None = None,
    token: str | None = None,
) -> dict[str, str]:
    """A KFP recurring run of ``name`` on ``cron``: one run at a time, no backfill after a pause."""
    params = run_arguments(name, arguments, tracking_uri, image)
    kfp_client = client(host, namespace, token)
    exp = kfp_client.create_experiment(experiment, namespace=namespace)
    with tempfile.TemporaryDirectory() as folder:
        job = kfp_client.create_recurring_run(
            exp.experiment_id,
            job_name or f"{name}-{cron.replace(' ', '_')}",
            cron_expression=kfp_cron(cron),
            max_concurrency=1,
            no_catchup=True,
            pipeline_package_path=_package(name, image, folder),
            params=params,
        )
    return {"recurring_run_id": job.recurring_run_id, "name": job.display_name, "cron": kfp_cron(cron)}


def list_schedules(host: str, namespace: str | None = None, token: str | None = None) -> list[dict[str, Any]]:
    runs = client(host, namespace, token).list_recurring_runs(page_size=100, namespace=namespace).recurring_runs
    return [
        {
            "id": r.recurring_run_id,
            "name": r.display_name,
            "status": str(r.status),
            "cron": r.trigger.cron_schedule.cron if r.trigger and r.trigger.cron_schedule else None,
        }
        for r in runs or []
    ]


def delete_schedule(host: str, recurring_run_id: str, namespace: str | None = None, token: str | None = None) -> None:
    client(host, namespace, token).delete_recurring_run(recurring_run_id)
