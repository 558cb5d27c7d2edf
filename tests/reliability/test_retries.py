"""Retries: clients that give up early, wait a random while and send again, sometimes twice at
once, still get each purchase, return, redemption and adjustment applied exactly once."""

from __future__ import annotations

import asyncio
import copy
import itertools
import os
import random
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx

from loyalty import service
from loyalty.domain.codes import shown
from loyalty.store.database import Pool
from tests.api.test_admin import ADJUST
from tests.api.test_nudges import program
from tests.api.test_returns import RETURN
from tests.api.test_rewards import REDEEM, reward
from tests.reliability.conftest import Trial, scale
from tests.support import customer_token

RECORD = """
mutation Record($input: PurchaseInput!) {
  recordPurchase(input: $input) {
    __typename
    ... on PurchaseRecorded { purchase { id customerId } pointsEarned balance replayed }
    ... on Error { code message }
  }
}
"""

AT = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
PRICES = {"PEPP-M": 1249, "PEPP-L": 1499, "MARG-XL": 1649, "WINGS-6": 599, "LAVA-CAKE": 499}
STORES = ("S1", "S2")
CLIENTS = 16
DUPLICATE_RATE = 0.1  # sent twice at once, as a till with two network paths might
CONFLICT_RATE = 0.03  # the key sent again with other content, once the first has its answer
SHORT_TIMEOUT_RATE = 0.35  # halved on each retry, so an operation ends
LONG_TIMEOUT = 30.0
COST = 25

# The answers each mutation may give for a well-formed request; anything else fails the test.
SETTLED = {
    "recordPurchase": {"PurchaseRecorded"},
    "recordReturn": {"ReturnRecorded"},
    "redeemReward": {"RewardRedeemed", "InsufficientPointsError"},
    "adjustPoints": {"PointsAdjusted", "InsufficientPointsError"},
}
SCOPES = {
    "recordPurchase": "purchase",
    "recordReturn": "return",
    "redeemReward": "reward",
    "adjustPoints": "adjust",
}


def seed_of_run() -> int:
    """LOYALTY_SEED replays a run; CI uses a fixed one, a developer's run a new one each time."""
    given = os.environ.get("LOYALTY_SEED")
    if given:
        return int(given)
    return 20240611 if os.environ.get("CI") else random.randrange(2**32)


@dataclass
class Operation:
    mutation: str
    key: str
    customer: str
    query: str
    variables: dict[str, Any]
    auth: str
    answers: list[dict[str, Any]] = field(default_factory=list)

    @property
    def answer(self) -> dict[str, Any]:
        """The first definitive answer: every later one must say the same."""
        return self.answers[0]


@dataclass
class Sold:
    store: str
    transaction_id: str
    left: dict[str, int]  # units not yet sent back, by sku


