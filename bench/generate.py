"""A program to load-test: 5,000 products, 200 rules of every kind, customers with history.

The customers, their ledgers, lots and purchases are generated inside PostgreSQL with
set-based statements (one INSERT ... SELECT over generate_series per table, foreign-key
triggers off while it runs): a million customers with twenty million ledger entries take
minutes, not hours.

    .venv/bin/python bench/generate.py DSN [--scale small|large]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nudges import catalog

from loyalty import service
from loyalty.domain.access import Role
from loyalty.store.database import connect, create_pool
from loyalty.store.migrations import apply_migrations


@dataclass(frozen=True)
class Scale:
    name: str
    customers: int
    entries_per_customer: int  # ledger entries; lots, months and purchases follow


SCALES = {
    "small": Scale("small", 10_000, 20),
    "large": Scale("large", 1_000_000, 20),
}
RULES = 200
FIRST_ID = 1_000_000_000  # generated ids stand out from points and prices in captured SQL


def rule_specs(rng: random.Random) -> list[tuple[str, str, dict[str, Any]]]:
    """200 rules of every kind, shaped like a merchant's: a few base rules, many promotions."""
    specs: list[tuple[str, str, dict[str, Any]]] = [
        ("BASE_EARN", "1 point per 1.00", {"baseEarn": {"mode": "per_unit", "points": 1}}),
        (
            "BASE_EARN",
            "10 points an order from 5.00, once a day",
            {
                "baseEarn": {"mode": "per_order", "points": 10, "minSubtotal": 500},
                "caps": {"period": "day", "maxAwards": 1},
            },
        ),
    ]
    for n in range(30):
        spec: dict[str, Any] = {
            "upsize": {"category": "pizza", "minSizeRank": 3, "points": 10 + n % 20},
            "rebate": {"amountOff": 200, "minSpend": 1000},
            "conditions": {"stores": [f"S{1 + n % 5}"]},
        }
        if n % 9 == 0:
            spec["caps"] = {"budget": 10_000_000}
        specs.append(("UPSIZE", f"Go large {n}", spec))
    add_ons = ["desserts", "sides", "dips", "drinks"]
    for n in range(40):
        add_on = (
            {"category": add_ons[n % 4]} if n < 8 else {"sku": f"SKU-{rng.randint(0, 4599):05d}"}
        )
        spec = {"addOn": {"trigger": {"category": "pizza"}, "addOn": add_on, "points": 5 + n % 15}}
        if n % 5 == 0:
            spec["caps"] = {"period": "week", "maxAwards": 3}
        specs.append(("ADD_ON", f"Add-on {n}", spec))
    for n in range(10):
        specs.append(
            (
                "SPEND_THRESHOLD",
                f"Spend {30 + 10 * n}",
                {
                    "spendThreshold": {"threshold": 3000 + 1000 * n, "multiplierPercent": 150},
                    "caps": {"period": "day", "maxAwards": 1},
                },
            )
        )
    for n in range(30):
        items = [{"category": "pizza"}, {"category": add_ons[n % 4]}]
        other = rng.randint(0, 4599)
        while other % 46 < 4:  # a sku outside the bundle's categories (see nudges.catalog)
            other += 1
        items.append({"sku": f"SKU-{other:05d}"})
        specs.append(("BUNDLE", f"Bundle {n}", {"bundle": {"items": items, "points": 25}}))
    while len(specs) < RULES:
        n = len(specs)
        target = {"sku": f"SKU-{rng.randint(0, 4599):05d}"} if n % 4 else {"category": "dips"}
        specs.append(
            ("PRODUCT_BONUS", f"Promotion {n}", {"productBonus": {"target": target, "points": 5}})
        )
    return specs


