"""Component: serve the champion, on this machine (local model server) or on the cluster (KServe)."""

from kfp import dsl

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def deploy(registration: str, target: str = "none", port: int = 8080, namespace: str = "kubeflow-user-example-com",
           image: str = "", tracking_uri: str = "") -> str:
    import json

    reg = json.loads(registration)
    if target == "none" or reg["alias"] != "champion":
        why = "deployment not asked for" if target == "none" else "the new version is a challenger"
        return json.dumps({"target": target, "action": "none", "reason": why})
    if target == "local":
        from serving.deploy import deploy_local

        return json.dumps(deploy_local(reg["model_name"], str(reg["version"]), port=port))
    if target == "cluster":
        from serving.deploy import deploy_cluster

        kwargs = {"image": image} if image else {}
        return json.dumps(deploy_cluster(reg["model_name"], namespace, tracking_uri=tracking_uri, **kwargs))
    raise ValueError(f"target must be none, local or cluster, got {target!r}")
