"""One structured log line per request, and a cap on request bodies."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from loyalty.metrics import Metrics

log = logging.getLogger("loyalty.request")
PLAIN_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/graphql"})


class RequestGuard:
    """Refuses bodies over max_body_bytes before they are read, and logs every request."""

    def __init__(self, app: ASGIApp, max_body_bytes: int, metrics: Metrics | None = None) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500}

        async def send_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            # The whole body is read here, before the app sees it: a GraphQL request is small,
            # and a large one, declared or chunked, is refused before anything is parsed.
            body = await self._read_body(scope, receive)
            if body is None:
                await self._refuse(send_status)
            else:
                await self.app(scope, _replay(body, receive), send_status)
        finally:
            self._log(scope, status["code"], time.perf_counter() - started)

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes | None:
        if self._declared_length(scope) > self.max_body_bytes:
            return None
        chunks = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    def _declared_length(self, scope: Scope) -> int:
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    return int(value)
                except ValueError:
                    return 0
        return 0

    async def _refuse(self, send: Send) -> None:
        body = json.dumps(
            {
                "errors": [
                    {
                        "message": f"request body is larger than {self.max_body_bytes} bytes",
                        "extensions": {"code": "PAYLOAD_TOO_LARGE"},
                    }
                ]
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})

    def _log(self, scope: Scope, status: int, seconds: float) -> None:
        state: dict[str, Any] = scope.get("state", {})
        line = {
            "method": scope["method"],
            "path": scope["path"],
            "status": status,
            "ms": round(seconds * 1000, 2),
            "operation": state.get("operation"),
            "outcome": state.get("outcome") or ("ok" if status < 400 else "error"),
        }
        log.info(json.dumps(line))
        if self.metrics is not None:
            path = scope["path"]
            operation = state.get("field") or (path if path in PLAIN_PATHS else "other")
            self.metrics.observe(operation, line["outcome"], seconds)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
