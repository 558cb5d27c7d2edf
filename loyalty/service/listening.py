"""A LISTEN kept open: when its connection drops, it reconnects once a second until it is back."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from loyalty.errors import UnavailableError
from loyalty.store.listen import Listener, listen

log = logging.getLogger("loyalty.listen")
RECONNECT_SECONDS = 1.0


class KeptListener:
    """Calls on_notify with each payload; on_back after every (re)connection, so its owner can
    catch up on what was said while nobody listened; on_lost when the connection drops."""

    def __init__(
        self,
        dsn: str,
        channel: str,
        on_notify: Callable[[str], None],
        on_back: Callable[[], None],
        on_lost: Callable[[], None] = lambda: None,
    ) -> None:
        self.dsn = dsn
        self.channel = channel
        self.on_notify = on_notify
        self.on_back = on_back
        self.on_lost = on_lost
        self.listener: Listener | None = None
        self.reconnecting: asyncio.Task[None] | None = None
        self.closing = False

    @property
    def listening(self) -> bool:
        return self.listener is not None

    async def start(self) -> None:
        await self._listen()

    async def close(self) -> None:
        self.closing = True
        if self.reconnecting is not None:
            self.reconnecting.cancel()
        if self.listener is not None:
            await self.listener.close()
            self.listener = None

    async def _listen(self) -> None:
        try:
            self.listener = await listen(self.dsn, self.channel, self.on_notify, self._lost)
        except UnavailableError:
            self._lost()
            return
        self.on_back()

    def _lost(self) -> None:
        self.listener = None
        if self.closing:
            return
        self.on_lost()
        if self.reconnecting is None or self.reconnecting.done():
            self.reconnecting = asyncio.get_running_loop().create_task(self._reconnect())

    async def _reconnect(self) -> None:
        while self.listener is None and not self.closing:
            await asyncio.sleep(RECONNECT_SECONDS)
            try:
                await self._listen()
            except Exception:
                log.exception("cannot LISTEN on %s yet; trying again in a second", self.channel)
