"""Which database failures a client is told to retry, and which are bugs to report."""

import asyncio

import asyncpg
import pytest

from loyalty.errors import UnavailableError
from loyalty.store.database import Pool, connect, connection, create_pool, transaction


async def test_a_connection_ended_mid_transaction_is_unavailable_and_the_pool_recovers(
    pool: Pool,
) -> None:
    with pytest.raises(UnavailableError):
        async with transaction(pool) as conn:
            await conn.execute("CREATE TEMPORARY TABLE doomed (n int)")
            pid = conn.get_server_pid()
            async with pool.acquire() as other:
                assert await other.fetchval("SELECT pg_terminate_backend($1)", pid)
            await asyncio.sleep(0.05)
            await conn.fetchval("SELECT 1")
    async with transaction(pool) as conn:
        assert await conn.fetchval("SELECT 1") == 1


async def test_connections_ended_while_idle_are_replaced(dsn: str, pool: Pool) -> None:
    served = await create_pool(dsn, min_size=3, max_size=3)
    try:
        await pool.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        await asyncio.sleep(0.05)
        for _ in range(3):
            async with connection(served) as conn:
                assert await conn.fetchval("SELECT 1") == 1
    finally:
        await served.close()


async def test_two_tasks_on_one_connection_are_a_bug_not_an_outage(pool: Pool) -> None:
    with pytest.raises(asyncpg.InterfaceError, match="another operation is in progress"):
        async with transaction(pool) as conn:
            await asyncio.gather(conn.execute("SELECT pg_sleep(0.1)"), conn.fetchval("SELECT 1"))


async def test_a_closed_pool_is_unavailable(dsn: str) -> None:
    closed = await create_pool(dsn, min_size=1, max_size=1)
    await closed.close()
    with pytest.raises(UnavailableError):
        async with connection(closed):
            pass


async def test_a_database_that_is_not_there_is_unavailable_but_a_bad_url_is_not() -> None:
    with pytest.raises(UnavailableError):
        await connect("postgresql://loyalty@/loyalty?host=/nonexistent-socket-dir&port=5432")
    with pytest.raises(asyncpg.ClientConfigurationError):
        await connect("postgresql://loyalty@/loyalty?host=/tmp&sslmode=sometimes")
