"""Connection pools, and turning an unreachable database into a retryable domain error."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import TypeAlias

import asyncpg
import asyncpg.pool
import orjson

from loyalty.errors import UnavailableError

Connection: TypeAlias = (
    "asyncpg.Connection[asyncpg.Record] | asyncpg.pool.PoolConnectionProxy[asyncpg.Record]"
)
Pool: TypeAlias = "asyncpg.Pool[asyncpg.Record]"

# What a database that is down, restarting or full raises. An InterfaceError is not here: it
# is a lost connection only when the connection is in fact closed, see _lost_is_unavailable.
UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (
    OSError,  # refused, reset, no socket, timed out
    asyncpg.PostgresConnectionError,  # 08xxx: the connection failed or no longer exists
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.TooManyConnectionsError,
)

PING_ERRORS: tuple[type[Exception], ...] = (
    UnavailableError,
    *UNAVAILABLE_ERRORS,
    asyncpg.InterfaceError,
)


def _dumps(value: object) -> str:
    return orjson.dumps(value).decode()


async def _init_connection(conn: Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=_dumps, decoder=orjson.loads, schema="pg_catalog")


async def _reset_connection(conn: Connection) -> None:
    """What a connection needs before it goes back to the pool: no open transaction.

    The service sets no session state on pooled connections (no SET, LISTEN or session
    advisory locks; those live on the listener's own connection), so asyncpg's full reset, a
    round trip of four statements on every release, buys nothing.
    """
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")


async def create_pool(dsn: str, *, min_size: int = 2, max_size: int = 10) -> Pool:
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        init=_init_connection,
        reset=_reset_connection,
        command_timeout=30,
    )
    assert pool is not None
    return pool


async def connect(dsn: str) -> Connection:
    try:
        conn: Connection = await asyncpg.connect(dsn, timeout=10)
    except UNAVAILABLE_ERRORS as error:
        raise UnavailableError() from error
    await _init_connection(conn)
    return conn


@asynccontextmanager
async def transaction(pool: Pool) -> AsyncIterator[Connection]:
    """One pooled connection and one transaction: the unit of work of a use case."""
    async with _pooled(pool) as conn, _lost_is_unavailable(conn), conn.transaction():
        yield conn


@asynccontextmanager
async def connection(pool: Pool) -> AsyncIterator[Connection]:
    """One pooled connection for reads that need no transaction."""
    async with _pooled(pool) as conn, _lost_is_unavailable(conn):
        yield conn


@asynccontextmanager
async def _pooled(pool: Pool) -> AsyncIterator[Connection]:
    try:
        async with pool.acquire() as conn:
            yield conn
    except UNAVAILABLE_ERRORS as error:
        raise UnavailableError() from error
    except asyncpg.InterfaceError as error:
        if pool.is_closing():  # the process is stopping, or the pool was closed under us
            raise UnavailableError() from error
        raise


@asynccontextmanager
async def _lost_is_unavailable(conn: Connection) -> AsyncIterator[None]:
    """A connection the database dropped is an outage; a connection misused is a bug.

    asyncpg says "connection is closed" with an InterfaceError when the database went away,
    but also "another operation is in progress" when two tasks share a connection: that bug
    must reach the error log as one rather than reach the client as an outage.
    """
    try:
        yield
    except asyncpg.InterfaceError as error:
        if _closed(conn):
            raise UnavailableError() from error
        raise
    except asyncpg.InternalClientError as error:
        # A shutdown's FATAL that reached an idle connection before the socket closed leaves
        # its protocol stuck mid-error; the next statement then fails with this. It is the
        # same dropped connection, seen early: discard it, and the retry gets a fresh one.
        with suppress(asyncpg.InterfaceError):
            conn.terminate()
        raise UnavailableError() from error


def _closed(conn: Connection) -> bool:
    try:
        return conn.is_closed()
    except asyncpg.InterfaceError:
        return True  # released back to the pool mid-use: the pool does that when it closes


async def ping(pool: Pool) -> bool:
    try:
        async with pool.acquire(timeout=2) as conn, _lost_is_unavailable(conn):
            return bool(await conn.fetchval("SELECT 1", timeout=2))
    except PING_ERRORS:
        return False
