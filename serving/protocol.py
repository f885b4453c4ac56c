"""The inference routes answered inside uvicorn's HTTP protocol, beneath ASGI, and together when they arrive
together.

A profile of one-row requests showed the ASGI layer itself to cost more than the model: uvicorn's request task,
its ``receive``/``send`` messages and the middleware chain. A fixed JSON answer written from the protocol runs at
about twice the rate of the same answer from a bare ASGI app (``benchmarks/serving_champion.py``: 53,982 against
27,643 requests/s in one run). So a request to a served model's ``:predict`` or ``/infer`` route whose body arrives
whole with its headers is answered here, by the same ``FastInference`` code the ASGI path calls (parse, check,
score, log), with the same request metrics and headers.

The bodies completed while the event loop reads its sockets are answered together once it has read them all
(``loop.call_soon`` runs after the turn's reads): under load from several clients that is several requests at a
time, and a kind that scores rows one by one (``ShopfloorModel.stack``) scores them in one call. Nobody waits for a
batch to fill: a lone request is answered in the same turn of the loop as it would have been alone.

Everything else goes on to the ASGI app exactly as before: other routes, a query string (version routing),
``Expect: 100-continue``, a body without a ``Content-Length`` or over ``--max-body-bytes`` (the ASGI path's 413), a
pipelined request behind one still being answered, a body still arriving when the read ends (the ASGI path's size
and time guards read the rest), and a body ``FastInference`` leaves to KServe (bad JSON). uvicorn builds each
request's scope and cycle as it always does; only the start of its ASGI task is held back until the body is whole
(``_start_asgi_task``), so a request handed on is the request uvicorn would have run.
"""

from __future__ import annotations

import logging
import time
from typing import Any, ClassVar

import orjson
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from serving import metrics
from serving.fast import JSON_HEADERS, Answer, FastInference

log = logging.getLogger(__name__)
_CLOSE = (b"connection", b"close")
_FAILED: Answer = (500, orjson.dumps({"error": "internal server error"}), [_CLOSE])


class DirectProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the inference routes answered directly (see the module docstring)."""

    #: The server's direct path, set when its app is built (in every worker); None leaves every request to ASGI.
    fast: ClassVar[FastInference | None] = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._held: tuple[Any, Any, tuple[Any, bool]] | None = None  # (cycle, app, route) until the body is whole
        self._holding = False

    def on_headers_complete(self) -> None:
        self._holding = self.fast is not None and self.parser.get_method() == b"POST"
        try:
            super().on_headers_complete()
        finally:
            self._holding = False

    def _start_asgi_task(self, cycle, app) -> None:
        if self._holding and self.fast is not None and app is self.app:  # not uvicorn's 503 for too many requests
            scope = cycle.scope
            direct = not (scope["query_string"] or self.expect_100_continue) and self.fast.declared_within_limit(scope)
            route = self.fast.route(scope) if direct else None
            if route is not None:
                self._held = (cycle, app, route)
                return
        super()._start_asgi_task(cycle, app)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        if self._held is not None:
            cycle, app, route = self._held
            self._held = None
            _pending.add(self, cycle, app, route)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._held is not None:  # headers read, body still arriving: the ASGI path reads the rest
            cycle, app, _ = self._held
            self._held = None
            if not self.transport.is_closing():
                super()._start_asgi_task(cycle, app)

    def hand_on(self, cycle, app) -> None:
        """Run the request through the ASGI app after all (its body is whole: the app reads it as usual)."""
        if not self.transport.is_closing():
            super()._start_asgi_task(cycle, app)

    def write(self, cycle, answer: Answer) -> None:
        """Send ``answer`` as uvicorn would send the app's response, then go on as uvicorn does after one."""
        if self.transport.is_closing():  # the client went away while its request waited
            return
        status, body, extra = answer
        keep_alive = cycle.keep_alive and _CLOSE not in extra
        content = [STATUS_LINE[status]]
        for name, value in (*self.server_state.default_headers, *JSON_HEADERS, *extra):
            content += (name, b": ", value, b"\r\n")
        content += (b"content-length: ", str(len(body)).encode(), b"\r\n")
        if not keep_alive and _CLOSE not in extra:
            content.append(b"connection: close\r\n")
        content += (b"\r\n", body)
        self.transport.write(b"".join(content))
        cycle.response_complete = True
        if not keep_alive:
            self.transport.close()
        self.on_response_complete()


class _Pending:
    """The requests whose bodies completed in this turn of the event loop, answered together at its end."""

    def __init__(self) -> None:
        self.requests: list[tuple[DirectProtocol, Any, Any, tuple[Any, bool], float]] = []

    def add(self, protocol: DirectProtocol, cycle, app, route: tuple[Any, bool]) -> None:
        if not self.requests:
            protocol.loop.call_soon(self.answer)
        self.requests.append((protocol, cycle, app, route, time.perf_counter()))

    def answer(self) -> None:
        requests, self.requests = self.requests, []
        fast = DirectProtocol.fast
        by_model: dict[int, list] = {}
        for request in requests:
            by_model.setdefault(id(request[3][0]), []).append(request)
        for group in by_model.values():
            model = group[0][3][0]
            metrics.answered_together(model.name, len(group))
            try:
                bodies = [(route[1], cycle.scope, cycle.body) for _, cycle, _, route, _ in group]
                answers = fast.answer_many(model, bodies)
            except Exception:  # a fault of ours: 500, as uvicorn answers an exception raised in the app
                log.exception("direct inference failed")
                answers = [_FAILED] * len(group)
            done = time.perf_counter()
            for (protocol, cycle, app, route, arrived), answer in zip(group, answers, strict=True):
                try:
                    if answer is None:
                        protocol.hand_on(cycle, app)
                        continue
                    # every 4xx of this path is a row check's DataError, counted where it was raised
                    metrics.answered(model.name, "v2" if route[1] else "v1", answer[0], done - arrived, True)
                    protocol.write(cycle, answer)
                except Exception:  # one connection's failure never leaves the others of the turn unanswered
                    log.exception("could not send a direct answer")
                    protocol.transport.close()


_pending = _Pending()
