"""Every migration applies to an empty database, once, even when processes race."""

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from loyalty.store.database import connect
from loyalty.store.migrations import apply_migrations, load_migrations
from tests.conftest import with_database


@pytest.fixture
async def empty_dsn(server_dsn: str) -> AsyncIterator[str]:
    admin = await asyncpg.connect(server_dsn)
    await admin.execute("DROP DATABASE IF EXISTS migration_test")
    await admin.execute("CREATE DATABASE migration_test")
    try:
        yield with_database(server_dsn, "migration_test")
    finally:
        await admin.execute("DROP DATABASE IF EXISTS migration_test WITH (FORCE)")
        await admin.close()


async def test_all_migrations_apply_once_even_concurrently(empty_dsn: str) -> None:
    expected = [m.name for m in load_migrations()]
    assert expected, "no migrations found"
    connections = [await connect(empty_dsn) for _ in range(4)]
    try:
        results = await asyncio.gather(*[apply_migrations(c) for c in connections])
        assert sorted(results, key=len)[-1] == expected
        assert sum(len(r) for r in results) == len(expected)
        assert await apply_migrations(connections[0]) == []
        recorded = await connections[0].fetch("SELECT name FROM schema_migrations ORDER BY 1")
        assert [r["name"] for r in recorded] == expected
        tables = {
            r["tablename"]
            for r in await connections[0].fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            )
        }
        assert {"accounts", "ledger_entries", "purchases", "idempotency_keys"} <= tables
    finally:
        for conn in connections:
            await conn.close()


# Keyed by something else on purpose: a retried request's key, a code a cashier types.
NOT_BY_CUSTOMER = {"idempotency_keys", "rebate_codes", "vouchers"}


async def test_customer_owned_tables_lead_with_customer_id(empty_dsn: str) -> None:
    conn = await connect(empty_dsn)
    try:
        await apply_migrations(conn)
        rows = await conn.fetch(
            """
            SELECT c.relname AS table_name,
                   (SELECT a.attname FROM pg_attribute a
                    WHERE a.attrelid = i.indrelid AND a.attnum = i.indkey[0]) AS first_key
            FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
            WHERE i.indisprimary AND c.relname IN (
                SELECT table_name FROM information_schema.columns
                WHERE table_schema = 'public' AND column_name = 'customer_id')
            """
        )
    finally:
        await conn.close()
    keys = {r["table_name"]: r["first_key"] for r in rows}
    assert {"accounts", "purchases", "ledger_entries", "rule_usage"} <= keys.keys()
    assert {t: k for t, k in keys.items() if t not in NOT_BY_CUSTOMER} == dict.fromkeys(
        keys.keys() - NOT_BY_CUSTOMER, "customer_id"
    )