@dataclass
class Traffic:
    http: httpx.AsyncClient
    pos_key: str
    admin_key: str
    rewards: tuple[str, str]
    customers: list[str]
    target: int
    sent: int = 0
    timeouts: int = 0
    dropped: int = 0
    duplicates: int = 0
    operations: list[Operation] = field(default_factory=list)
    conflicts: list[Operation] = field(default_factory=list)
    returnable: list[Sold] = field(default_factory=list)
    numbers: itertools.count[int] = field(default_factory=itertools.count)

    async def client(self, rng: random.Random) -> None:
        """One client: an operation at a time, each sent until it has a definitive answer."""
        while self.sent < self.target:
            operation = self.next_operation(rng)
            await self.settle(operation, rng)
            self.operations.append(operation)
            if operation.answer["__typename"] == "PurchaseRecorded":
                self.returnable.append(self.sold(operation))
            if rng.random() < CONFLICT_RATE:
                other = self.conflicting(operation)
                await self.settle(other, rng)
                self.conflicts.append(other)

    async def settle(self, operation: Operation, rng: random.Random) -> None:
        for attempt in itertools.count():
            copies = 2 if rng.random() < DUPLICATE_RATE else 1
            self.duplicates += copies - 1
            timeouts = [self.timeout(rng, attempt) for _ in range(copies)]
            await asyncio.gather(*[self.send(operation, t) for t in timeouts])
            if operation.answers:
                return
            await asyncio.sleep(rng.uniform(0, 0.01 * 2 ** min(attempt, 5)))

    @staticmethod
    def timeout(rng: random.Random, attempt: int) -> float:
        if rng.random() < SHORT_TIMEOUT_RATE / 2**attempt:
            return rng.uniform(0.002, 0.08)
        return LONG_TIMEOUT

    async def send(self, operation: Operation, patience: float) -> None:
        self.sent += 1
        try:
            response = await self.http.post(
                "/graphql",
                json={"query": operation.query, "variables": operation.variables},
                headers={"Authorization": f"Bearer {operation.auth}"},
                timeout=patience,
            )
        except httpx.TimeoutException:
            self.timeouts += 1
            return
        except httpx.TransportError:
            self.dropped += 1
            return
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body
        operation.answers.append(body["data"][operation.mutation])

    def next_operation(self, rng: random.Random) -> Operation:
        n = next(self.numbers)
        customer = rng.choice(self.customers)
        roll = rng.random()
        if roll < 0.25 and self.returnable:
            return self.give_back(rng, n)
        if roll < 0.45:
            return self.redeem(rng, n, customer)
        if roll < 0.65:
            return self.adjust(rng, n, customer)
        return self.purchase(rng, n, customer)

    def purchase(self, rng: random.Random, n: int, customer: str) -> Operation:
        skus = rng.sample(sorted(PRICES), rng.randint(1, 2))
        lines = [{"sku": s, "quantity": rng.randint(1, 3), "unitPrice": PRICES[s]} for s in skus]
        store = rng.choice(STORES)
        body = {
            "customerId": customer,
            "storeId": store,
            "transactionId": f"T{n}",
            "occurredAt": AT,
            "lines": lines,
        }
        return Operation(
            "recordPurchase", f"{store}/T{n}", customer, RECORD, {"input": body}, self.pos_key
        )

    def sold(self, operation: Operation) -> Sold:
        body = operation.variables["input"]
        left = {line["sku"]: line["quantity"] for line in body["lines"]}
        return Sold(body["storeId"], body["transactionId"], left)

    def give_back(self, rng: random.Random, n: int) -> Operation:
        """A return of units no other return has taken: each one must succeed."""
        sold = rng.choice(self.returnable)
        skus = [sku for sku, left in sold.left.items() if left]
        lines = []
        for sku in rng.sample(skus, rng.randint(1, len(skus))):
            quantity = rng.randint(1, sold.left[sku])
            sold.left[sku] -= quantity
            lines.append({"sku": sku, "quantity": quantity})
        if not any(sold.left.values()):
            self.returnable.remove(sold)
        body = {
            "storeId": sold.store,
            "transactionId": sold.transaction_id,
            "returnId": f"R{n}",
            "lines": lines,
        }
        key = f"{sold.store}/R{n}"
        return Operation("recordReturn", key, "", RETURN, {"input": body}, self.pos_key)

    def redeem(self, rng: random.Random, n: int, customer: str) -> Operation:
        by_app = rng.random() < 0.5
        variables = {
            "reward": self.rewards[0],
            "key": f"K{n}",
            "customer": None if by_app else customer,
        }
        auth = customer_token(customer) if by_app else self.pos_key
        return Operation("redeemReward", f"K{n}", customer, REDEEM, variables, auth)

    def adjust(self, rng: random.Random, n: int, customer: str) -> Operation:
        points = rng.choice([-60, -25, -5, 10, 30, 45, 80])
        body = {
            "customerId": customer,
            "points": points,
            "reason": "goodwill",
            "idempotencyKey": f"A{n}",
        }
        return Operation("adjustPoints", f"A{n}", customer, ADJUST, {"input": body}, self.admin_key)

    def conflicting(self, operation: Operation) -> Operation:
        """The same key with other content, as a till that reuses its transaction ids would."""
        variables = copy.deepcopy(operation.variables)
        if operation.mutation in ("recordPurchase", "recordReturn"):
            variables["input"]["lines"][0]["quantity"] += 1
        elif operation.mutation == "redeemReward":
            variables["reward"] = self.rewards[1]
        else:
            points = variables["input"]["points"]
            variables["input"]["points"] = points + (1 if points > 0 else -1)
        return replace(operation, variables=variables, answers=[])


def check_answers(operations: list[Operation]) -> None:
    """Every answer to a key says what its first definitive answer said, and at most one of
    them did the work."""
    for operation in operations:
        seen = (operation.key, operation.answers)
        first = without_replayed(operation.answer)
        assert first["__typename"] in SETTLED[operation.mutation], seen
        for later in operation.answers[1:]:
            assert without_replayed(later) == first, seen
        did_work = [a for a in operation.answers if a.get("replayed") is False]
        assert len(did_work) <= 1, seen


def without_replayed(answer: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in answer.items() if name != "replayed"}


def balances_from_answers(operations: list[Operation]) -> dict[str, int]:
    expected: Counter[str] = Counter()
    for operation in operations:
        answer = operation.answer
        kind = answer["__typename"]
        if kind == "PurchaseRecorded":
            expected[answer["purchase"]["customerId"]] += answer["pointsEarned"]
        elif kind == "ReturnRecorded":
            expected[answer["customerId"]] -= answer["pointsReversed"]
        elif kind == "RewardRedeemed":
            expected[operation.customer] -= answer["voucher"]["pointsCost"]
        elif kind == "PointsAdjusted":
            expected[operation.customer] += answer["entry"]["points"]
        else:
            expected[operation.customer] += 0  # refused: the account is opened, not changed
    return dict(expected)


def answered(operations: list[Operation], kind: str) -> list[dict[str, Any]]:
    return [o.answer for o in operations if o.answer["__typename"] == kind]


def one_per_key(rows: list[asyncpg.Record], *columns: str) -> dict[str, asyncpg.Record]:
    """Rows by their idempotency key, as Operation.key spells it; a key twice fails."""
    keyed = {"/".join(str(row[c]) for c in columns): row for row in rows}
    assert len(keyed) == len(rows), "one key was applied more than once"
    return keyed


