"""A backup made with pg_dump restores into a fresh database whose ledger verifies."""

import os
import subprocess
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from loyalty import service
from loyalty.embedded import find_pg_bindir
from loyalty.store.database import Pool, create_pool
from tests.api.test_lifecycle import bought, program
from tests.conftest import with_database

LEDGER = "SELECT customer_id, kind, points, balance_after FROM ledger_entries ORDER BY id"
LOTS = "SELECT customer_id, points, remaining, expires_at FROM point_lots ORDER BY id"


def tool(name: str) -> str:
    bindir = find_pg_bindir()
    if bindir is None or not (bindir / name).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{name} is missing: CI must test backups")
        pytest.skip(f"{name} is not installed")
    return str(bindir / name)


def run(*command: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


@pytest.fixture
async def restored_dsn(server_dsn: str) -> AsyncIterator[str]:
    admin = await asyncpg.connect(server_dsn)
    await admin.execute("DROP DATABASE IF EXISTS restored")
    await admin.execute("CREATE DATABASE restored")
    try:
        yield with_database(server_dsn, "restored")
    finally:
        await admin.execute("DROP DATABASE IF EXISTS restored WITH (FORCE)")
        await admin.close()


async def test_a_dump_restores_into_a_fresh_database_that_verifies(
    pool: Pool, dsn: str, restored_dsn: str, tmp_path: Path
) -> None:
    book = await program(pool, expiry_months=12, pending_days=7)
    now = datetime.now(UTC)
    for n in range(5):
        at = now - timedelta(days=n)
        await service.record_purchase(pool, book, bought(f"c{n % 2}", n, at, 1 + n), now=now)
    await service.record_return(pool, book, service.ReturnRequest("S1", "T4", "R1", (("P10", 2),)))
    await service.adjust_points(
        pool, book, customer_id="c1", points=-5, reason="fix", idempotency_key="a1"
    )
    dump = tmp_path / "loyalty.dump"
    run(tool("pg_dump"), "--format=custom", f"--file={dump}", dsn)
    run(tool("pg_restore"), "--no-owner", f"--dbname={restored_dsn}", str(dump))
    restored = await create_pool(restored_dsn, min_size=1, max_size=2)
    try:
        assert await service.verify_ledger(restored) == []
        assert await restored.fetch(LEDGER) == await pool.fetch(LEDGER)
        assert await restored.fetch(LOTS) == await pool.fetch(LOTS)
        # The restored service carries on: its sequences continue past the restored rows.
        again = service.RuleBook(restored, None)
        after = await service.record_purchase(restored, again, bought("c0", 99, now), now=now)
        assert after.purchase.id > max(
            r["id"] for r in await pool.fetch("SELECT id FROM purchases")
        )
        assert await service.verify_ledger(restored) == []
    finally:
        await restored.close()
