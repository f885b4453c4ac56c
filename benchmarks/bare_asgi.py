"""The ceiling of Python HTTP on this machine: a bare ASGI callable that reads the body, parses it with orjson
and answers a fixed JSON body (no framework, no model). Run under uvicorn by ``benchmarks/serving.py``."""

import orjson

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
