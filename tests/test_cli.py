"""The command line, run as a user runs it, against a real database."""

import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from loyalty import service
from loyalty.store.database import Pool
from tests.api.test_lifecycle import bought, program

ROOT = Path(__file__).resolve().parents[1]


def loyalty(dsn: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LOYALTY_DATABASE_URL": dsn, "LOYALTY_ENV": "production"}
    env.pop("LOYALTY_JWT_SECRET", None)
    return subprocess.run(
        [sys.executable, "-m", "loyalty", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_apikey_create_prints_only_the_key_and_stores_a_hash(dsn: str, pool: Pool) -> None:
    done = loyalty(dsn, "apikey", "create", "--role", "pos", "--store", "S1")
    assert done.returncode == 0, done.stderr
    key = done.stdout.strip()
    assert done.stdout == key + "\n"
    principal = await service.principal_for_api_key(pool, key)
    assert principal is not None
    assert (principal.role.value, principal.store_id) == ("pos", "S1")
    stored = await pool.fetchrow("SELECT prefix, secret_hash FROM api_keys")
    assert stored is not None
    assert key.split("_", 2)[2].encode() not in bytes(stored["secret_hash"])
    assert key.split("_", 2)[2] not in str(dict(stored))


async def test_verify_passes_on_a_sound_ledger_and_reports_a_broken_one(
    dsn: str, pool: Pool
) -> None:
    await service.adjust_points(
        pool,
        service.RuleBook(pool, None),
        customer_id="alice",
        points=10,
        reason="gift",
        idempotency_key="g1",
    )
    good = loyalty(dsn, "verify")
    assert good.returncode == 0, good.stdout + good.stderr
    assert "verified" in good.stdout
    await pool.execute("UPDATE accounts SET balance = 999 WHERE customer_id = 'alice'")
    await pool.execute("INSERT INTO accounts (customer_id, balance) VALUES ('bob', -5)")
    bad = loyalty(dsn, "verify")
    assert bad.returncode == 1
    assert "customer alice: balance 999, entries add up to 10" in bad.stdout
    assert "customer bob: balance -5" in bad.stdout
    assert dsn not in bad.stdout + bad.stderr


async def test_migrate_is_a_no_op_on_a_migrated_database(dsn: str) -> None:
    done = loyalty(dsn, "migrate")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "nothing to apply"


def test_the_committed_schema_matches_the_code() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "loyalty", "export-schema", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr


async def test_verify_finds_purchases_without_entries_and_unallowed_debts(
    dsn: str, pool: Pool
) -> None:
    await pool.execute("INSERT INTO accounts (customer_id, balance) VALUES ('carol', 5)")
    await pool.execute(
        """
        INSERT INTO purchases (customer_id, store_id, transaction_id, channel, occurred_at,
                               subtotal, points)
        VALUES ('carol', 'S1', 'T1', 'pos', now(), 500, 5)
        """
    )
    await pool.execute(
        """
        INSERT INTO ledger_entries (customer_id, kind, points, balance_after, reason)
        VALUES ('carol', 'adjust', 5, 5, 'gift'), ('carol', 'adjust', -3, -3, 'taken')
        """
    )
    await pool.execute("UPDATE accounts SET balance = 2 WHERE customer_id = 'carol'")
    report = loyalty(dsn, "verify")
    assert report.returncode == 1
    assert "every purchase has its entries" in report.stdout
    assert "earned 5, its entries add up to 0" in report.stdout
    assert "no negative balance without an allowed debt" in report.stdout
    assert "took 3 points down to -3" in report.stdout
    assert "each entry's balance follows from the ones before" in report.stdout


async def test_expire_expires_points_once_however_often_it_runs(dsn: str, pool: Pool) -> None:
    book = await program(pool, expiry_months=1)
    long_ago = datetime.now(UTC) - timedelta(days=70)
    request = bought("alice", 1, long_ago, qty=2)
    await service.record_purchase(pool, book, request, now=long_ago + timedelta(minutes=1))
    first = loyalty(dsn, "expire")
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("expired 20 points in 1 entries for 1 customers")
    second = loyalty(dsn, "expire")
    assert second.stdout.startswith("expired 0 points in 0 entries for 0 customers")
    assert await pool.fetchval("SELECT balance FROM accounts") == 0
    assert loyalty(dsn, "verify").returncode == 0


def test_serve_with_two_workers_answers_and_stops_on_sigterm(dsn: str) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "LOYALTY_DATABASE_URL": dsn,
        "LOYALTY_ENV": "production",
        "LOYALTY_JWT_SECRET": "x" * 40,
        "LOYALTY_PORT": str(port),
        "LOYALTY_WORKERS": "2",
        "LOYALTY_STATS_SECONDS": "0",
        "LOYALTY_LIFECYCLE_SECONDS": "0",
    }
    server = subprocess.Popen([sys.executable, "-m", "loyalty", "serve"], cwd=ROOT, env=env)
    try:
        children: set[int] = set()
        for _ in range(100):
            children = {
                int(pid)
                for pid in Path(f"/proc/{server.pid}/task/{server.pid}/children")
                .read_text()
                .split()
            }
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1)
                if ready.status_code == 200 and len(children) == 2:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        assert len(children) == 2
        answers = [httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5) for _ in range(20)]
        assert {a.status_code for a in answers} == {200}
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=20) == 0
        assert not any(Path(f"/proc/{pid}").exists() for pid in children)
    finally:
        if server.poll() is None:
            server.kill()
