"""Costs stay flat as history grows: the purchase and balance paths read the same number of
rows for a customer with years of history as for a new one.

Every statement an operation runs is explained (EXPLAIN ANALYZE, inside a savepoint that is
rolled back) just before it runs, and the rows each plan node produced or filtered away are
added up. Two customers in the same state, one with a long history, must cost the same.
"""

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest

from loyalty import service
from loyalty.app import create_app
from loyalty.config import Settings
from loyalty.domain.access import Role
from loyalty.store.database import Pool
from tests.api.test_lifecycle import TIERS, bought, program
from tests.support import customer_token, gql, serving

EXPLAINABLE = ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")


class Meter:
    def __init__(self) -> None:
        self.rows = 0
        self.statements: list[tuple[int, str]] = []
        self.on = False


METER = Meter()


def rows_touched(node: dict[str, Any]) -> int:
    loops = int(node.get("Actual Loops", 1))
    own = int(node.get("Actual Rows", 0)) * loops
    own += int(node.get("Rows Removed by Filter", 0)) * loops
    own += int(node.get("Rows Removed by Index Recheck", 0)) * loops
    return own + sum(rows_touched(child) for child in node.get("Plans", []))


class ExplainingConnection(asyncpg.Connection):
    """Explains each statement with its arguments before running it, while the meter is on."""

    async def _explain(self, query: str, args: tuple[Any, ...]) -> None:
        single = ";" not in query.strip().rstrip(";")  # not the pool's multi-statement reset
        if not METER.on or not single or not query.lstrip().upper().startswith(EXPLAINABLE):
            return
        writes = not query.lstrip().upper().startswith("SELECT")
        if writes and not self.is_in_transaction():
            return
        explain = "EXPLAIN (ANALYZE, FORMAT JSON) " + query
        if self.is_in_transaction():
            async with self.transaction():  # a savepoint: the explained run is undone
                raise _Undo(await super().fetchval(explain, *args))
        plan = await super().fetchval(explain, *args)
        self._count(query, plan)

    def _count(self, query: str, plan: Any) -> None:
        tree = (json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]
        touched = rows_touched(tree)
        METER.rows += touched
        METER.statements.append((touched, " ".join(query.split())[:120]))

    async def _run_explained(self, query: str, args: tuple[Any, ...]) -> None:
        try:
            await self._explain(query, args)
        except _Undo as undone:
            self._count(query, undone.plan)

    async def execute(self, query: str, *args: Any, timeout: float | None = None) -> str:  # noqa: ASYNC109
        await self._run_explained(query, args)
        return await super().execute(query, *args, timeout=timeout)

    async def fetch(self, query: str, *args: Any, **kwargs: Any) -> Any:
        await self._run_explained(query, args)
        return await super().fetch(query, *args, **kwargs)

    async def fetchrow(self, query: str, *args: Any, **kwargs: Any) -> Any:
        await self._run_explained(query, args)
        return await super().fetchrow(query, *args, **kwargs)

    async def fetchval(self, query: str, *args: Any, **kwargs: Any) -> Any:
        await self._run_explained(query, args)
        return await super().fetchval(query, *args, **kwargs)


class _Undo(Exception):
    def __init__(self, plan: Any) -> None:
        self.plan = plan


async def _init(conn: Any) -> None:
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


@pytest.fixture
async def explaining(dsn: str) -> AsyncIterator[Pool]:
    pool = await asyncpg.create_pool(
        dsn, min_size=1, max_size=4, init=_init, connection_class=ExplainingConnection
    )
    assert pool is not None
    try:
        yield pool
    finally:
        await pool.close()


HISTORY = 3_000
SLACK = 25