async def check_database(pool: Pool, operations: list[Operation]) -> None:
    """Exactly once, as the database has it: one row per key, and nothing the answers lack."""
    purchases = one_per_key(
        await pool.fetch("SELECT store_id, transaction_id, id, points FROM purchases"),
        "store_id",
        "transaction_id",
    )
    assert {key: (str(row["id"]), row["points"]) for key, row in purchases.items()} == {
        o.key: (o.answer["purchase"]["id"], o.answer["pointsEarned"])
        for o in operations
        if o.mutation == "recordPurchase"
    }
    returns = one_per_key(
        await pool.fetch("SELECT store_id, return_id, points FROM returns"),
        "store_id",
        "return_id",
    )
    assert {key: row["points"] for key, row in returns.items()} == {
        o.key: o.answer["pointsReversed"] for o in operations if o.mutation == "recordReturn"
    }
    vouchers = await pool.fetch("SELECT code FROM vouchers")
    issued = [a["voucher"]["code"] for a in answered(operations, "RewardRedeemed")]
    assert sorted(shown(row["code"]) for row in vouchers) == sorted(issued)
    redeemed = await pool.fetchval("SELECT count(*) FROM ledger_entries WHERE kind = 'redeem'")
    assert redeemed == len(issued)
    adjusted = await pool.fetch("SELECT id FROM ledger_entries WHERE kind = 'adjust'")
    assert sorted(str(row["id"]) for row in adjusted) == sorted(
        a["entry"]["id"] for a in answered(operations, "PointsAdjusted")
    )
    # Refusals are kept under their keys too, so each operation holds exactly one key.
    keys = await pool.fetch("SELECT scope, count(*) AS n FROM idempotency_keys GROUP BY scope")
    assert {row["scope"]: row["n"] for row in keys} == Counter(
        SCOPES[o.mutation] for o in operations
    )
    balances = await pool.fetch("SELECT customer_id, balance FROM accounts")
    assert {row["customer_id"]: row["balance"] for row in balances} == balances_from_answers(
        operations
    )
    assert await service.verify_ledger(pool) == []


async def test_retried_and_duplicated_requests_take_effect_exactly_once(
    live_url: str,
    client: httpx.AsyncClient,
    pool: Pool,
    admin_key: str,
    pos_key: str,
    trial: Trial,
) -> None:
    target = scale(1_000, 10_000)
    trial.describe(
        "retries",
        f"{target:,} requests from {CLIENTS} clients with short random timeouts, random waits "
        "and duplicate sends: purchases, returns, redemptions, adjustments",
    )
    seed = seed_of_run()
    await program(client, pool, admin_key)
    rewards = (await reward(client, admin_key, cost=COST), await reward(client, admin_key, 40))
    customers = [f"c{n}" for n in range(scale(20, 50))]
    limits = httpx.Limits(max_connections=4 * CLIENTS, max_keepalive_connections=4 * CLIENTS)
    async with httpx.AsyncClient(base_url=live_url, limits=limits) as http:
        traffic = Traffic(http, pos_key, admin_key, rewards, customers, target)
        started = time.monotonic()
        async with asyncio.TaskGroup() as clients:
            for n in range(CLIENTS):
                clients.create_task(traffic.client(random.Random(f"{seed}:{n}")))
        elapsed = time.monotonic() - started

    operations = traffic.operations
    check_answers(operations)
    for conflict in traffic.conflicts:
        refusals = {(a["__typename"], a["code"]) for a in conflict.answers}
        assert refusals == {("IdempotencyConflictError", "IDEMPOTENCY_CONFLICT")}, conflict.key
    await check_database(pool, operations)

    kinds = Counter(o.mutation for o in operations)
    answers = [a for o in operations for a in o.answers]
    replays = sum(a.get("replayed") is True for a in answers)
    # Applied by a request its client had given up on: no answer it saw did the work.
    behind_its_back = sum(
        "replayed" in o.answer and all(a["replayed"] for a in o.answers) for o in operations
    )
    refused = sum(o.answer["__typename"] == "InsufficientPointsError" for o in operations)
    assert traffic.timeouts > 0 and traffic.duplicates > 0 and behind_its_back > 0
    trial.saw(
        f"seed {seed}: {traffic.sent:,} requests for {len(operations):,} operations "
        f"({', '.join(f'{n:,} {k}' for k, n in sorted(kinds.items()))}) in {elapsed:.1f} s"
    )
    trial.saw(
        f"{traffic.timeouts:,} timed out, {traffic.dropped} dropped, {traffic.duplicates:,} "
        f"sent twice at once; {replays:,} answered as replays; {behind_its_back:,} applied by a "
        "request its client had abandoned"
    )
    trial.saw(
        f"{len(traffic.conflicts)} same-key requests with other content: each refused "
        f"IDEMPOTENCY_CONFLICT; {refused} redemptions and adjustments refused for lack of "
        "points, each refusal kept under its key"
    )
    trial.saw(
        f"one row per purchase, return, voucher and adjustment; {len(customers)} balances equal "
        "the sums of the answers; verify_ledger clean"
    )
