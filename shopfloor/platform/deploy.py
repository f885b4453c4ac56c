"""The pipelines' last step: put the champion behind an endpoint, on this machine or on a cluster.

``local``: if a Shopfloor model server already answers on the port, it follows the alias by itself
(nothing to do but confirm the version it serves); otherwise a detached ``shopfloor serve`` is started
and awaited. ``cluster``: the KServe InferenceService (a plain manifest built here, checked against the
kserve SDK's models by ``serving.inference_service.schema_errors`` in the tests and by
``shopfloor deploy``) is created, or patched if it exists, through the Kubernetes API.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from shopfloor import config
from shopfloor.constants import CHALLENGER, CHAMPION, CLUSTER_TRACKING_URI, FAULT_MODEL, IMAGE, NAMESPACE, SERVER_PORT
from shopfloor.errors import DataError
from shopfloor.platform import hardening
from shopfloor.platform.mlflow_auth import SERVER_IDENTITY, credentials_env
from shopfloor.progress import reported

API_GROUP, API_VERSION_ONLY = "serving.kserve.io", "v1beta1"
API_VERSION = f"{API_GROUP}/{API_VERSION_ONLY}"
RESOURCES = {"cpu": "500m", "memory": "512Mi"}
#: Requests/s per 0.5-CPU replica that the autoscaler aims at, from the capacity plan of benchmarks/serving.py:
#: one core answered 10,995 one-row requests/s of the fault classifier within p99 10 ms, so half a core at 70 %
#: is 3,848; rounded down. Models whose capacity was not measured keep a conservative default.
SCALE_TARGETS = {FAULT_MODEL: 3800}
DEFAULT_SCALE_TARGET = 70
SERVER_LABEL = ("app.kubernetes.io/component", "shopfloor-model-server")  # on every model server pod
#: The service KServe's inference logger sends every request and response to (``serving.sink``).
SINK_NAME, SINK_PORT = "shopfloor-prediction-sink", 8080


def sink_url(namespace: str = NAMESPACE) -> str:
    return f"http://{SINK_NAME}.{namespace}.svc.cluster.local"


def inference_service(
    model_name: str,
    *,
    namespace: str = NAMESPACE,
    alias: str = CHAMPION,
    image: str = IMAGE,
    tracking_uri: str = CLUSTER_TRACKING_URI,
    min_replicas: int = 1,
    max_replicas: int = 10,
    scale_metric: str = "rps",
    scale_target: int | None = None,
    service_account: str | None = None,
) -> dict[str, Any]:
    """The InferenceService manifest for ``models:/MODEL@ALIAS``: the Shopfloor image running
    ``shopfloor serve`` as a custom KServe predictor, with Dahdal et al.'s sizing (1 to 10 replicas of 0.5
    CPU and 0.5 Gi, requests equal to limits) and an explicit autoscaling target; hardened as every Shopfloor
    container (``shopfloor.platform.hardening``); its registry identity (read-only) from the model servers'
    Secret where the registry requires one. KServe's inference logger sends every request and response to the
    prediction sink (``serving.sink``), which keeps them as the model server does on one machine."""
    volumes, mounts = hardening.scratch_volumes()
    container = {
        "name": "kserve-container",
        "image": image,
        "args": [
            "shopfloor",
            "serve",
            "--model-name",
            model_name,
            "--alias",
            alias,
            "--host",
            "0.0.0.0",
            "--port",
            str(SERVER_PORT),
        ],
        "env": [{"name": "MLFLOW_TRACKING_URI", "value": tracking_uri}, *credentials_env(SERVER_IDENTITY)],
        "ports": [{"name": "http1", "containerPort": SERVER_PORT, "protocol": "TCP"}],
        "resources": {"requests": dict(RESOURCES), "limits": dict(RESOURCES)},
        "readinessProbe": {
            "httpGet": {"path": f"/v2/models/{model_name}/ready", "port": SERVER_PORT},
            "initialDelaySeconds": 5,
            "periodSeconds": 10,
        },
        "securityContext": hardening.security_context(),
        "volumeMounts": mounts,
    }
    target = scale_target or SCALE_TARGETS.get(model_name, DEFAULT_SCALE_TARGET)
    predictor: dict[str, Any] = {
        "containers": [container],
        "volumes": volumes,
        "labels": {SERVER_LABEL[0]: SERVER_LABEL[1]},  # what MLflow's NetworkPolicy admits
        # every request and response, as CloudEvents, to the prediction sink
        "logger": {"mode": "all", "url": sink_url(namespace)},
        "minReplicas": min_replicas,
        "maxReplicas": max_replicas,
        "scaleMetric": scale_metric,
        "scaleTarget": target,
    }
    if service_account:
        predictor["serviceAccountName"] = service_account
    return {
        "apiVersion": API_VERSION,
        "kind": "InferenceService",
        "metadata": {
            "name": model_name,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/part-of": "shopfloor"},
            "annotations": {"serving.kserve.io/deploymentMode": "Serverless"},
        },
        "spec": {"predictor": predictor},
    }


# ------------------------------------------------------------------ local
def served_version(url: str, model: str) -> str | None:
    """The version a Shopfloor server at ``url`` serves for ``model`` (None if none answers ready)."""
    try:
        with urllib.request.urlopen(f"{url}/v2/models/{model}/ready", timeout=2) as answer:
            if answer.status != 200:
                return None
        text = urllib.request.urlopen(f"{url}/metrics", timeout=2).read().decode()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("shopfloor_model_version_info{") and f'model="{model}"' in line and line.endswith(" 1.0"):
            return line.split('version="', 1)[1].split('"', 1)[0]
    return None


def deploy_local(
    model: str, expected_version: str, port: int = SERVER_PORT, log_dir: Path | None = None, timeout: float = 120.0
) -> dict[str, Any]:
    """Start or confirm a local server on 127.0.0.1:PORT serving ``expected_version`` of ``model``."""
    url = f"http://127.0.0.1:{port}"
    pid = None
    if served_version(url, model) is None:
        log_path = (log_dir or config.home()) / f"serve-{model}.log"
        log = open(log_path, "ab")  # noqa: SIM115 - owned by the server
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "shopfloor_cli.main",
                "serve",
                "--model-name",
                model,
                "--port",
                str(port),
                "--poll-seconds",
                "2",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=os.environ.copy(),
            start_new_session=True,
        )
        action, pid = "started", proc.pid
    else:
        action, log_path = "reloaded", None
    deadline = time.monotonic() + timeout
    version = None
    while time.monotonic() < deadline:
        version = served_version(url, model)
        if version == expected_version:
            return {
                "target": "local",
                "action": action,
                "url": url,
                "version": version,
                "pid": pid,
                "endpoint": f"{url}/v1/models/{model}:predict",
                "log": str(log_path) if log_path else None,
            }
        time.sleep(1.0)
    raise TimeoutError(f"{url} serves version {version}, not {expected_version}, after {timeout:.0f} s")


# ------------------------------------------------------------------ cluster
def deploy_cluster(
    model: str, namespace: str = NAMESPACE, tracking_uri: str = CLUSTER_TRACKING_URI, **kwargs: Any
) -> dict[str, Any]:
    """Create or patch the InferenceService in ``namespace`` (in-cluster credentials, else kubeconfig)."""
    from kubernetes.client.rest import ApiException

    manifest = inference_service(model, namespace=namespace, tracking_uri=tracking_uri, **kwargs)
    api = _custom_objects()
    where = {"group": API_GROUP, "version": API_VERSION_ONLY, "namespace": namespace, "plural": "inferenceservices"}
    try:
        api.get_namespaced_custom_object(name=model, **where)
    except ApiException as exc:
        if exc.status != 404:
            raise
        api.create_namespaced_custom_object(body=manifest, **where)
        action = "created"
    else:
        api.patch_namespaced_custom_object(name=model, body=manifest, **where)
        action = "patched"
    return {"target": "cluster", "action": action, "namespace": namespace, "name": model}


def _custom_objects():
    from kubernetes import client
    from kubernetes import config as kube_config

    try:
        kube_config.load_incluster_config()
    except kube_config.ConfigException:  # KUBECONFIG as it is now (the client reads it once, at import)
        kube_config.load_kube_config(config_file=os.environ.get("KUBECONFIG"))
    return client.CustomObjectsApi()


def canary_patch(
    model: str,
    action: str,
    percent: float | None = None,
    namespace: str = NAMESPACE,
    tracking_uri: str = CLUSTER_TRACKING_URI,
    **kwargs: Any,
) -> dict[str, Any]:
    """The merge patch of a KServe canary rollout: ``canary`` serves ``@challenger`` from a new revision that
    gets ``percent`` % of the traffic (``canaryTrafficPercent``); ``promote`` serves ``@champion`` (which the
    registry has just moved to the challenger's version) with all the traffic; ``rollback`` sends all the traffic
    back to the last revision that had it (``canaryTrafficPercent: 0``)."""
    if action == "rollback":
        return {"spec": {"predictor": {"canaryTrafficPercent": 0}}}
    if action == "canary":
        if percent is None or not 0 <= percent <= 100:
            raise DataError("canary", f"canary share must be a percentage from 0 to 100, got {percent!r}")
        alias, share = CHALLENGER, percent
    elif action == "promote":
        alias, share = CHAMPION, 100
    else:
        raise ValueError(f"action must be canary, promote or rollback, got {action!r}")
    predictor = inference_service(model, namespace=namespace, alias=alias, tracking_uri=tracking_uri, **kwargs)["spec"][
        "predictor"
    ]
    return {"spec": {"predictor": {**predictor, "canaryTrafficPercent": int(round(share))}}}


def rollout_cluster(
    model: str, action: str, percent: float | None = None, namespace: str = NAMESPACE, **kwargs: Any
) -> dict[str, Any]:
    """Patch the model's InferenceService for a canary step (``canary_patch``); it must exist already."""
    from kubernetes.client.rest import ApiException

    body = canary_patch(model, action, percent, namespace=namespace, **kwargs)
    api = _custom_objects()
    where = {"group": API_GROUP, "version": API_VERSION_ONLY, "namespace": namespace, "plural": "inferenceservices"}
    try:
        api.patch_namespaced_custom_object(name=model, body=body, **where)
    except ApiException as exc:
        if exc.status == 404:
            raise DataError(
                "model-name",
                f"no InferenceService {namespace}/{model} to roll out on: deploy it first (shopfloor deploy)",
            ) from None
        raise
    share = body["spec"]["predictor"]["canaryTrafficPercent"]
    return {
        "target": "cluster",
        "action": action,
        "namespace": namespace,
        "name": model,
        "canary_traffic_percent": share,
    }


@reported(
    "deploy {target}",
    summary=lambda r: (
        f"serving version {r['version']} at {r['url']} ({r['action']})"
        if r["target"] == "local"
        else f"InferenceService {r['namespace']}/{r['name']} {r['action']}"
    ),
    data=lambda r: r,
)
def deploy_step(
    registration: dict[str, Any],
    *,
    target: str,
    port: int = SERVER_PORT,
    namespace: str = NAMESPACE,
    image: str = "",
    tracking_uri: str = CLUSTER_TRACKING_URI,
    log_dir: str | None = None,
) -> dict[str, Any]:
    """Serve the newly registered champion: ``local`` (a model server on 127.0.0.1:PORT) or ``cluster``."""
    if target == "local":
        return deploy_local(
            registration["model_name"],
            str(registration["version"]),
            port=port,
            log_dir=Path(log_dir) if log_dir else None,
        )
    if target == "cluster":
        return deploy_cluster(
            registration["model_name"], namespace, tracking_uri=tracking_uri, **({"image": image} if image else {})
        )
    raise ValueError(f"target must be local or cluster, got {target!r}")