async def long_history(pool: Pool, customer: str) -> None:
    """Years of spent, expired and returned history that no current operation needs."""
    await pool.execute(
        """
        INSERT INTO ledger_entries (customer_id, kind, points, balance_after, reason, created_at)
        SELECT $1, 'adjust', 1, 0, 'history', now() - interval '3 years' + k * interval '1 hour'
        FROM generate_series(1, $2) AS k
        """,
        customer,
        HISTORY,
    )
    await pool.execute(
        """
        INSERT INTO point_lots (customer_id, points, remaining, earned_at, available_at,
                                expires_at, expired)
        SELECT $1, 10, 0, now() - interval '3 years', now() - interval '3 years',
               now() - interval '2 years' + k * interval '1 hour', 10
        FROM generate_series(1, $2) AS k
        """,
        customer,
        HISTORY,
    )
    await pool.execute(
        """
        INSERT INTO qualifying_points (customer_id, month, points)
        SELECT $1, (date_trunc('month', now()) - k * interval '1 month')::date, 10
        FROM generate_series(24, 120) AS k
        """,
        customer,
    )
    await pool.execute(
        """
        INSERT INTO outbox (customer_id, kind, payload)
        SELECT $1, 'POINTS_EARNED', '{}'::jsonb FROM generate_series(1, $2)
        """,
        customer,
        HISTORY,
    )
    await pool.execute(
        """
        INSERT INTO idempotency_keys (scope, key, customer_id, request_hash, result)
        SELECT 'purchase', 'S9' || chr(31) || $1 || '-' || k, $1, '\\x00'::bytea, '{}'::jsonb
        FROM generate_series(1, $2) AS k
        """,
        customer,
        HISTORY,
    )
    await pool.execute("ANALYZE")


def cart(customer: str) -> service.Cart:
    lines = (service.CartLine("P10", 2, 1000),)
    return service.Cart("S1", "pos", datetime.now(UTC), lines, customer)


ME = """{ me { balance availablePoints pendingPoints debt expiring(first: 3) { points }
   tier { tier { name } progress } ledger(first: 10) { edges { node { points } } } } }"""


async def measure(
    client: httpx.AsyncClient, pool: Pool, customer: str, n: int, pos: str
) -> dict[str, int]:
    book = service.RuleBook(pool, None)
    await book.current()
    costs = {}
    now = datetime.now(UTC)
    METER.on = True
    try:
        for name, run in (
            (
                "recordPurchase",
                lambda: service.record_purchase(pool, book, bought(customer, n, now, 2), now=now),
            ),
            ("me", lambda: gql(client, ME, auth=customer_token(customer))),
            ("redeemReward", lambda: service.redeem_reward(pool, book, customer, 1, f"r{n}")),
            ("quote", lambda: service.quote(pool, book, cart(customer), now=now)),
        ):
            METER.rows = 0
            METER.statements = []
            await run()
            costs[name] = METER.rows
    finally:
        METER.on = False
    return costs


async def test_a_long_history_costs_nothing_on_the_purchase_and_balance_paths(
    explaining: Pool, pool: Pool, settings: Settings, dsn: str
) -> None:
    book = await program(pool, expiry_months=12)
    await service.set_tiers(
        pool,
        book,
        [service.Tier(t["name"], t["qualifyingPoints"], t["multiplierPercent"]) for t in TIERS],
        None,
    )
    await service.create_reward(pool, "Dip", "", 10)
    pos = await service.create_api_key(pool, Role.POS, None, "pos")
    now = datetime.now(UTC)
    for customer, first in (("new", 100), ("old", 200)):
        for n in range(3):  # the same recent state for both
            await service.record_purchase(pool, book, bought(customer, first + n, now, 1), now=now)
    await long_history(pool, "old")
    async with serving(create_app(settings, pool=explaining)) as client:
        new = await measure(client, explaining, "new", 1, pos)
        old = await measure(client, explaining, "old", 2, pos)
    # Plans may differ by a few rows between the two (their statistics differ); reading any of
    # the 3,000 rows of history would add thousands.
    for name, rows in new.items():
        assert old[name] <= rows + SLACK, (name, new, old)
    assert all(rows < 500 for rows in new.values()), new
