"""The pipeline's last step: put the champion behind an endpoint, here or on a cluster.

``local``: if a Shopfloor model server already answers on the port, it follows the alias by itself
(nothing to do but confirm the version it serves); otherwise a detached ``shopfloor serve`` is started
and awaited. ``cluster``: the InferenceService is created, or patched if it exists, with the kserve SDK.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from serving.inference_service import inference_service


def _served_version(url: str, model: str) -> str | None:
    try:
        with urllib.request.urlopen(f"{url}/v2/models/{model}/ready", timeout=2) as answer:
            if answer.status != 200:
                return None
        return _version_from_metrics(url, model)
    except OSError:
        return None


def _version_from_metrics(url: str, model: str) -> str | None:
    text = urllib.request.urlopen(f"{url}/metrics", timeout=2).read().decode()
    for line in text.splitlines():
        if line.startswith("shopfloor_model_version_info{") and f'model="{model}"' in line and line.endswith(" 1.0"):
            return line.split('version="', 1)[1].split('"', 1)[0]
    return None


def deploy_local(model: str, expected_version: str, port: int = 8080, log_dir: Path | None = None,
                 timeout: float = 120.0) -> dict[str, Any]:
    """Start or confirm a local server on 127.0.0.1:PORT serving ``expected_version`` of ``model``."""
    url = f"http://127.0.0.1:{port}"
    pid = None
    if _served_version(url, model) is None:
        log = open((log_dir or Path(".")) / f"serve-{model}.log", "ab")  # noqa: SIM115 - owned by the server
        proc = subprocess.Popen([sys.executable, "-m", "shopfloor_cli.main", "serve", "--model", model,
                                 "--port", str(port), "--poll-seconds", "2"],
                                stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy(), start_new_session=True)
        action, pid = "started", proc.pid
    else:
        action = "reloaded"
    deadline = time.monotonic() + timeout
    version = None
    while time.monotonic() < deadline:
        version = _served_version(url, model)
        if version == expected_version:
            return {"target": "local", "action": action, "url": url, "version": version, "pid": pid}
        time.sleep(1.0)
    raise TimeoutError(f"{url} serves version {version}, not {expected_version}, after {timeout:.0f} s")


def deploy_cluster(model: str, namespace: str, tracking_uri: str, **kwargs: Any) -> dict[str, Any]:
    """Create or patch the InferenceService in ``namespace`` (needs cluster credentials)."""
    from kserve import KServeClient

    isvc = inference_service(model, namespace=namespace, tracking_uri=tracking_uri, **kwargs)
    client = KServeClient()
    try:
        client.get(model, namespace=namespace)
        client.patch(model, isvc, namespace=namespace)
        action = "patched"
    except RuntimeError:
        client.create(isvc, namespace=namespace)
        action = "created"
    return {"target": "cluster", "action": action, "namespace": namespace, "name": model}
