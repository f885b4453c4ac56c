"""Component: serve the new champion, on this machine (local model server) or on the cluster (KServe)."""

from kfp import dsl

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def deploy(registration: str, target: str, tracking_uri: str, port: int, namespace: str, image: str = "") -> str:
    import json

    from shopfloor.platform.deploy import deploy_step

    return json.dumps(
        deploy_step(
            json.loads(registration),
            target=target,
            port=port,
            namespace=namespace,
            image=image,
            tracking_uri=tracking_uri,
        )
    )
