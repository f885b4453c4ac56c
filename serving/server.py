"""Start KServe's ModelServer on one registered model, bound to the host asked for.

KServe 0.21's REST server binds 0.0.0.0 unconditionally and builds its FastAPI app in each worker
process. ``HostBoundRESTServer`` narrows the bind address (on one machine the model server should
listen on 127.0.0.1 only; in a container ``--host 0.0.0.0`` keeps KServe's behaviour) and installs
Shopfloor's middlewares around KServe's app when it is built, so single- and multi-worker servers behave
alike: from the outside in, request metrics, version routing, then the direct inference path and body
guards (``serving.fast``) in front of KServe's FastAPI app and its routes; beneath them all, the HTTP protocol
answers the inference routes directly where it can (``serving.protocol``). Its settings live on the
instance, which KServe pickles into each spawned worker.
"""

from __future__ import annotations

from kserve.protocol.rest.server import RESTServer

from serving.fast import DEFAULT_BODY_TIMEOUT, DEFAULT_MAX_BODY, BodyError, FastInference, body_error_handler
from serving.live import DEFAULT_REFRESH_SECONDS, DEFAULT_WINDOW_SECONDS
from serving.metrics import MetricsMiddleware
from serving.model import SERVED, RegistryModel, served_version
from serving.protocol import DirectProtocol
from serving.versions import VersionRouting
from shopfloor.constants import CHAMPION, DEFAULT_MAX_BATCH, SERVER_PORT


class HostBoundRESTServer(RESTServer):
    """KServe's REST server on ``bound_host``, with version routing, request metrics and the direct path."""

    bound_host = "127.0.0.1"
    options: dict = {
        "access_log": False,
        "fast_path": True,
        "max_body": DEFAULT_MAX_BODY,
        "body_timeout": DEFAULT_BODY_TIMEOUT,
    }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.config.host = self.bound_host
        self.shopfloor_options = dict(self.options)  # an instance attribute: it travels to spawned workers
        if self.shopfloor_options["fast_path"] and _has_httptools():
            self.config.http = DirectProtocol  # the inference routes beneath ASGI (serving.protocol)
        self._server = type(self._server)(self.config)

    def create_application(self) -> None:
        super().create_application()
        import logging

        from kserve.model_server import app

        options = self.shopfloor_options
        if not options["access_log"]:  # one access line and two timing lines per request cost ~17 % of the CPU
            for name in ("uvicorn.access", "kserve.trace"):
                logging.getLogger(name).setLevel(logging.WARNING)
        global ENTRY
        app.add_exception_handler(BodyError, body_error_handler)
        # Outside FastAPI's own middleware stack (error handling, telemetry, its body limit), which costs the
        # direct path about a tenth of a one-row request; uvicorn answers 500 for an exception that escapes.
        fast = FastInference(
            app,
            served=lambda: SERVED,
            max_body=options["max_body"],
            body_timeout=options["body_timeout"],
            enabled=options["fast_path"],
        )
        DirectProtocol.fast = fast if options["fast_path"] else None
        ENTRY = MetricsMiddleware(VersionRouting(fast, served_version=served_version))
        self.config.app = "serving.server:ENTRY"  # imported by uvicorn when it starts, in every worker


#: The ASGI application uvicorn serves: Shopfloor's middlewares around KServe's FastAPI app (set above).
ENTRY = None


def _has_httptools() -> bool:
    """Whether uvicorn's httptools protocol can run (uvicorn's "standard" extras); else uvicorn's h11 protocol
    serves every request through ASGI."""
    import importlib.util

    return importlib.util.find_spec("httptools") is not None


def _use_host_bound_server(host: str, **options) -> None:
    import kserve.model_server as model_server
    import kserve.protocol.rest.multiprocess.server as multiprocess

    HostBoundRESTServer.bound_host = host
    HostBoundRESTServer.options = {**HostBoundRESTServer.options, **options}
    model_server.RESTServer = HostBoundRESTServer
    multiprocess.RESTServer = HostBoundRESTServer


def _use_uvloop() -> str:
    """Run the server's event loop on uvloop where it is installed, as KServe's default ``--event_loop auto``
    promises, and say which loop runs. KServe's single-process server starts its own ``asyncio.run``, so
    uvicorn's loop setting never applied there and requests ran on asyncio's pure-Python loop (its socket writes
    and callbacks were about a fifth of a one-row request in a profile of the server under load)."""
    import asyncio

    try:
        import uvloop
    except ImportError:  # uvicorn without its "standard" extras: asyncio's own loop
        return "asyncio"
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    asyncio.set_event_loop(asyncio.new_event_loop())  # KServe configures the current loop before asyncio.run
    return "uvloop"


def serve(
    model_name: str,
    alias: str = CHAMPION,
    port: int = SERVER_PORT,
    workers: int = 1,
    host: str = "127.0.0.1",
    max_batch: int = DEFAULT_MAX_BATCH,
    poll_seconds: float = 10.0,
    tracking_uri: str | None = None,
    access_log: bool = False,
    fast_path: bool = True,
    max_body: int = DEFAULT_MAX_BODY,
    body_timeout: float = DEFAULT_BODY_TIMEOUT,
    grpc_port: int | None = None,
    prediction_log: bool = True,
    key_column: str | None = None,
    quality_seconds: float = DEFAULT_REFRESH_SECONDS,
    quality_window: float = DEFAULT_WINDOW_SECONDS,
    challenger: str | None = None,
) -> None:
    """Load ``models:/MODEL@ALIAS`` and serve it until stopped (SIGINT/SIGTERM); ``grpc_port`` also serves the
    Open Inference Protocol over gRPC (KServe's own servicer). Every answered row goes to the prediction log
    (``shopfloor.monitoring``) unless ``prediction_log`` is False; ``key_column`` names a business key that
    requests may carry beside the features (passed through to the log, not scored). ``challenger``: ``shadow``
    or ``canary:PERCENT`` puts ``@challenger`` on trial beside the champion (``serving.trial``)."""
    from kserve import ModelServer

    from shopfloor.platform.cpus import use_cpus

    use_cpus(branches=workers)  # each worker process its share of the CPUs the server is given
    _use_host_bound_server(
        host, access_log=access_log, fast_path=fast_path, max_body=max_body, body_timeout=body_timeout
    )
    model = RegistryModel(
        model_name,
        alias=alias,
        tracking_uri=tracking_uri,
        max_batch=max_batch,
        poll_seconds=poll_seconds,
        prediction_log=prediction_log,
        key_column=key_column,
        quality_seconds=quality_seconds,
        quality_window=quality_window,
        challenger=challenger,
    )
    model.load()
    print(f"event loop: {_use_uvloop()}", flush=True)
    grpc = {"enable_grpc": True, "grpc_port": grpc_port} if grpc_port else {"enable_grpc": False}
    ModelServer(http_port=port, workers=workers, **grpc).start([model])
