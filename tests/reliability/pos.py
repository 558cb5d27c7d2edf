"""Tills posting purchases to the service run as its own process, for the trials that break
things: the service, started and killed; the purchases, as a POS sends them; and what the
database holds for each one afterwards."""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from loyalty import service
from loyalty.domain.access import Role
from loyalty.store.database import Pool
from tests.support import JWT_SECRET

ROOT = Path(__file__).resolve().parents[2]
STORE = "S1"
CUSTOMERS = [f"member-{n}" for n in range(12)]
AN_HOUR_AGO = (datetime.now(UTC) - timedelta(hours=1)).isoformat()

RECORD = """
mutation Record($input: PurchaseInput!) {
  recordPurchase(input: $input) {
    __typename
    ... on PurchaseRecorded { pointsEarned replayed purchase { id } }
    ... on Error { code message }
  }
}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def open_program(pool: Pool, tills: int) -> list[str]:
    """Two products and one point per currency unit; returns a POS key for each till."""
    await service.upsert_products(
        pool,
        [
            service.ProductRow("PEPP-L", "Pepperoni Large", "pizza", "pepperoni", 3, 1499),
            service.ProductRow("COLA-05", "Cola 0.5 l", "drinks", None, None, 249),
        ],
    )
    base = {"baseEarn": {"mode": "per_unit", "points": 1}}
    await service.create_rule(pool, None, service.RuleDraft("BASE_EARN", "1 per 1.00", base))
    return [await service.create_api_key(pool, Role.POS, STORE, f"till {n}") for n in range(tills)]


def sale(transaction_id: str, rng: random.Random) -> dict[str, Any]:
    """A purchase earning 17 to 21 points, for one of a dozen customers."""
    return {
        "customerId": rng.choice(CUSTOMERS),
        "storeId": STORE,
        "transactionId": transaction_id,
        "occurredAt": AN_HOUR_AGO,
        "lines": [
            {"sku": "PEPP-L", "quantity": 1, "unitPrice": 1499},
            {"sku": "COLA-05", "quantity": rng.randint(1, 3), "unitPrice": 249},
        ],
    }


@dataclass(frozen=True)
class Answer:
    """What came back for one post: a status and body, or None when the connection failed."""

    status: int | None
    body: dict[str, Any]
    retry_after: str | None = None

    @property
    def recorded(self) -> dict[str, Any] | None:
        if self.status != 200:
            return None
        result: dict[str, Any] | None = (self.body.get("data") or {}).get("recordPurchase")
        return result if result and result["__typename"] == "PurchaseRecorded" else None

    def required(self) -> dict[str, Any]:
        """The PurchaseRecorded this answer must be."""
        recorded = self.recorded
        assert recorded is not None, self.describe()
        return recorded

    @property
    def code(self) -> str | None:
        errors = self.body.get("errors") or [{}]
        code: str | None = errors[0].get("extensions", {}).get("code")
        return code

    def describe(self) -> str:
        return f"{self.status} {self.code} retry-after={self.retry_after} {self.body}"


async def post_sale(client: httpx.AsyncClient, key: str, body: dict[str, Any]) -> Answer:
    try:
        response = await client.post(
            "/graphql",
            json={"query": RECORD, "variables": {"input": body}},
            headers={"Authorization": f"Bearer {key}"},
        )
    except httpx.TransportError as error:
        return Answer(None, {"transport": repr(error)})
    return Answer(response.status_code, response.json(), response.headers.get("retry-after"))


class Service:
    """`python -m loyalty serve` against one database, with its output kept in a file."""

    def __init__(self, dsn: str, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.env = {
            **os.environ,
            "LOYALTY_DATABASE_URL": dsn,
            "LOYALTY_PORT": str(self.port),
            "LOYALTY_ENV": "production",
            "LOYALTY_JWT_SECRET": JWT_SECRET,
            "LOYALTY_LIFECYCLE_SECONDS": "0",
            "LOYALTY_STATS_SECONDS": "0",
            "LOYALTY_LOG_LEVEL": "WARNING",
        }
        self.process: asyncio.subprocess.Process | None = None

    async def start(self, within: float = 60) -> float:
        """Start the service and wait until /readyz says yes; returns the seconds it took."""
        started = time.monotonic()
        with self.log.open("ab") as out:
            self.process = process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "loyalty",
                "serve",
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
            )
        async with httpx.AsyncClient(base_url=self.url, timeout=1) as client:
            while time.monotonic() - started < within:
                if process.returncode is not None:
                    raise AssertionError(f"the service exited at start:\n{self.output()}")
                try:
                    if (await client.get("/readyz")).status_code == 200:
                        return time.monotonic() - started
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)
        await self.halt()
        raise AssertionError(f"the service did not become ready:\n{self.output()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown, no rollback, no flush; the process is simply gone."""
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)

    async def halt(self) -> None:
        """Kill the service if it still runs, and wait for it to be gone."""
        self.kill()
        if self.process is not None:
            await self.process.wait()

    async def stop(self) -> int:
        """SIGTERM, as an orchestrator stops it; returns the exit code."""
        assert self.process is not None and self.process.returncode is None
        self.process.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.process.wait(), 30)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def verify(dsn: str) -> subprocess.CompletedProcess[str]:
    """`python -m loyalty verify`, as an operator runs it after an incident."""
    env = {**os.environ, "LOYALTY_DATABASE_URL": dsn, "LOYALTY_JWT_SECRET": JWT_SECRET}
    return subprocess.run(
        [sys.executable, "-m", "loyalty", "verify"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@dataclass(frozen=True)
class Stored:
    """One purchase row and everything a purchase writes beside it."""

    transaction_id: str
    customer_id: str
    purchase_id: int
    points: int
    lines: int
    entry_points: int
    lot_points: int
    events: int
    keyed: bool

    def whole(self, sent_lines: int) -> bool:
        return (
            self.points > 0
            and self.lines == sent_lines
            and self.entry_points == self.points
            and self.lot_points == self.points
            and self.events == 1
            and self.keyed
        )


STORED = """
SELECT p.transaction_id, p.customer_id, p.id AS purchase_id, p.points,
       (SELECT count(*) FROM purchase_lines l
         WHERE l.customer_id = p.customer_id AND l.purchase_id = p.id) AS lines,
       (SELECT coalesce(sum(e.points), 0) FROM ledger_entries e
         WHERE e.customer_id = p.customer_id AND e.purchase_id = p.id) AS entry_points,
       (SELECT coalesce(sum(t.points), 0) FROM point_lots t
         WHERE t.customer_id = p.customer_id AND t.purchase_id = p.id) AS lot_points,
       (SELECT count(*) FROM outbox o
         WHERE o.customer_id = p.customer_id AND o.payload->>'purchaseId' = p.id::text) AS events,
       EXISTS (SELECT FROM idempotency_keys k
         WHERE k.scope = 'purchase' AND k.key = p.store_id || chr(31) || p.transaction_id) AS keyed
FROM purchases p WHERE p.store_id = $1
"""


async def stored_purchases(pool: Pool) -> tuple[dict[str, Stored], Counter[str]]:
    """Each transaction's purchase as stored, and how many purchase rows each one has."""
    rows = [Stored(**dict(row)) for row in await pool.fetch(STORED, STORE)]
    return {row.transaction_id: row for row in rows}, Counter(r.transaction_id for r in rows)


async def orphans(pool: Pool) -> int:
    """Rows a purchase writes that point at no purchase: the halves of a half-written one."""
    value = await pool.fetchval(
        """
        SELECT (SELECT count(*) FROM idempotency_keys k WHERE k.scope = 'purchase'
                  AND NOT EXISTS (SELECT FROM purchases p
                                   WHERE k.key = p.store_id || chr(31) || p.transaction_id))
             + (SELECT count(*) FROM ledger_entries WHERE purchase_id IS NULL)
             + (SELECT count(*) FROM outbox o WHERE NOT EXISTS (
                  SELECT FROM purchases p WHERE o.customer_id = p.customer_id
                     AND o.payload->>'purchaseId' = p.id::text))
        """
    )
    return int(value)


class Numbers:
    """Transaction ids no two posts share, across every till and restart of one trial."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.counter = itertools.count(1)

    def next(self) -> str:
        return f"{self.prefix}-{next(self.counter):06d}"
