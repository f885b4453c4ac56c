"""manifests/: rendered by kustomize (kubectl's), validated against the Kubernetes schemas of the version
MicroK8s ships (kubernetes-validate) and the KServe SDK's InferenceService models; no workload runs as
root or without limits; RBAC grants InferenceServices and nothing more."""

import shutil
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from serving.inference_service import platform_manifests, schema_errors

ROOT = Path(__file__).resolve().parents[1] / "manifests"
OVERLAYS = ["microk8s", "microk8s-postgres"]
K8S_VERSION = "1.32.0"  # MicroK8s 1.32/stable
WORKLOADS = {"Deployment", "StatefulSet", "InferenceService"}

pytestmark = pytest.mark.skipif(
    shutil.which("kubectl") is None, reason="kubectl (kustomize) is not installed: apt-get install kubectl"
)


def render(overlay: str) -> list[dict]:
    out = subprocess.run(
        ["kubectl", "kustomize", str(ROOT / "overlays" / overlay)], capture_output=True, text=True, check=True
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def pod_spec(doc: dict) -> dict:
    if doc["kind"] == "InferenceService":
        return doc["spec"]["predictor"]
    return doc["spec"]["template"]["spec"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_rendered_manifests_are_valid(overlay):
    docs = render(overlay)
    kinds = {d["kind"] for d in docs}
    assert {
        "Namespace",
        "Deployment",
        "Service",
        "PersistentVolumeClaim",
        "Role",
        "RoleBinding",
        "NetworkPolicy",
        "PodMonitor",
        "PrometheusRule",
        "ConfigMap",
        "InferenceService",
    } <= kinds
    for doc in docs:
        if doc["kind"] == "InferenceService":
            assert schema_errors(doc) == [], doc["metadata"]["name"]
        elif doc["kind"] == "PodMonitor":  # prometheus-operator CRD: the fields it requires
            endpoint = doc["spec"]["podMetricsEndpoints"][0]
            assert doc["apiVersion"] == "monitoring.coreos.com/v1" and endpoint["path"] == "/metrics"
        elif doc["kind"] == "PodDefault":  # Kubeflow's CRD: the fields its admission webhook reads
            assert doc["apiVersion"] == "kubeflow.org/v1alpha1" and doc["spec"]["selector"]["matchLabels"]
            assert all(e["valueFrom"]["secretKeyRef"]["name"] for e in doc["spec"]["env"])
        elif doc["kind"] == "PrometheusRule":  # CRD as well: checked by promtool in test_observability
            assert doc["apiVersion"] == "monitoring.coreos.com/v1" and doc["spec"]["groups"][0]["rules"]
        else:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_validation_catches_a_broken_manifest():
    deployment = next(d for d in render("microk8s") if d["kind"] == "Deployment")
    deployment["spec"]["replicas"] = "one"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSION, strict=True)
    isvc = next(d for d in render("microk8s") if d["kind"] == "InferenceService")
    isvc["spec"]["predictor"]["minReplica"] = 1  # a typo of minReplicas
    assert schema_errors(isvc)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_no_workload_runs_as_root_or_without_limits(overlay):
    for doc in render(overlay):
        if doc["kind"] not in WORKLOADS:
            continue
        spec = pod_spec(doc)
        pod_context = spec.get("securityContext", {})
        for container in spec["containers"]:
            where = f"{doc['kind']}/{doc['metadata']['name']}/{container['name']}"
            context = {**pod_context, **container.get("securityContext", {})}
            assert context.get("runAsNonRoot") is True and context.get("runAsUser", 0) != 0, where
            assert context.get("allowPrivilegeEscalation") is False, where
            limits = container.get("resources", {}).get("limits", {})
            assert {"cpu", "memory"} <= set(limits), where
            assert ":" in container["image"] and not container["image"].endswith(":latest"), where


def test_images_come_from_the_microk8s_registry():
    images = {c["image"] for d in render("microk8s") if d["kind"] in WORKLOADS for c in pod_spec(d)["containers"]}
    assert images == {"localhost:32000/shopfloor-python:0.1.0"}


def test_rbac_grants_inferenceservices_only():
    docs = render("microk8s")
    roles = [d for d in docs if d["kind"] in ("Role", "ClusterRole")]
    assert [r["kind"] for r in roles] == ["Role"]
    for rule in roles[0]["rules"]:
        assert rule["apiGroups"] == ["serving.kserve.io"] and rule["resources"] == ["inferenceservices"]
        assert "*" not in rule["verbs"] and "delete" not in rule["verbs"]
        assert {"create", "patch", "get"} <= set(rule["verbs"])
    binding = next(d for d in docs if d["kind"] == "RoleBinding")
    assert binding["subjects"][0]["name"] == "default-editor"


def test_pvcs_use_microk8s_storage_and_podmonitor_targets_the_server_port():
    docs = render("microk8s")
    assert {d["spec"].get("storageClassName") for d in docs if d["kind"] == "PersistentVolumeClaim"} == {
        "microk8s-hostpath"
    }
    port = next(d for d in docs if d["kind"] == "PodMonitor")["spec"]["podMetricsEndpoints"][0]["port"]
    isvc_ports = {
        p["name"]
        for d in docs
        if d["kind"] == "InferenceService"
        for c in pod_spec(d)["containers"]
        for p in c["ports"]
    }
    assert isvc_ports == {port}


def test_generated_inferenceservices_are_up_to_date():
    assert (ROOT / "base" / "inferenceservices.yaml").read_text() == platform_manifests()


def test_every_inferenceservice_logs_to_the_prediction_sink_which_writes_to_the_data_volume():
    from serving.sink import manifests as sink_manifests
    from shopfloor.platform.deploy import SINK_NAME, SINK_PORT

    assert (ROOT / "base" / "prediction-sink.yaml").read_text() == sink_manifests()
    docs = render("microk8s")
    service = next(d for d in docs if d["kind"] == "Service" and d["metadata"]["name"] == SINK_NAME)
    for isvc in (d for d in docs if d["kind"] == "InferenceService"):
        logger = isvc["spec"]["predictor"]["logger"]
        assert logger == {
            "mode": "all",
            "url": f"http://{SINK_NAME}.{service['metadata']['namespace']}.svc.cluster.local",
        }
    sink = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == SINK_NAME)
    container = pod_spec(sink)["containers"][0]
    assert container["args"][:2] == ["shopfloor", "prediction-sink"] and str(SINK_PORT) in container["args"]
    volumes = pod_spec(sink)["volumes"]
    claims = {v["persistentVolumeClaim"]["claimName"] for v in volumes if "persistentVolumeClaim" in v}
    assert claims == {"shopfloor-data"}
    policy = next(d for d in docs if d["kind"] == "NetworkPolicy" and d["metadata"]["name"] == "mlflow-ingress")
    admitted = [f["podSelector"]["matchLabels"] for rule in policy["spec"]["ingress"] for f in rule["from"]]
    assert {"app.kubernetes.io/component": SINK_NAME} in admitted  # it reads the versions' schemas


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_cluster_runs_mlflow_with_registry_permissions(overlay):
    """The overlays run ``mlflow server`` with exactly the flags of ``shopfloor mlflow-server --auth``, its
    configuration is the one Shopfloor writes, and every credential is a reference to a Secret."""
    from shopfloor.platform.mlflow_auth import PIPELINE_IDENTITY, SERVER_IDENTITY, config_text
    from shopfloor.platform.mlflow_server import server_args

    docs = render(overlay)
    mlflow = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "mlflow")
    container = pod_spec(mlflow)["containers"][0]
    store = (
        ("postgresql+psycopg2://mlflow:$(POSTGRES_PASSWORD)@mlflow-postgres:5432/mlflow", "s3://mlflow/artifacts")
        if overlay.endswith("postgres")
        else ("sqlite:////mlflow/mlflow.db", "/mlflow/artifacts")
    )
    assert container["args"] == server_args(*store, host="0.0.0.0", port=5000, auth=True)
    env = {e["name"]: e for e in container["env"]}
    for secret in ("MLFLOW_AUTH_ADMIN_PASSWORD", "MLFLOW_FLASK_SERVER_SECRET_KEY"):
        assert env[secret]["valueFrom"]["secretKeyRef"]["name"] == "mlflow-auth" and "value" not in env[secret]
    config = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("mlflow-auth"))
    assert config["data"]["basic_auth.ini"] == config_text("sqlite:////mlflow/basic_auth.db")
    assert env["MLFLOW_AUTH_CONFIG_PATH"]["value"].startswith(
        next(m["mountPath"] for m in container["volumeMounts"] if m["name"] == "auth-config")
    )
    for isvc in (d for d in docs if d["kind"] == "InferenceService"):
        refs = {
            e["name"]: e["valueFrom"]["secretKeyRef"]["name"]
            for e in pod_spec(isvc)["containers"][0]["env"]
            if "valueFrom" in e
        }
        assert refs == {"MLFLOW_TRACKING_USERNAME": SERVER_IDENTITY, "MLFLOW_TRACKING_PASSWORD": SERVER_IDENTITY}
    pod_default = next(d for d in docs if d["kind"] == "PodDefault")
    assert pod_default["spec"]["selector"]["matchLabels"] == {"pipelines.kubeflow.org/v2_component": "true"}
    assert {e["valueFrom"]["secretKeyRef"]["name"] for e in pod_default["spec"]["env"]} == {PIPELINE_IDENTITY}
