"""Start KServe's ModelServer on one registered model, bound to the host asked for.

KServe 0.21's REST server binds 0.0.0.0 unconditionally; on one machine the model server should
listen on 127.0.0.1 only, so the REST server class is narrowed to the requested host before the
ModelServer builds it (in a container, ``--host 0.0.0.0`` keeps KServe's behaviour).
"""

from __future__ import annotations

from serving.metrics import MetricsMiddleware
from serving.model import RegistryModel
from serving.versions import VersionRouting
from shopfloor.inference import DEFAULT_MAX_BATCH


def _bind_rest_server(host: str) -> None:
    import kserve.model_server as model_server
    from kserve.protocol.rest.server import RESTServer

    if getattr(model_server.RESTServer, "bound_host", None) == host:
        return

    class HostBoundRESTServer(RESTServer):
        bound_host = host

        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self.config.host = host
            self._server = type(self._server)(self.config)

    model_server.RESTServer = HostBoundRESTServer


def serve(model_name: str, alias: str = "champion", port: int = 8080, workers: int = 1, host: str = "127.0.0.1",
          max_batch: int = DEFAULT_MAX_BATCH, poll_seconds: float = 10.0, tracking_uri: str | None = None) -> None:
    """Load ``models:/MODEL@ALIAS`` and serve it until stopped (SIGINT/SIGTERM)."""
    from kserve import ModelServer
    from kserve.model_server import app

    _bind_rest_server(host)
    model = RegistryModel(model_name, alias=alias, tracking_uri=tracking_uri, max_batch=max_batch,
                          poll_seconds=poll_seconds)
    model.load()
    app.add_middleware(VersionRouting, served_version=lambda: model.scorer and model.scorer.version)
    app.add_middleware(MetricsMiddleware)  # outermost: times and counts everything, 404s for versions included
    ModelServer(http_port=port, workers=workers, enable_grpc=False).start([model])
