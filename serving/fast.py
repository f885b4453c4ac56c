"""A direct ASGI path for the two inference routes, in front of KServe's FastAPI app.

Profiling the server under wrk load (py-spy) showed the model's own work to be
a small share of each request: the rest went to FastAPI's routing and dependency resolution, pydantic
models of the request and response, KServe's dataplane and its JSON encoding. This path answers
``POST /v1/models/{name}:predict`` and ``POST /v2/models/{name}/infer`` for the served model itself:
orjson parses the body, ``RegistryModel.answer`` (the same function the KServe route calls) checks,
scores and shapes it, orjson writes the answer. Everything else (metadata, health, version routing,
explain, other models) goes to KServe unchanged; so does a body this path cannot read as a well-formed
request (bad JSON, a v2 body that is not a list of tensors), replayed byte for byte, so that KServe
answers it exactly as before. The 4xx messages, metrics, version header and answers are the same on
both paths (the serving tests run against both: ``shopfloor serve --kserve-routes`` turns this path off).

It also guards every request: a body over ``max_body`` bytes gets 413 before it is parsed (at once when
its Content-Length says so, else as soon as that many bytes have arrived), and a body that stops
arriving for ``body_timeout`` seconds gets 408; the event loop keeps serving other clients meanwhile.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any

import orjson

from serving import metrics
from serving.model import asks_explanation
from shopfloor.contract import Tensor
from shopfloor.errors import DataError

V1_ROUTE = re.compile(r"^/v1/models/([^/:]+):predict$")
V2_ROUTE = re.compile(r"^/v2/models/([^/]+)/infer$")
FEEDBACK_ROUTE = re.compile(r"^/v1/models/([^/:]+)/feedback$")
JSON_HEADERS = [(b"content-type", b"application/json")]
Answer = tuple[int, bytes, list[tuple[bytes, bytes]]]  # status, JSON body, extra headers
DEFAULT_MAX_BODY = 16 * 1024 * 1024  # a batch of 4,096 rows of 66 numbers is about 5 MB of JSON
DEFAULT_BODY_TIMEOUT = 30.0


class BodyError(Exception):
    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status, self.reason = status, reason


async def respond(send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*JSON_HEADERS, (b"content-length", str(len(body)).encode()), *(headers or [])],
        }
    )
    await send({"type": "http.response.body", "body": body})


def tensors_of(payload: Any) -> list[Tensor] | None:
    """The tensors of a well-formed v2 request body, or None (KServe then answers it as it always did)."""
    if not isinstance(payload, dict) or not isinstance(payload.get("inputs"), list) or not payload["inputs"]:
        return None
    out = []
    for item in payload["inputs"]:
        if not isinstance(item, dict):
            return None
        name, shape, datatype, data = item.get("name"), item.get("shape"), item.get("datatype"), item.get("data")
        if not (
            isinstance(name, str)
            and isinstance(datatype, str)
            and isinstance(shape, list)
            and all(type(d) is int for d in shape)
            and isinstance(data, list)
        ):
            return None
        out.append(Tensor(name, shape, datatype, data))
    return out


class FastInference:
    """ASGI middleware: the direct inference path and the body guards (see the module docstring)."""

    def __init__(
        self,
        app,
        served: Callable[[], dict],
        max_body: int = DEFAULT_MAX_BODY,
        body_timeout: float = DEFAULT_BODY_TIMEOUT,
        enabled: bool = True,
    ) -> None:
        self.app, self.served, self.max_body, self.body_timeout = app, served, max_body, body_timeout
        self.enabled = enabled

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body:
            return await self._refuse(
                send,
                BodyError(
                    413,
                    "body_too_large",
                    f"request body of {declared} bytes exceeds the limit of {self.max_body} bytes",
                ),
            )
        if scope.get("method") == "POST" and FEEDBACK_ROUTE.match(scope.get("path", "")):
            return await self._feedback(scope, receive, send)
        route = self.route(scope)
        if route is None:
            started = False

            async def tracked(message):
                nonlocal started
                started = started or message["type"] == "http.response.start"
                await send(message)

            try:
                return await self.app(scope, self._guarded(receive), tracked)
            except BodyError as exc:  # raised while KServe read the body, before it answered
                if started:
                    raise
                return await self._refuse(send, exc)
        try:
            body = await self._read(receive)
        except BodyError as exc:
            return await self._refuse(send, exc)
        answered = self.answer(route, scope, body)
        if answered is None:  # KServe's own answer: "Unrecognized request format" and the like
            return await self.app(scope, _replay(body, receive), send)
        await respond(send, *answered)

    def answer(self, route: tuple[Any, bool], scope, body: bytes) -> Answer | None:
        """Status, JSON body and extra headers of the answer to a whole request body on ``route``, or None where
        KServe is to answer it (a body that is not JSON, a v2 body that is not a list of tensors)."""
        model, v2 = route
        return self.answer_many(model, [(v2, scope, body)])[0]

    def answer_many(self, model, requests: list[tuple[bool, Any, bytes]]) -> list[Answer | None]:
        """``answer`` for requests to one served model that arrived together (``(v2, scope, body)`` each): their
        rows are scored in one call where the model's kind allows (``RegistryModel.answer_many``); each gets its
        own answer. Synchronous: the ASGI path and the HTTP protocol's direct path (``serving.protocol``) call it."""
        out: list[Answer | None] = [None] * len(requests)
        batch, where = [], []
        for i, (v2, scope, body) in enumerate(requests):
            try:
                payload = orjson.loads(body)
            except orjson.JSONDecodeError:
                continue
            request = tensors_of(payload) if v2 else payload
            if v2 and request is None:
                continue
            request_id = (str(payload.get("id", "") or "") if v2 else "") or _header(scope, b"x-request-id")
            if v2 and asks_explanation(payload.get("parameters")):  # explained alone: the answer gains an output
                try:
                    out[i] = _answer_of(v2, model.answer(request, v2, request_id=request_id, explain=True))
                except DataError as exc:
                    out[i] = _answer_of(v2, exc)
                continue
            batch.append((request, v2, request_id))
            where.append(i)
        if batch:
            for i, answered in zip(where, model.answer_many(batch), strict=True):
                out[i] = _answer_of(requests[i][0], answered)
        return out

    async def _feedback(self, scope, receive, send) -> None:
        """``POST /v1/models/NAME/feedback``: ``{"outcomes": [{"request_id" or the key, "label"}, ...]}``.
        Good rows are stored even when others are refused (200, each refused row named); a body that is not
        such an object, or where no row could be stored, is a 400."""
        name = FEEDBACK_ROUTE.match(scope["path"]).group(1)
        model = self.served().get(name)
        if model is None or model.current is None:
            return await respond(send, 404, orjson.dumps({"error": f"model {name} is not served here"}))
        try:
            body = await self._read(receive)
        except BodyError as exc:
            return await self._refuse(send, exc)
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            return await respond(send, 400, orjson.dumps({"error": "outcomes: the body is not JSON"}))
        outcomes = payload.get("outcomes") if isinstance(payload, dict) else None
        if not isinstance(outcomes, list) or not outcomes or not all(isinstance(o, dict) for o in outcomes):
            return await respond(
                send,
                400,
                orjson.dumps({"error": 'outcomes: expected {"outcomes": [{"request_id": ..., "label": ...}, ...]}'}),
            )
        report = await asyncio.to_thread(model.record_feedback, outcomes)
        status = 400 if report.stored == 0 else 200
        await respond(send, status, orjson.dumps(report.as_dict()))

    def declared_within_limit(self, scope) -> bool:
        """Whether the request says how long its body is, within ``max_body``: the HTTP protocol answers only
        those itself, so that every other body meets this middleware's size and time guards."""
        declared = _content_length(scope)
        return declared is not None and declared <= self.max_body

    def route(self, scope) -> tuple[Any, bool] | None:
        """(served model, whether v2) of a POST to a served model's v1 predict or v2 infer route, else None."""
        if not self.enabled or scope.get("method") != "POST":
            return None
        path = scope.get("path", "")
        match = V1_ROUTE.match(path)
        v2 = match is None
        if v2:
            match = V2_ROUTE.match(path)
        if match is None:
            return None
        model = self.served().get(match.group(1))
        if model is None or model.current is None:
            return None  # KServe answers unknown or not-yet-loaded models as it always did
        return model, v2

    async def _read(self, receive) -> bytes:
        """The whole body; 408 when no part of it arrives for ``body_timeout`` seconds. One timer per request,
        moved on as each part arrives (``asyncio.wait_for`` wraps every ``receive`` in a task of its own: about
        11 us, a tenth of a one-row request)."""
        parts, size = [], 0
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout_at(loop.time() + self.body_timeout) as deadline:
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        raise BodyError(400, "disconnected", "the client went away")
                    chunk = message.get("body", b"")
                    size += len(chunk)
                    if size > self.max_body:
                        raise BodyError(
                            413, "body_too_large", f"request body exceeds the limit of {self.max_body} bytes"
                        )
                    if not message.get("more_body", False):
                        return b"".join(parts) + chunk if parts else chunk
                    parts.append(chunk)
                    deadline.reschedule(loop.time() + self.body_timeout)
        except TimeoutError:
            raise BodyError(408, "body_timeout", f"no request body for {self.body_timeout:g} s") from None

    def _guarded(self, receive):
        """``receive`` for requests KServe answers: the same size limit and timeout on their bodies."""
        state = {"size": 0}

        async def guarded():
            try:
                message = await asyncio.wait_for(receive(), self.body_timeout)
            except TimeoutError:
                raise BodyError(408, "body_timeout", f"no request body for {self.body_timeout:g} s") from None
            if message["type"] == "http.request":
                state["size"] += len(message.get("body", b""))
                if state["size"] > self.max_body:
                    raise BodyError(413, "body_too_large", f"request body exceeds the limit of {self.max_body} bytes")
            return message

        return guarded

    async def _refuse(self, send, exc: BodyError) -> None:
        metrics.reject(exc.reason)
        await respond(send, exc.status, orjson.dumps({"error": str(exc)}), [(b"connection", b"close")])


async def body_error_handler(request, exc: BodyError):
    """FastAPI's handler for a body refused while one of KServe's routes read it (registered on the app:
    its generic handler would otherwise turn the refusal into a 500 before it reaches this middleware)."""
    from starlette.responses import Response

    metrics.reject(exc.reason)
    return Response(
        orjson.dumps({"error": str(exc)}),
        status_code=exc.status,
        media_type="application/json",
        headers={"connection": "close"},
    )


def _answer_of(v2: bool, answered: tuple[Any, dict] | DataError) -> Answer:
    if isinstance(answered, DataError):
        return 400, orjson.dumps({"error": str(answered)}), []
    served, result = answered
    answered_id = result["id"] if v2 else result["request_id"]
    return (
        200,
        orjson.dumps(result),
        [(b"x-model-version", served.version.encode()), (b"x-request-id", answered_id.encode())],
    )


def _header(scope, name: bytes) -> str:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return ""


def _content_length(scope) -> int | None:
    for key, value in scope.get("headers", ()):
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _replay(body: bytes, receive):
    sent = False

    async def replay():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
