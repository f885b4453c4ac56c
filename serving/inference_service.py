"""The KServe InferenceService that runs this model server on a cluster, built with the kserve SDK.

The predictor is the Shopfloor image running ``shopfloor serve`` (a custom KServe predictor) on the
registered model, with the paper's sizing: 1 to 10 replicas of 0.5 CPU and 0.5 Gi each, requests
equal to limits, and an explicit autoscaling target (requests per second per replica, from the
serving benchmark; see the README's capacity plan).
"""

from __future__ import annotations

from typing import Any

from kubernetes.client import (
    V1Container,
    V1ContainerPort,
    V1EnvVar,
    V1HTTPGetAction,
    V1ObjectMeta,
    V1Probe,
    V1ResourceRequirements,
    V1SecurityContext,
)

from components import IMAGE

API_VERSION = "serving.kserve.io/v1beta1"
RESOURCES = {"cpu": "500m", "memory": "512Mi"}
DEFAULT_SCALE_TARGET = 70  # requests/s per 0.5-CPU replica: the capacity plan of benchmarks/serving.py


def inference_service(model_name: str, *, namespace: str = "kubeflow-user-example-com", alias: str = "champion",
                      image: str = IMAGE, tracking_uri: str = "http://mlflow.shopfloor.svc.cluster.local:5000",
                      min_replicas: int = 1, max_replicas: int = 10, scale_metric: str = "rps",
                      scale_target: int = DEFAULT_SCALE_TARGET, service_account: str | None = None):
    """A ``V1beta1InferenceService`` (kserve SDK model) for ``models:/MODEL@ALIAS``."""
    from kserve import V1beta1InferenceService, V1beta1InferenceServiceSpec, V1beta1PredictorSpec

    probe = V1Probe(http_get=V1HTTPGetAction(path=f"/v2/models/{model_name}/ready", port=8080),
                    initial_delay_seconds=5, period_seconds=10)
    container = V1Container(
        name="kserve-container", image=image,
        args=["shopfloor", "serve", "--model", model_name, "--alias", alias, "--host", "0.0.0.0", "--port", "8080"],
        env=[V1EnvVar(name="MLFLOW_TRACKING_URI", value=tracking_uri)],
        ports=[V1ContainerPort(name="http1", container_port=8080, protocol="TCP")],
        resources=V1ResourceRequirements(requests=dict(RESOURCES), limits=dict(RESOURCES)),
        readiness_probe=probe,
        security_context=V1SecurityContext(run_as_non_root=True, run_as_user=10001, allow_privilege_escalation=False,
                                           read_only_root_filesystem=False))
    predictor = V1beta1PredictorSpec(containers=[container], min_replicas=min_replicas, max_replicas=max_replicas,
                                     scale_metric=scale_metric, scale_target=scale_target,
                                     service_account_name=service_account)
    return V1beta1InferenceService(
        api_version=API_VERSION, kind="InferenceService",
        metadata=V1ObjectMeta(name=model_name, namespace=namespace,
                              labels={"app.kubernetes.io/part-of": "shopfloor"},
                              annotations={"serving.kserve.io/deploymentMode": "Serverless"}),
        spec=V1beta1InferenceServiceSpec(predictor=predictor))


def to_manifest(isvc) -> dict[str, Any]:
    """The plain-dict manifest (camelCase keys, no nulls) that kubectl and the API server take."""
    from kserve import ApiClient

    return ApiClient().sanitize_for_serialization(isvc)


def _model_class(name: str):
    import kserve.models
    import kubernetes.client.models

    for module in (kserve.models, kubernetes.client.models):
        if hasattr(module, name):
            return getattr(module, name)
    return None


_PRIMITIVES = {"str": str, "int": int, "float": (int, float), "bool": bool, "object": object,
               "datetime": str, "date": str}


def schema_errors(manifest: dict[str, Any]) -> list[str]:
    """Check the manifest against the generated models of the pinned kserve SDK and Kubernetes client
    (the OpenAPI definitions the InferenceService CRD is built from): every key must be a field of its
    object, every value of the declared type. An empty list means the manifest is valid."""
    errors: list[str] = []
    _check(manifest, "V1beta1InferenceService", "", errors)
    if manifest.get("apiVersion") != API_VERSION or manifest.get("kind") != "InferenceService":
        errors.append(f"apiVersion/kind: expected {API_VERSION} InferenceService")
    if not (manifest.get("spec") or {}).get("predictor"):
        errors.append("spec.predictor: required")
    return errors


def _check(value: Any, type_name: str, path: str, errors: list[str]) -> None:
    where = path.lstrip(".") or "."
    if type_name.startswith("list["):
        if not isinstance(value, list):
            errors.append(f"{where}: expected a list")
            return
        for i, item in enumerate(value):
            _check(item, type_name[5:-1], f"{path}[{i}]", errors)
    elif type_name.startswith("dict("):
        if not isinstance(value, dict):
            errors.append(f"{where}: expected an object")
            return
        inner = type_name[5:-1].split(",", 1)[1].strip()
        for key, item in value.items():
            _check(item, inner, f"{path}.{key}", errors)
    elif type_name in _PRIMITIVES:
        expected = _PRIMITIVES[type_name]
        if isinstance(value, bool) and type_name != "bool" and expected is not object:
            errors.append(f"{where}: expected {type_name}, got a boolean")
        elif not isinstance(value, expected):
            errors.append(f"{where}: expected {type_name}, got {type(value).__name__}")
    else:
        cls = _model_class(type_name)
        if cls is None:  # a type the SDKs leave open (e.g. IntOrString, Quantity)
            return
        if not isinstance(value, dict):
            errors.append(f"{where}: expected an object ({type_name})")
            return
        fields = {json_key: attr for attr, json_key in cls.attribute_map.items()}
        for key, item in value.items():
            if key not in fields:
                errors.append(f"{path}.{key}".lstrip(".") + f": not a field of {type_name}")
            else:
                _check(item, cls.openapi_types[fields[key]], f"{path}.{key}", errors)


#: The models the platform serves, as named by their pipelines (manifests/base/inferenceservices.yaml).
PLATFORM_MODELS = ("gearbox-fault-classifier", "health-index")
PROFILE_NAMESPACE = "kubeflow-user-example-com"


def platform_manifests(image: str = "shopfloor-python") -> str:
    """The InferenceServices of ``manifests/base`` as multi-document YAML; ``image`` is the name that
    kustomize's ``images:`` entries replace."""
    import yaml

    docs = [to_manifest(inference_service(name, namespace=PROFILE_NAMESPACE, image=image)) for name in PLATFORM_MODELS]
    header = "# Generated by `make manifests` (python -m serving.inference_service); do not edit by hand.\n"
    return header + "---\n".join(yaml.safe_dump(doc, sort_keys=False) for doc in docs)


if __name__ == "__main__":
    print(platform_manifests(), end="")
