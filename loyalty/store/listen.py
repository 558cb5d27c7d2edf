"""A dedicated connection that LISTENs on a channel and reports notifications and loss."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from loyalty.errors import UnavailableError
from loyalty.store.database import UNAVAILABLE_ERRORS, Connection, connect


class Listener:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    async def close(self) -> None:
        if not self.conn.is_closed():
            await self.conn.close()


async def listen(
    dsn: str, channel: str, on_notify: Callable[[], None], on_lost: Callable[[], None]
) -> Listener:
    try:
        conn = await connect(dsn)
    except UNAVAILABLE_ERRORS as error:
        raise UnavailableError() from error

    def notified(*_: Any) -> None:
        on_notify()

    def lost(_: Any) -> None:
        on_lost()

    await conn.add_listener(channel, notified)
    conn.add_termination_listener(lost)
    return Listener(conn)


__all__ = ["Listener", "listen"]
