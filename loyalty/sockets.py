"""Limits on live connections: how many one client may hold open, and how many in all."""

from __future__ import annotations

from collections import Counter

from starlette.types import ASGIApp, Receive, Scope, Send

TRY_AGAIN_LATER = 1013  # the websocket close code for a server that is too busy


class SocketLimit:
    """Refuses a websocket beyond max_per_client from one address, or beyond max_total in this
    process (0: no limit). A refused socket is accepted and closed at once with 1013 and a
    reason, since a socket refused during the handshake tells the client nothing."""

    def __init__(self, app: ASGIApp, max_total: int, max_per_client: int) -> None:
        self.app = app
        self.max_total = max_total
        self.max_per_client = max_per_client
        self.by_client: Counter[str] = Counter()
        self.total = 0

    def refusal(self, client: str) -> str | None:
        if self.max_total and self.total >= self.max_total:
            return f"this server holds its limit of live connections ({self.max_total})"
        if self.max_per_client and self.by_client[client] >= self.max_per_client:
            return f"this address holds its limit of live connections ({self.max_per_client})"
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return
        client = scope["client"][0] if scope.get("client") else "unknown"
        reason = self.refusal(client)
        if reason is not None:
            await receive()  # websocket.connect
            protocols = scope.get("subprotocols") or [None]
            await send({"type": "websocket.accept", "subprotocol": protocols[0]})
            await send({"type": "websocket.close", "code": TRY_AGAIN_LATER, "reason": reason})
            return
        self.total += 1
        self.by_client[client] += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.total -= 1
            self.by_client[client] -= 1
            if not self.by_client[client]:
                del self.by_client[client]
