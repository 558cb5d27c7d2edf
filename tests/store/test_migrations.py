"""Every migration applies to an empty database, once, even when processes race."""

import asyncio
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import asyncpg
import pytest

from loyalty.service.rewards import customer_key
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


async def test_balances_from_before_lots_become_lots_and_purchases_count_toward_tiers(
    empty_dsn: str, tmp_path: Path
) -> None:
    """Upgrading a database that already holds points keeps every point spendable."""
    for migration in load_migrations():
        if migration.version < 9:
            (tmp_path / migration.name).write_text(migration.sql)
    conn = await connect(empty_dsn)
    try:
        await apply_migrations(conn, tmp_path)
        await conn.execute(
            """
            INSERT INTO program (id, name, currency, timezone)
                VALUES (1, 'P', 'EUR', 'Europe/Berlin');
            INSERT INTO accounts (customer_id, balance, lifetime_points)
                VALUES ('alice', 70, 70), ('bob', -5, 0), ('carol', 0, 0);
            INSERT INTO purchases (customer_id, id, store_id, transaction_id, channel, occurred_at,
                                   subtotal, points)
                VALUES ('alice', 1, 'S1', 'T1', 'pos', '2026-03-31 23:30:00+00', 7000, 70);
            INSERT INTO purchase_lines (customer_id, purchase_id, line_no, sku, quantity,
                                        unit_price, known, points, returned_quantity,
                                        reversed_points)
                VALUES ('alice', 1, 0, 'P10', 7, 1000, true, 70, 1, 10);
            """
        )
        later = [m.name for m in load_migrations() if m.version >= 9]
        assert await apply_migrations(conn) == later
        lots = await conn.fetch("SELECT customer_id, points, remaining, expires_at FROM point_lots")
        assert [tuple(row) for row in lots] == [("alice", 70, 70, None)]
        months = await conn.fetch("SELECT customer_id, month, points FROM qualifying_points")
        # 23:30 UTC on 31 March is already April in Berlin; the returned 10 points do not count.
        assert [tuple(row) for row in months] == [("alice", date(2026, 4, 1), 60)]
    finally:
        await conn.close()


async def test_reward_keys_stored_before_upgrade_still_replay(
    empty_dsn: str, tmp_path: Path
) -> None:
    """0011 moves redemption keys to their per-customer form; other scopes keep theirs."""
    for migration in load_migrations():
        if migration.version < 11:
            (tmp_path / migration.name).write_text(migration.sql)
    conn = await connect(empty_dsn)
    try:
        await apply_migrations(conn, tmp_path)
        await conn.execute(
            """
            INSERT INTO idempotency_keys (scope, key, customer_id, request_hash, result)
            VALUES ('reward', 'app-1', 'alice', '\\x00', '{}'),
                   ('adjust', 'ticket-9', 'alice', '\\x00', '{}')
            """
        )
        assert await apply_migrations(conn) == [
            m.name for m in load_migrations() if m.version >= 11
        ]
        keys = await conn.fetch("SELECT scope, key FROM idempotency_keys ORDER BY scope")
        assert [tuple(row) for row in keys] == [
            ("adjust", "ticket-9"),
            ("reward", customer_key("alice", "app-1")),
        ]
    finally:
        await conn.close()
