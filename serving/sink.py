"""The prediction sink of the cluster: KServe's inference logger in, the prediction log's Parquet layout out.

An InferenceService with ``logger: {mode: all, url: <this service>}`` makes KServe's agent send every request
and every response to the sink as a CloudEvent in HTTP binary mode: the body is the request's or the
response's JSON, the attributes ride in ``ce-*`` headers (``ce-type`` ``org.kubeflow.serving.inference.request``
or ``...response``, ``ce-id`` shared by the pair, ``ce-inferenceservicename`` the model). The sink pairs them
by id, parses the request with the input schema of the version that answered (from the registry, once per
version, like the model server) and the outputs from the response, and hands both to the same
``PredictionLog`` the model server uses on one machine, under ``$SHOPFLOOR_MONITORING`` on the data volume.
So ``shopfloor predictions``, ``feedback`` and live quality read the cluster's answers as they read local ones.
Unpaired halves are kept for ``pair_seconds`` (bounded in number), then dropped and counted.

    shopfloor prediction-sink --port 8080        # what manifests/base/prediction-sink.yaml runs
"""

from __future__ import annotations

import functools
import logging
import time
from collections import OrderedDict

import numpy as np
import orjson

from serving.fast import respond, tensors_of
from serving.model import split_key
from shopfloor.config import MONITORING_ENV
from shopfloor.errors import DataError
from shopfloor.monitoring.prediction_log import Entry, PredictionLog
from shopfloor.platform.deploy import SINK_NAME, SINK_PORT

log = logging.getLogger("shopfloor.sink")
REQUEST, RESPONSE = "org.kubeflow.serving.inference.request", "org.kubeflow.serving.inference.response"


@functools.lru_cache(maxsize=64)
def registered(model: str, version: str):
    """The loaded model of a registered version (its schema parses the logged request; its outputs name the
    response's)."""
    from shopfloor.registry import load_version

    return load_version(model, version)


def outputs_of(response: dict, names: list[str]) -> dict[str, np.ndarray]:
    """The answered outputs, from a v1 (``predictions``) or v2 (``outputs``) response body."""
    if "predictions" in response:
        rows = response["predictions"]
        return {n: np.asarray([r[n] for r in rows]) for n in names}
    tensors = {t["name"]: t for t in response.get("outputs", [])}
    out = {}
    for name in names:
        tensor = tensors[name]
        out[name] = np.asarray(tensor["data"]).reshape(tensor["shape"])
    return out


class PredictionSink:
    """ASGI app: ``POST /`` takes one CloudEvent (binary mode); ``GET /healthz``; counts in ``stats``."""

    def __init__(
        self,
        prediction_log: PredictionLog | None = None,
        pair_seconds: float = 60.0,
        max_pending: int = 10_000,
        key_column: str | None = None,
    ) -> None:
        self.log = prediction_log or PredictionLog()
        self.pair_seconds, self.max_pending, self.key_column = pair_seconds, max_pending, key_column
        self.pending: OrderedDict[str, tuple[float, str, bytes]] = OrderedDict()
        self.stats = {"events": 0, "logged_requests": 0, "unpaired_dropped": 0, "unreadable": 0}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return
        if scope["method"] == "GET":
            return await respond(send, 200, orjson.dumps(self.stats))
        headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", ())}
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        try:
            status = self.event(headers, body)
        except DataError as exc:
            self.stats["unreadable"] += 1
            return await respond(send, 400, orjson.dumps({"error": str(exc)}))
        await respond(send, status, b"{}")

    def event(self, headers: dict[str, str], body: bytes) -> int:
        """Take one event; 202 when it waits for its other half, 200 when the pair was logged."""
        kind, event_id = headers.get("ce-type"), headers.get("ce-id")
        model = headers.get("ce-inferenceservicename")
        if kind not in (REQUEST, RESPONSE) or not event_id or not model:
            raise DataError(
                "ce-type",
                "expected a KServe inference logger CloudEvent (ce-type request or response, "
                "ce-id, ce-inferenceservicename)",
            )
        self.stats["events"] += 1
        self._expire()
        other = self.pending.pop(event_id, None)
        if other is None or other[1] == kind:
            self.pending[event_id] = (time.monotonic(), kind, body)
            return 202
        request, response = (body, other[2]) if kind == REQUEST else (other[2], body)
        self.record(model, request, response)
        return 200

    def _expire(self) -> None:
        horizon = time.monotonic() - self.pair_seconds
        while self.pending and (
            len(self.pending) >= self.max_pending or next(iter(self.pending.values()))[0] < horizon
        ):
            self.pending.popitem(last=False)
            self.stats["unpaired_dropped"] += 1

    def record(self, model_name: str, request: bytes, response: bytes) -> None:
        try:
            payload, answer = orjson.loads(request), orjson.loads(response)
        except orjson.JSONDecodeError as exc:
            raise DataError("data", f"an inference logger event is not JSON: {exc}") from None
        version = str(answer.get("model_version") or "")
        if not version:
            raise DataError("model_version", "the response names no model version (not a Shopfloor model server)")
        model = registered(model_name, version)
        v2 = "outputs" in answer
        request_id = str(answer.get("id" if v2 else "request_id") or "")
        parsed = tensors_of(payload) if v2 else payload
        request_body, keys = split_key(parsed, v2, self.key_column or model.details().get("key_column"))
        rows = model.inputs.parse_v2(request_body, 1 << 30) if v2 else model.inputs.parse_v1(request_body, 1 << 30)
        outputs = outputs_of(answer, [o.name for o in model.outputs])
        self.log.add(Entry(time.time(), model_name, version, request_id, rows, outputs, keys))
        self.stats["logged_requests"] += 1


