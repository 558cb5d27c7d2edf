"""Load test of `nudges(cart)` through the API: a 10-line cart against a 5,000-product catalog.

Starts its own PostgreSQL and server, loads from a separate process (wrk, from Debian's
packages), targets 127.0.0.1 only, stops by itself, and writes bench/results/nudges.json and
nudges.md. Run it with `make bench-nudges` or `.venv/bin/python bench/nudges.py`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx
from common import ROOT, free_port, progress, start_server, wrk

from loyalty import service
from loyalty.domain.access import Role
from loyalty.embedded import EmbeddedPostgres
from loyalty.store.database import connect, create_pool
from loyalty.store.migrations import apply_migrations

RESULTS = ROOT / "bench" / "results"
PRODUCTS = 5_000
QUERY = """
query Nudges($cart: CartInput!) {
  nudges(cart: $cart) {
    ... on NudgeList { nudges { id kind message extraCost points change { replaceSku addSku } } }
    ... on InvalidInputError { field message }
  }
}
"""
LUA = """
wrk.method = "POST"
wrk.body = io.open("{body}"):read("*a")
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {key}"
function done(summary, latency, requests)
  io.write(string.format(
    "RESULT {{\\"requests\\": %d, \\"errors\\": %d, \\"seconds\\": %.3f, "
    .. "\\"p50_ms\\": %.3f, \\"p95_ms\\": %.3f, \\"p99_ms\\": %.3f}}\\n",
    summary.requests, summary.errors.status + summary.errors.connect + summary.errors.read
      + summary.errors.write + summary.errors.timeout,
    summary.duration / 1e6,
    latency:percentile(50) / 1e3, latency:percentile(95) / 1e3, latency:percentile(99) / 1e3))
end
"""


def catalog(rng: random.Random) -> list[service.ProductRow]:
    """Pizzas in 100 families of four sizes, and 4,600 other products in 46 categories."""
    products = []
    for family in range(100):
        for rank, size in enumerate(("S", "M", "L", "XL"), 1):
            price = 899 + 250 * (rank - 1) + rng.randint(0, 300)
            products.append(
                service.ProductRow(
                    f"PIZZA-{family:03d}-{size}",
                    f"Pizza {family} {size}",
                    "pizza",
                    f"pizza-{family:03d}",
                    rank,
                    price,
                )
            )
    categories = ["desserts", "drinks", "sides", "dips"] + [f"category-{n:02d}" for n in range(42)]
    for n in range(PRODUCTS - len(products)):
        category = categories[n % len(categories)]
        products.append(
            service.ProductRow(
                f"SKU-{n:05d}", f"Product {n}", category, None, None, rng.randint(99, 1999)
            )
        )
    return products


RULES: list[tuple[str, str, dict[str, Any]]] = [
    ("BASE_EARN", "Base", {"baseEarn": {"mode": "per_unit", "points": 1}}),
    (
        "UPSIZE",
        "Go large",
        {
            "upsize": {"category": "pizza", "minSizeRank": 3, "points": 20},
            "rebate": {"amountOff": 200, "minSpend": 1000},
        },
    ),
    (
        "ADD_ON",
        "Dessert",
        {
            "addOn": {
                "trigger": {"category": "pizza"},
                "addOn": {"category": "desserts"},
                "points": 15,
            }
        },
    ),
    (
        "SPEND_THRESHOLD",
        "Double",
        {"spendThreshold": {"threshold": 9000, "multiplierPercent": 200}},
    ),
    (
        "BUNDLE",
        "Meal deal",
        {
            "bundle": {
                "items": [{"category": "pizza"}, {"category": "sides"}, {"category": "drinks"}],
                "points": 25,
            }
        },
    ),
    ("PRODUCT_BONUS", "Dips", {"productBonus": {"target": {"category": "dips"}, "points": 5}}),
]


async def load(dsn: str) -> str:
    conn = await connect(dsn)
    try:
        await apply_migrations(conn)
        await conn.execute(
            "INSERT INTO program (id, name, currency, timezone) VALUES (1, 'Bench', 'EUR', 'UTC')"
            " ON CONFLICT DO NOTHING"
        )
    finally:
        await conn.close()
    pool = await create_pool(dsn)
    try:
        products = catalog(random.Random(7))
        for start in range(0, len(products), 1000):
            await service.upsert_products(pool, products[start : start + 1000])
        for kind, name, spec in RULES:
            await service.create_rule(pool, None, service.RuleDraft(kind, name, spec))
        return await service.create_api_key(pool, Role.POS, None, "bench")
    finally:
        await pool.close()


def ten_line_cart(customer: str) -> dict[str, Any]:
    """A medium pizza and nine other products, the same every run."""
    rng = random.Random(11)
    lines = [{"sku": f"PIZZA-{rng.randint(0, 99):03d}-M", "quantity": 1, "unitPrice": 1249}]
    lines += [
        {"sku": f"SKU-{rng.randint(0, 4599):05d}", "quantity": 1, "unitPrice": 299}
        for _ in range(9)
    ]
    return {"customerId": customer, "storeId": "S1", "lines": lines}


def cart_body(customers: int) -> dict[str, Any]:
    customer = f"bench-{random.Random(12).randint(0, customers)}"
    return {"query": QUERY, "variables": {"cart": ten_line_cart(customer)}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install wrk", file=sys.stderr)
        return 2
    root = Path(tempfile.mkdtemp(prefix="loyalty-bench-"))
    root.chmod(0o755)
    database = EmbeddedPostgres(root / "pgdata", database="bench")
    server = None
    try:
        progress(1, 5, "starting PostgreSQL")
        dsn = database.start()
        progress(2, 5, "loading 5,000 products and the rules")
        key = asyncio.run(load(dsn))
        port = free_port()
        progress(3, 5, "starting the server")
        server = start_server(dsn, port, workers=1)
        url = f"http://127.0.0.1:{port}"
        body = root / "body.json"
        body.write_text(json.dumps(cart_body(1000)))
        check = httpx.post(
            f"{url}/graphql",
            content=body.read_bytes(),
            timeout=10,
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        ).json()
        nudges = check["data"]["nudges"]["nudges"]
        assert nudges, check
        script = root / "nudges.lua"
        script.write_text(LUA.format(body=body, key=key))
        progress(4, 5, "1 client, one request at a time")
        single = wrk(f"{url}/graphql", script, 1, args.seconds)
        progress(5, 5, "16 clients")
        sixteen = wrk(f"{url}/graphql", script, 16, args.seconds)
        print(file=sys.stderr)
    finally:
        if server is not None:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
        database.stop()
        shutil.rmtree(root, ignore_errors=True)
    results = {
        "scenario": "nudges, 10-line cart, 5,000 products",
        "first_nudge": nudges[0],
        "runs": [single, sixteen],
        "cpus": os.cpu_count(),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "nudges.json").write_text(json.dumps(results, indent=2) + "\n")
    table = [
        "| clients | requests/s | p50 ms | p95 ms | p99 ms | errors |",
        "|---|---|---|---|---|---|",
    ]
    table += [
        f"| {r['connections']} | {r['rps']} | {r['p50_ms']:.2f} | {r['p95_ms']:.2f} | "
        f"{r['p99_ms']:.2f} | {r['errors']} |"
        for r in (single, sixteen)
    ]
    (RESULTS / "nudges.md").write_text("\n".join(table) + "\n")
    print("\n".join(table))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
