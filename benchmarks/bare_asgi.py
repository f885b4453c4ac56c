"""The ceilings of Python HTTP on this machine, run under uvicorn by ``benchmarks/serving.py``: a bare ASGI callable
that reads the body, parses it with orjson and answers a fixed JSON body (no framework, no model), and the same
beneath ASGI, answered from uvicorn's httptools protocol as the model server's direct path answers (``Protocol``)."""

import orjson
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

ANSWER = orjson.dumps({"predictions": [{"class": 0, "fault_probability": 0.1}], "model_version": "1"})
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(ANSWER)).encode())]


async def app(scope, receive, send):
    body, more = b"", True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    if body:
        orjson.loads(body)
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": ANSWER})


class Protocol(HttpToolsProtocol):
    """Every POST answered with ``ANSWER`` as its body completes, without an ASGI task (``app`` answers the rest)."""

    body: bytearray | None = None

    def on_headers_complete(self) -> None:
        if self.parser.get_method() == b"POST":
            self.body = bytearray()
        else:
            super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if self.body is None:
            super().on_body(body)
        else:
            self.body += body

    def on_message_complete(self) -> None:
        if self.body is None:
            return super().on_message_complete()
        if self.body:
            orjson.loads(self.body)
        self.body = None
        head = b"".join(b"%s: %s\r\n" % pair for pair in HEADERS)
        self.transport.write(STATUS_LINE[200] + head + b"\r\n" + ANSWER)
        self.server_state.total_requests += 1
        if self.timeout_keep_alive_task is None:
            handler = self.timeout_keep_alive_handler
            self.timeout_keep_alive_task = self.loop.call_later(self.timeout_keep_alive, handler)