def run_sink(port: int = SINK_PORT, host: str = "127.0.0.1", key_column: str | None = None) -> None:
    import uvicorn

    uvicorn.run(PredictionSink(key_column=key_column), host=host, port=port, log_level="warning")


def manifests(namespace: str | None = None, image: str = "shopfloor-python") -> str:
    """The sink's Deployment and Service (``manifests/base/prediction-sink.yaml``): the Shopfloor image,
    hardened as every container, writing to the data volume, reading the registry as the model servers do."""
    import yaml

    from shopfloor.constants import CLUSTER_TRACKING_URI, NAMESPACE
    from shopfloor.platform import hardening
    from shopfloor.platform.mlflow_auth import SERVER_IDENTITY, credentials_env

    namespace = namespace or NAMESPACE
    labels = {
        "app.kubernetes.io/name": SINK_NAME,
        "app.kubernetes.io/component": SINK_NAME,
        "app.kubernetes.io/part-of": "shopfloor",
    }
    volumes, mounts = hardening.scratch_volumes()
    container = {
        "name": "sink",
        "image": image,
        "args": ["shopfloor", "prediction-sink", "--host", "0.0.0.0", "--port", str(SINK_PORT)],
        "env": [
            {"name": "MLFLOW_TRACKING_URI", "value": CLUSTER_TRACKING_URI},
            {"name": MONITORING_ENV, "value": "/data/monitoring"},
            *credentials_env(SERVER_IDENTITY),
        ],
        "ports": [{"name": "http", "containerPort": SINK_PORT, "protocol": "TCP"}],
        "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 10},
        "resources": {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
        "securityContext": hardening.security_context(),
        "volumeMounts": [*mounts, {"name": "data", "mountPath": "/data"}],
    }
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": SINK_NAME, "namespace": namespace, "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app.kubernetes.io/name": SINK_NAME}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": hardening.USER,
                        "runAsGroup": hardening.USER,
                        "fsGroup": hardening.USER,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [container],
                    "volumes": [*volumes, {"name": "data", "persistentVolumeClaim": {"claimName": "shopfloor-data"}}],
                },
            },
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": SINK_NAME, "namespace": namespace, "labels": labels},
        "spec": {
            "selector": {"app.kubernetes.io/name": SINK_NAME},
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
        },
    }
    head = "# Generated by `make manifests` (python -m serving.sink): do not edit by hand.\n"
    return head + "---\n".join(yaml.safe_dump(d, sort_keys=False) for d in (deployment, service))


if __name__ == "__main__":
    print(manifests(), end="")