CUSTOMERS_SQL = """
INSERT INTO accounts (customer_id, balance, lifetime_points, tier, created_at, updated_at)
SELECT 'bench-' || n, $2 * 10, $2 * 10,
       CASE WHEN n % 10 = 0 THEN 'Gold' WHEN n % 3 = 0 THEN 'Silver' ELSE NULL END,
       now() - interval '400 days', now()
FROM generate_series(0, $1 - 1) AS n
"""
ENTRIES_SQL = """
INSERT INTO ledger_entries (customer_id, kind, points, balance_after, reason, created_at)
SELECT 'bench-' || n, 'earn', 10, 10 * k, 'history', now() - (($2 - k) * interval '12 days')
FROM generate_series(0, $1 - 1) AS n, generate_series(1, $2) AS k
"""
LOTS_SQL = """
INSERT INTO point_lots (customer_id, points, remaining, earned_at, available_at, expires_at)
SELECT 'bench-' || n, $2 * 5, $2 * 5, now() - (k * interval '100 days'),
       now() - (k * interval '100 days'), now() + ((3 - k) * interval '100 days')
FROM generate_series(0, $1 - 1) AS n, generate_series(1, 2) AS k
"""
MONTHS_SQL = """
INSERT INTO qualifying_points (customer_id, month, points)
SELECT 'bench-' || n, (date_trunc('month', now()) - k * interval '1 month')::date, 40
FROM generate_series(0, $1 - 1) AS n, generate_series(0, 2) AS k
"""
PURCHASES_SQL = """
INSERT INTO purchases (customer_id, store_id, transaction_id, channel, occurred_at, subtotal,
                       points, created_at)
SELECT 'bench-' || n, 'S' || (1 + n % 5), 'hist-' || n || '-' || k, 'pos',
       now() - (k * interval '30 days'), 2500, 25, now() - (k * interval '30 days')
FROM generate_series(0, $1 - 1) AS n, generate_series(1, 4) AS k
"""
KEYS_SQL = """
INSERT INTO idempotency_keys (scope, key, customer_id, request_hash, result)
SELECT 'purchase', 'S' || (1 + n % 5) || chr(31) || 'hist-' || n || '-' || k, 'bench-' || n,
       '\\x00'::bytea, '{}'::jsonb
FROM generate_series(0, $1 - 1) AS n, generate_series(1, 4) AS k
"""
OUTBOX_SQL = """
INSERT INTO outbox (customer_id, kind, payload, created_at)
SELECT 'bench-' || n, 'POINTS_EARNED', '{"points": 25}'::jsonb, now() - (k * interval '30 days')
FROM generate_series(0, $1 - 1) AS n, generate_series(1, 4) AS k
"""


async def generate(dsn: str, scale: Scale, report: Callable[[str], None]) -> str:
    """Build the program and its customers; return a POS key."""
    conn = await connect(dsn)
    try:
        await apply_migrations(conn)
        await conn.execute(
            "INSERT INTO program (id, name, currency, timezone, expiry_months) "
            "VALUES (1, 'Bench', 'EUR', 'Europe/Warsaw', 12) ON CONFLICT DO NOTHING"
        )
        for table in ("ledger_entries", "point_lots", "purchases", "outbox", "returns"):
            await conn.execute(f"SELECT setval('{table}_id_seq', {FIRST_ID}, false)")
    finally:
        await conn.close()
    pool = await create_pool(dsn)
    try:
        report("5,000 products")
        products = catalog(random.Random(7))
        for start in range(0, len(products), 1000):
            await service.upsert_products(pool, products[start : start + 1000])
        await service.set_tiers(
            pool,
            None,
            [
                service.Tier("Member", 0, 100),
                service.Tier("Silver", 300, 125),
                service.Tier("Gold", 1000, 150),
            ],
            None,
        )
        report("200 rules")
        for kind, name, spec in rule_specs(random.Random(13)):
            await service.create_rule(pool, None, service.RuleDraft(kind, name, spec))
        await service.create_reward(pool, "Dip", "a dip of your choice", 10)
        key = await service.create_api_key(pool, Role.POS, None, "bench")
    finally:
        await pool.close()
    conn = await connect(dsn)
    try:
        await conn.execute("SET session_replication_role = replica")  # no FK checks per row
        steps = [
            ("accounts", CUSTOMERS_SQL, (scale.customers, scale.entries_per_customer)),
            ("ledger entries", ENTRIES_SQL, (scale.customers, scale.entries_per_customer)),
            ("lots", LOTS_SQL, (scale.customers, scale.entries_per_customer)),
            ("qualifying months", MONTHS_SQL, (scale.customers,)),
            ("purchases", PURCHASES_SQL, (scale.customers,)),
            ("idempotency keys", KEYS_SQL, (scale.customers,)),
            ("outbox", OUTBOX_SQL, (scale.customers,)),
        ]
        for what, sql, args in steps:
            report(f"{scale.customers:,} customers: {what}")
            await conn.execute(sql, *args, timeout=3600)
        report("analyze")
        await conn.execute("ANALYZE", timeout=3600)
    finally:
        await conn.close()
    return key


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dsn")
    parser.add_argument("--scale", choices=list(SCALES), default="small")
    args = parser.parse_args()
    started = time.monotonic()
    asyncio.run(generate(args.dsn, SCALES[args.scale], lambda what: print(what, file=sys.stderr)))
    print(f"generated in {time.monotonic() - started:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
