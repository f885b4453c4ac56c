"""Answer version-addressed requests instead of KServe's 501 "Model versioning not supported yet".

The Open Inference Protocol lets clients name a version (``/v2/models/M/versions/V/...`` or a
``model_version`` query parameter). This server serves exactly one version at a time and knows
which, so a request for that version is passed on without the version part, and a request for any
other version gets 404 naming the version being served.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from urllib.parse import parse_qsl, urlencode

_VERSIONED = re.compile(r"^(/v2/models/[^/]+)/versions/([^/]+)(/.*)?$")


class VersionRouting:
    def __init__(self, app, served_version: Callable[[], str | None]) -> None:
        self.app = app
        self.served_version = served_version

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not scope.get("path", "").startswith("/v2/models/"):
            return await self.app(scope, receive, send)
        asked = None
        path = scope["path"]
        match = _VERSIONED.match(path)
        if match:
            asked, path = match.group(2), match.group(1) + (match.group(3) or "")
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        versions = [v for k, v in query if k == "model_version"]
        if versions:
            asked = asked or versions[0]
            query = [(k, v) for k, v in query if k != "model_version"]
        if asked is None:
            return await self.app(scope, receive, send)
        served = self.served_version()
        if asked != served:
            body = json.dumps({"error": f"model_version: {asked!r} is not served here; serving {served!r}"}).encode()
            headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
            await send({"type": "http.response.start", "status": 404, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        scope = {**scope, "path": path, "raw_path": path.encode(), "query_string": urlencode(query).encode()}
        await self.app(scope, receive, send)
