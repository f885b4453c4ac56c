"""The trust boundary as the manifests write it down: MLflow reachable from exactly the pipeline and model-server
pods, every workload hardened (non-root, read-only root filesystem, no capabilities, seccomp), the MLflow
server run with the same flags as ``shopfloor mlflow-server``, and no secret in any manifest or in the
Dockerfile. Read from the files themselves (no kubectl needed)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from shopfloor.constants import NAMESPACE
from shopfloor.platform import hardening
from shopfloor.platform.deploy import SERVER_LABEL, SINK_NAME
from shopfloor.platform.mlflow_server import server_args

ROOT = Path(__file__).resolve().parents[1]
MANIFESTS = ROOT / "manifests"
WORKLOADS = {"Deployment", "StatefulSet", "InferenceService"}


def documents() -> list[dict]:
    docs = []
    for path in sorted(MANIFESTS.rglob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict) and d.get("kind")]
    return docs


def containers(doc: dict) -> tuple[dict, list[dict]]:
    spec = doc["spec"]["predictor"] if doc["kind"] == "InferenceService" else doc["spec"]["template"]["spec"]
    return spec, spec["containers"]


def test_mlflow_is_reachable_from_exactly_the_pipeline_model_server_and_prediction_sink_pods():
    policy = next(d for d in documents() if d["kind"] == "NetworkPolicy" and d["metadata"]["name"] == "mlflow-ingress")
    assert policy["spec"]["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": "mlflow"}}
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    [rule] = policy["spec"]["ingress"]
    namespace = {"matchLabels": {"kubernetes.io/metadata.name": NAMESPACE}}
    # each peer names a namespace AND pods in it (one list item: both must match), never a namespace alone
    pipeline_pods = {"matchLabels": {"pipelines.kubeflow.org/v2_component": "true"}}
    server_pods = {"matchLabels": {SERVER_LABEL[0]: SERVER_LABEL[1]}}
    sink_pods = {"matchLabels": {"app.kubernetes.io/component": SINK_NAME}}  # it reads the versions' schemas
    assert rule["from"] == [
        {"namespaceSelector": namespace, "podSelector": pipeline_pods},
        {"namespaceSelector": namespace, "podSelector": server_pods},
        {"namespaceSelector": namespace, "podSelector": sink_pods},
    ]
    assert rule["ports"] == [{"port": 5000, "protocol": "TCP"}]
    # and every model server pod carries the label the policy admits
    for doc in documents():
        if doc["kind"] == "InferenceService":
            assert doc["spec"]["predictor"]["labels"] == {SERVER_LABEL[0]: SERVER_LABEL[1]}
        if doc["kind"] == "Deployment" and doc["metadata"]["name"] == SINK_NAME:
            assert doc["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"] == SINK_NAME
    database = next(
        d for d in documents() if d["kind"] == "NetworkPolicy" and d["metadata"]["name"] == "mlflow-postgres-ingress"
    )
    assert database["spec"]["ingress"][0]["from"] == [
        {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "mlflow"}}}
    ]


@pytest.mark.parametrize(
    "doc", [d for d in documents() if d["kind"] in WORKLOADS], ids=lambda d: f"{d['kind']}/{d['metadata']['name']}"
)
def test_every_workload_is_hardened(doc):
    pod, items = containers(doc)
    wanted = hardening.security_context()
    for container in items:
        context = {
            **{k: v for k, v in pod.get("securityContext", {}).items() if k in wanted},
            **container.get("securityContext", {}),
        }
        assert context["runAsNonRoot"] is True and context["runAsUser"] != 0
        assert context["readOnlyRootFilesystem"] is True
        assert context["allowPrivilegeEscalation"] is False
        assert context["capabilities"] == {"drop": ["ALL"]}
        assert context["seccompProfile"] == {"type": "RuntimeDefault"}
        if container["image"].startswith("shopfloor"):  # the Shopfloor image: exactly shopfloor.platform.hardening's
            assert context == wanted
            mounted = {m["mountPath"] for m in container.get("volumeMounts", [])}
            assert set(hardening.WRITABLE) <= mounted


def test_the_mlflow_deployment_runs_the_flags_of_shopfloor_mlflow_server():
    deployment = next(d for d in documents() if d["kind"] == "Deployment" and d["metadata"]["name"] == "mlflow")
    container = containers(deployment)[1][0]
    assert container["command"] == ["mlflow", "server"]
    assert container["args"] == server_args(
        "sqlite:////mlflow/mlflow.db", "/mlflow/artifacts", host="0.0.0.0", port=5000
    )
    component = yaml.safe_load((MANIFESTS / "components" / "postgres-minio" / "kustomization.yaml").read_text())
    patch = yaml.safe_load(component["patches"][0]["patch"])
    args = list(container["args"])
    for op in patch:
        if "/args/" in op["path"]:
            args[int(op["path"].rsplit("/", 1)[1])] = op["value"]
    assert args == server_args(
        "postgresql+psycopg2://mlflow:$(POSTGRES_PASSWORD)@mlflow-postgres:5432/mlflow",
        "s3://mlflow/artifacts",
        host="0.0.0.0",
        port=5000,
    )


SECRET_PATTERNS = {
    "AWS access key id": re.compile(r"AKIA[0-9A-Z]{16}"),
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "password in a URL": re.compile(r"://[^/\s:@$]+:(?!\$\()[^@\s/]+@"),
    # a quoted value, unless a reference ($(VAR)) or the name of an environment variable (upper case only)
    "quoted secret value": re.compile(
        r"(?i)(password|secret|token|access_key)\w*[\"']?\s*[:=]\s*[\"'](?!\$\()"
        r"(?!(?-i:[A-Z][A-Z0-9_]*)[\"'])[A-Za-z0-9+/_\-]{8,}[\"']"
    ),
    "unquoted secret value": re.compile(
        r"(?im)(password|secret|token|access_key)\w*[\"']?\s*:\s+(?![$({\[])"
        r"[A-Za-z0-9+/_\-]{8,}\s*$"
    ),
}


def scan(text: str) -> list[str]:
    return [f"{name}: {m.group(0)[:40]}" for name, pattern in SECRET_PATTERNS.items() for m in pattern.finditer(text)]


def test_the_scanner_finds_planted_secrets():
    assert scan("url: postgresql://mlflow:hunter2hunter2@db:5432/mlflow")
    assert scan("AWS_ACCESS_KEY_ID: AKIAABCDEFGHIJKLMNOP")
    assert scan('POSTGRES_PASSWORD: "s3cr3tp4ssw0rd"') and scan("POSTGRES_PASSWORD: s3cr3tp4ssw0rd")
    assert scan('token = "ghp_0123456789abcdef"') and scan('ADMIN_PASSWORD = "Hunter2Hunter2"')
    assert not scan('PASSWORD_ENV = "SHOPFLOOR_MLFLOW_ADMIN_PASSWORD"')  # the name of a variable, not a value
    assert not scan("token = _REJECT_COUNTED.set({})") and not scan("secretKeyRef: {name: mlflow-store, key: K}")
    assert not scan("postgresql://mlflow:$(POSTGRES_PASSWORD)@db:5432/mlflow")


def test_no_secret_in_any_manifest_or_the_dockerfile():
    found = {}
    for path in [*MANIFESTS.rglob("*.yaml"), ROOT / "Dockerfile", ROOT / "Makefile"]:
        hits = scan(path.read_text())
        if hits:
            found[str(path.relative_to(ROOT))] = hits
    assert found == {}
    for doc in documents():  # secrets come from Secret objects by reference, never inline
        assert doc["kind"] != "Secret", doc["metadata"]
        if doc["kind"] in WORKLOADS:
            for container in containers(doc)[1]:
                for env in container.get("env", []):
                    if re.search(r"(?i)password|secret|token|key", env["name"]):
                        assert "valueFrom" in env and "value" not in env, env
