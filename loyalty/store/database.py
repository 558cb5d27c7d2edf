"""Connection pools, and turning an unreachable database into a retryable domain error."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TypeAlias

import asyncpg
import asyncpg.pool
import orjson

from loyalty.errors import UnavailableError

Connection: TypeAlias = (
    "asyncpg.Connection[asyncpg.Record] | asyncpg.pool.PoolConnectionProxy[asyncpg.Record]"
)
Pool: TypeAlias = "asyncpg.Pool[asyncpg.Record]"

UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (
    OSError,
    asyncpg.CannotConnectNowError,
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.InterfaceError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.TooManyConnectionsError,
)

PING_ERRORS: tuple[type[Exception], ...] = (TimeoutError, *UNAVAILABLE_ERRORS)


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
    try:
        async with pool.acquire() as conn, conn.transaction():
            yield conn
    except UNAVAILABLE_ERRORS as error:
        raise UnavailableError() from error


@asynccontextmanager
async def connection(pool: Pool) -> AsyncIterator[Connection]:
    """One pooled connection for reads that need no transaction."""
    try:
        async with pool.acquire() as conn:
            yield conn
    except UNAVAILABLE_ERRORS as error:
        raise UnavailableError() from error


async def ping(pool: Pool) -> bool:
    try:
        async with pool.acquire(timeout=2) as conn:
            return bool(await conn.fetchval("SELECT 1", timeout=2))
    except PING_ERRORS:
        return False
