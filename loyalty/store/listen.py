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
    dsn: str, channel: str, on_notify: Callable[[str], None], on_lost: Callable[[], None]
) -> Listener:
    """A connection that calls on_notify with each notification's payload."""
    try:
        conn = await connect(dsn)
    except UNAVAILABLE_ERRORS as error:
        raise UnavailableError() from error

    def notified(_conn: object, _pid: int, _channel: str, payload: object) -> None:
        on_notify(str(payload))

    def lost(_: Any) -> None:
        on_lost()

    try:
        await conn.add_listener(channel, notified)
    except BaseException:
        await conn.close()
        raise
    conn.add_termination_listener(lost)
    return Listener(conn)


__all__ = ["Listener", "listen"]
