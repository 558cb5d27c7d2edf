"""Who may call what: every root field, called by every kind of caller, against the policy.

ACCESS is the policy. A root field in the schema and not in ACCESS (or the other way round)
fails the first test, so an operation cannot ship before someone decides who may call it.

Every request names customer alice, store S1 and alice's own rebate code. So bob is a customer
asking for another's data, and the S2 key is a till of another store. Each call is checked for
what its caller sees and for what it wrote: a refusal writes nothing, and an allowed call writes
to the customer it should.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest

from loyalty import service
from loyalty.api.schema import build_schema
from loyalty.app import create_app
from loyalty.config import Settings
from loyalty.domain.access import Role
from loyalty.domain.codes import REBATE, new_code, parse_code
from loyalty.store.database import Pool, create_pool
from tests.api.test_subscriptions import served, subscribed
from tests.conftest import with_database
from tests.support import customer_token, gql, serving

Variables = dict[str, Any]


class Caller(Enum):
    NOBODY = "none"
    ALICE = "alice"  # customer A: every request names her
    BOB = "bob"  # customer B
    POS_S1 = "pos_s1"  # a POS key bound to store S1, where every request is made
    POS_S2 = "pos_s2"  # a POS key bound to store S2
    ADMIN = "admin"

    @property
    def customer_id(self) -> str | None:
        return self.value if self in (Caller.ALICE, Caller.BOB) else None


@dataclass(frozen=True)
class Outcome:
    kind: str  # allowed, own, error or refused
    detail: str = ""  # the error's extensions.code, or the refusal's __typename
    says: tuple[tuple[str, str], ...] = ()  # fields the refusal must carry


ALLOWED = Outcome("allowed")
OWN = Outcome("own")  # as allowed, but on the caller's own data whatever customer is named
UNAUTHENTICATED = Outcome("error", "UNAUTHENTICATED")
FORBIDDEN = Outcome("error", "FORBIDDEN")


def refused(typename: str, **says: str) -> Outcome:
    """A typed error among the field's results: nothing done, and the client told why."""
    return Outcome("refused", typename, tuple(says.items()))


def policy(
    none: Outcome,
    alice: Outcome,
    bob: Outcome,
    pos_s1: Outcome,
    pos_s2: Outcome,
    admin: Outcome,
) -> dict[Caller, Outcome]:
    return dict(zip(Caller, (none, alice, bob, pos_s1, pos_s2, admin), strict=True))


ANYONE = policy(UNAUTHENTICATED, ALLOWED, ALLOWED, ALLOWED, ALLOWED, ALLOWED)
ANYONE_FOR_THEMSELVES = policy(UNAUTHENTICATED, OWN, OWN, ALLOWED, ALLOWED, ALLOWED)
CUSTOMERS_ONLY = policy(UNAUTHENTICATED, OWN, OWN, FORBIDDEN, FORBIDDEN, FORBIDDEN)
STAFF = policy(UNAUTHENTICATED, FORBIDDEN, FORBIDDEN, ALLOWED, ALLOWED, ALLOWED)
ADMINS = policy(UNAUTHENTICATED, FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN, ALLOWED)
OTHER_STORE = refused("StoreNotAllowedError", storeId="S1")
STORE_STAFF = policy(UNAUTHENTICATED, FORBIDDEN, FORBIDDEN, ALLOWED, OTHER_STORE, ALLOWED)

ACCESS: dict[str, dict[Caller, Outcome]] = {
    "Query.tiers": ANYONE,
    "Query.program": ANYONE,
    "Query.me": CUSTOMERS_ONLY,
    "Query.customer": STAFF,
    "Query.products": ANYONE,
    "Query.quote": ANYONE_FOR_THEMSELVES,
    # Another customer's bound code is answered as a code that does not exist.
    "Query.rebateCode": policy(
        UNAUTHENTICATED, ALLOWED, refused("RebateCodeNotFoundError"), ALLOWED, ALLOWED, ALLOWED
    ),
    "Query.nudges": ANYONE_FOR_THEMSELVES,
    "Query.rewards": ANYONE,
    "Query.rules": STAFF,
    "Query.rule": STAFF,
    "Query.auditLog": ADMINS,
    "Query.analytics": ADMINS,
    "Query.webhooks": ADMINS,
    "Mutation.registerWebhook": ADMINS,
    "Mutation.deleteWebhook": ADMINS,
    "Mutation.retryWebhookDeliveries": ADMINS,
    "Mutation.recordPurchase": STORE_STAFF,
    "Mutation.recordPurchases": STORE_STAFF,
    "Mutation.setTiers": ADMINS,
    "Mutation.setPointsPolicy": ADMINS,
    "Mutation.recordReturn": STORE_STAFF,
    "Mutation.createReward": ADMINS,
    "Mutation.redeemReward": ANYONE_FOR_THEMSELVES,
    # The one store-bound refusal that is not a StoreNotAllowedError: useVoucher's union has none.
    "Mutation.useVoucher": policy(
        UNAUTHENTICATED,
        FORBIDDEN,
        FORBIDDEN,
        ALLOWED,
        refused("InvalidInputError", field="storeId"),
        ALLOWED,
    ),
    "Mutation.upsertProducts": ADMINS,
    "Mutation.adjustPoints": ADMINS,
    "Mutation.issueRebateCode": ADMINS,
    "Mutation.setNudgeLimits": ADMINS,
    "Mutation.createRule": ADMINS,
    "Mutation.updateRule": ADMINS,
    "Mutation.archiveRule": ADMINS,
    "Mutation.simulate": ADMINS,
    # A till has no business following a customer's points as they change.
    "Subscription.pointsChanged": policy(UNAUTHENTICATED, OWN, OWN, FORBIDDEN, FORBIDDEN, ALLOWED),
}


def root_fields() -> set[str]:
    """Every query, mutation and subscription the schema offers, as Type.field."""
    schema = build_schema()._schema
    roots = {
        "Query": schema.query_type,
        "Mutation": schema.mutation_type,
        "Subscription": schema.subscription_type,
    }
    return {
        f"{kind}.{name}" for kind, root in roots.items() if root is not None for name in root.fields
    }


# The program every world starts from.


def product(sku: str, category: str, price: int, **sized: Any) -> dict[str, Any]:
    return {"sku": sku, "name": sku.title(), "category": category, "price": price, **sized}


BASE = "1 point per 1.00"
UPSIZE = "Go large"
COLA_BONUS = "Cola bonus, once a day"
SEED: dict[str, Any] = {
    "program": {"name": "Corner Pizza", "currency": "EUR", "timezone": "Europe/Warsaw"},
    "points_policy": {"expiry_months": 12, "pending_days": 0},
    "tiers": {
        "window": "rolling_12_months",
        "grace_days": 30,
        "tiers": [
            {"name": "Member", "qualifying_points": 0, "multiplier_percent": 100, "benefits": ""},
            {"name": "Gold", "qualifying_points": 5000, "multiplier_percent": 150, "benefits": ""},
        ],
    },
    "products": [
        product("PEPP-M", "pizza", 1299, family="pepperoni", size_rank=2),
        product("PEPP-L", "pizza", 1499, family="pepperoni", size_rank=3),
        product("COLA", "drinks", 249),
    ],
    "rules": [
        {
            "kind": "BASE_EARN",
            "name": BASE,
            "spec": {"baseEarn": {"mode": "per_unit", "points": 1}},
        },
        {
            "kind": "UPSIZE",
            "name": UPSIZE,
            "spec": {"upsize": {"category": "pizza", "minSizeRank": 3, "points": 20}},
        },
        {
            "kind": "PRODUCT_BONUS",
            "name": COLA_BONUS,
            "spec": {
                "productBonus": {"target": {"sku": "COLA"}, "points": 5},
                "caps": {"period": "day", "maxAwards": 1},
            },
        },
    ],
    "rewards": [{"name": "Free cola", "description": "", "points_cost": 10}],
}
REWARD_COST = 10
WELCOME_POINTS = 500


@dataclass(frozen=True)
class World:
    """A database with the program, alice and bob in it, and each caller's credentials."""

    dsn: str
    pool: Pool
    book: service.RuleBook
    credentials: Mapping[Caller, str | None]
    alice_code: str
    reward_id: str
    rule_ids: Mapping[str, int]
    visited_at: datetime  # alice's first purchase, which used up today's cola bonus


def purchase_request(
    customer_id: str, store_id: str, transaction_id: str, at: datetime, *skus: str
) -> service.PurchaseRequest:
    prices = {product["sku"]: product["price"] for product in SEED["products"]}
    return service.PurchaseRequest(
        customer_id=customer_id,
        store_id=store_id,
        transaction_id=transaction_id,
        channel="pos",
        occurred_at=at,
        lines=tuple(service.CartLine(sku, 1, prices[sku]) for sku in skus),
    )


async def populate(pool: Pool, dsn: str) -> World:
    assert await service.load_seed(pool, SEED)
    book = service.RuleBook(pool, None)
    visited_at = datetime.now(UTC) - timedelta(minutes=5)
    await service.record_purchase(
        pool, book, purchase_request("alice", "S1", "A-1", visited_at, "PEPP-L", "COLA")
    )
    for customer in ("alice", "bob"):
        await service.adjust_points(
            pool,
            book,
            customer_id=customer,
            points=WELCOME_POINTS,
            reason="welcome",
            idempotency_key=f"welcome-{customer}",
        )
    offer = service.RebateOffer(amount_off=200)
    rebate, _ = await service.issue_rebate_code(pool, "alice", offer, "thanks-alice")
    rewards = await service.list_rewards(pool)
    return World(
        dsn=dsn,
        pool=pool,
        book=book,
        credentials={
            Caller.NOBODY: None,
            Caller.ALICE: customer_token("alice"),
            Caller.BOB: customer_token("bob"),
            Caller.POS_S1: await service.create_api_key(pool, Role.POS, "S1", "till S1"),
            Caller.POS_S2: await service.create_api_key(pool, Role.POS, "S2", "till S2"),
            Caller.ADMIN: await service.create_api_key(pool, Role.ADMIN, None, "admin"),
        },
        alice_code=str(parse_code(rebate.code)),
        reward_id=str(rewards[0].id),
        rule_ids={row.name: row.id for row in await service.list_rules(pool, False)},
        visited_at=visited_at,
    )


# What the database holds around a call.


@dataclass(frozen=True)
class Snapshot:
    tables: dict[str, str]  # a digest of every row of every table
    balances: dict[str, int]


async def snapshot(pool: Pool) -> Snapshot:
    names = await pool.fetch(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
    )
    digests = " UNION ALL ".join(
        f"""SELECT '{row["tablename"]}', md5(coalesce(string_agg(t::text, '|' ORDER BY t::text),
        '')) FROM "{row["tablename"]}" t"""
        for row in names
    )
    tables = {row[0]: row[1] for row in await pool.fetch(digests)}
    balances = await pool.fetch("SELECT customer_id, balance FROM accounts")
    return Snapshot(tables, {row["customer_id"]: row["balance"] for row in balances})


def changed_tables(before: Snapshot, after: Snapshot) -> set[str]:
    return {table for table, digest in after.tables.items() if before.tables.get(table) != digest}


@dataclass(frozen=True)
class Call:
    """One allowed call as the test saw it."""

    world: World
    subject: str | None  # the customer whose data it should read or change
    variables: Variables
    result: Any  # the field's value, through the operation's pick
    before: Snapshot
    after: Snapshot

    def points_moved(self) -> dict[str, int]:
        """Whose balance the call changed, and by how much."""
        customers = self.before.balances.keys() | self.after.balances.keys()
        moved = {
            c: self.after.balances.get(c, 0) - self.before.balances.get(c, 0) for c in customers
        }
        return {customer: points for customer, points in moved.items() if points}


Prepare = Callable[[World], Awaitable[Variables]]
Verify = Callable[[Call], Awaitable[None]]


def whole(result: Any) -> Any:
    return result


@dataclass(frozen=True)
class Operation:
    """A request that succeeds for a caller who may make it, and what success looks like."""

    document: str
    success: str  # the __typename an allowed caller gets
    prepare: Prepare
    verify: Verify
    names: str | None = None  # the customer the request is about
    writes: bool = False  # whether an allowed call changes the database
    pick: Callable[[Any], Any] = whole  # the union member to judge, for a batch


def given(variables: Variables) -> Prepare:
    async def prepare(world: World) -> Variables:
        return variables

    return prepare


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def cart(*skus: str) -> Variables:
    prices = {product["sku"]: product["price"] for product in SEED["products"]}
    lines = [{"sku": sku, "quantity": 1, "unitPrice": prices[sku]} for sku in skus]
    return {"storeId": "S1", "customerId": "alice", "lines": lines}


def purchase_input(transaction_id: str) -> Variables:
    at = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    body = cart("PEPP-L", "COLA")
    return {**body, "transactionId": transaction_id, "occurredAt": at}


# Queries


async def verify_tiers(call: Call) -> None:
    assert [tier["name"] for tier in call.result] == ["Member", "Gold"]


async def verify_program(call: Call) -> None:
    assert call.result == {"__typename": "Program", "name": "Corner Pizza", "currency": "EUR"}


async def verify_me(call: Call) -> None:
    me, pool = call.result, call.world.pool
    assert call.subject is not None
    assert me["id"] == call.subject
    assert me["balance"] == call.after.balances[call.subject]
    entries = await pool.fetch(
        "SELECT id FROM ledger_entries WHERE customer_id = $1 ORDER BY id DESC LIMIT 50",
        call.subject,
    )
    assert [edge["node"]["id"] for edge in me["ledger"]["edges"]] == [str(e["id"]) for e in entries]
    codes = await pool.fetch("SELECT code FROM rebate_codes WHERE customer_id = $1", call.subject)
    shown = sorted(code["code"] for code in me["rebateCodes"])
    assert shown == sorted(str(parse_code(row["code"])) for row in codes)
    assert (call.world.alice_code in shown) is (call.subject == "alice")


async def verify_customer(call: Call) -> None:
    assert call.result["id"] == "alice"
    assert call.result["balance"] == call.after.balances["alice"]


async def verify_products(call: Call) -> None:
    rows = await call.world.pool.fetch("SELECT sku FROM products ORDER BY sku LIMIT 50")
    assert [product["sku"] for product in call.result] == [row["sku"] for row in rows]
    assert len(rows) >= len(SEED["products"])


async def verify_quote(call: Call) -> None:
    paid = {award["ruleName"] for award in call.result["awards"]}
    assert BASE in paid
    # Alice's visit used up the cola bonus's one award today; bob has not had his.
    assert (COLA_BONUS in paid) is (call.subject != "alice")


async def prepare_quote(world: World) -> Variables:
    return {"cart": {**cart("COLA"), "at": world.visited_at.isoformat()}}


async def prepare_rebate_code(world: World) -> Variables:
    return {"code": world.alice_code, "customerId": "alice"}


async def verify_rebate_code(call: Call) -> None:
    assert call.result == {
        "__typename": "RebateCode",
        "code": call.world.alice_code,
        "usable": True,
    }


async def prepare_nudges(world: World) -> Variables:
    # A family of its own, so that alice turning down earlier nudges cannot hide this one.
    family = unique("family")
    sizes = [(f"{family}-M", 2, 1299), (f"{family}-L", 3, 1499)]
    rows = [
        service.ProductRow(sku, sku, "pizza", family, rank, price) for sku, rank, price in sizes
    ]
    await service.upsert_products(world.pool, rows)
    lines = [{"sku": f"{family}-M", "quantity": 1, "unitPrice": 1299}]
    return {"cart": {"storeId": "S1", "customerId": "alice", "lines": lines}}


async def verify_nudges(call: Call) -> None:
    [nudge] = call.result["nudges"]
    owner = await call.world.pool.fetchval(
        "SELECT customer_id FROM nudges WHERE id = $1", uuid.UUID(nudge["id"])
    )
    assert owner == call.subject
    assert call.points_moved() == {}


async def verify_rewards(call: Call) -> None:
    rows = await call.world.pool.fetch("SELECT name FROM rewards ORDER BY points_cost, id")
    assert [reward["name"] for reward in call.result] == [row["name"] for row in rows]
    assert call.result[0]["name"] == "Free cola"


async def verify_rules(call: Call) -> None:
    rows = await call.world.pool.fetch("SELECT name FROM rules WHERE status = 'active' ORDER BY id")
    assert [rule["name"] for rule in call.result] == [row["name"] for row in rows]
    assert [rule["name"] for rule in call.result[:3]] == [BASE, UPSIZE, COLA_BONUS]


async def prepare_rule(world: World) -> Variables:
    return {"id": str(world.rule_ids[UPSIZE])}


async def verify_rule(call: Call) -> None:
    assert call.result["name"] == UPSIZE


async def verify_analytics(call: Call) -> None:
    program = await call.world.pool.fetchrow("SELECT timezone, currency FROM program")
    assert program is not None
    assert call.result["from"] == "2026-01-01" and call.result["to"] == "2026-01-31"
    assert call.result["timezone"] == program["timezone"]
    assert call.result["currency"] == program["currency"]
    assert call.result["liability"]["outstandingPoints"] >= 0


HOOK_URL = "https://hooks.example.com/loyalty"


async def spare_webhook(world: World) -> int:
    row, _ = await service.register_webhook(world.pool, HOOK_URL, ["POINTS_EARNED"])
    return row.id


async def prepare_webhooks(world: World) -> Variables:
    # The list must not be empty: the walk judges its first item.
    if not await world.pool.fetchval("SELECT count(*) FROM webhooks"):
        await spare_webhook(world)
    return {}


async def verify_webhooks(call: Call) -> None:
    rows = await call.world.pool.fetch("SELECT id, url FROM webhooks ORDER BY id")
    assert [(w["id"], w["url"]) for w in call.result] == [(str(r["id"]), r["url"]) for r in rows]


async def verify_register_webhook(call: Call) -> None:
    webhook_id = int(call.result["webhook"]["id"])
    row = await call.world.pool.fetchrow(
        "SELECT url, event_types, secret FROM webhooks WHERE id = $1", webhook_id
    )
    assert row is not None
    assert (row["url"], row["event_types"]) == (HOOK_URL, ["POINTS_EARNED", "TIER_CHANGED"])
    assert row["secret"] == call.result["secret"]


async def prepare_delete_webhook(world: World) -> Variables:
    return {"id": str(await spare_webhook(world))}


async def verify_delete_webhook(call: Call) -> None:
    assert call.result["webhook"]["id"] == call.variables["id"]
    assert not await call.world.pool.fetchval(
        "SELECT count(*) FROM webhooks WHERE id = $1", int(call.variables["id"])
    )


async def prepare_retry_webhook(world: World) -> Variables:
    webhook_id = await spare_webhook(world)
    await world.pool.execute(
        """
        INSERT INTO webhook_deliveries (customer_id, webhook_id, event_id, attempts, gave_up_at)
        SELECT customer_id, $1, id, 80, now() FROM outbox ORDER BY id LIMIT 1
        """,
        webhook_id,
    )
    return {"id": str(webhook_id)}


async def verify_retry_webhook(call: Call) -> None:
    assert call.result["requeued"] == 1
    given_up = (
        "SELECT count(*) FROM webhook_deliveries WHERE webhook_id = $1 AND gave_up_at IS NOT NULL"
    )
    assert not await call.world.pool.fetchval(given_up, int(call.variables["id"]))


async def verify_audit_log(call: Call) -> None:
    rows = await call.world.pool.fetch("SELECT id FROM admin_changes ORDER BY id DESC LIMIT 50")
    assert rows, "the world's keys were made as admin changes"
    assert [edge["node"]["id"] for edge in call.result["edges"]] == [str(r["id"]) for r in rows]


# Mutations

RECORDED = """
fragment Recorded on RecordPurchaseResult {
  __typename
  ... on PurchaseRecorded { pointsEarned purchase { customerId storeId transactionId } }
  ... on StoreNotAllowedError { storeId }
  ... on Error { code message }
}
"""


async def prepare_purchase(world: World) -> Variables:
    return {"input": purchase_input(unique("T"))}


async def prepare_purchases(world: World) -> Variables:
    return {"purchases": [purchase_input(unique("T"))]}


async def verify_purchase(call: Call) -> None:
    sent = call.variables.get("input") or call.variables["purchases"][0]
    transaction_id = sent["transactionId"]
    assert call.result["purchase"] == {
        "customerId": "alice",
        "storeId": "S1",
        "transactionId": transaction_id,
    }
    assert call.result["pointsEarned"] > 0
    assert call.points_moved() == {"alice": call.result["pointsEarned"]}
    owner = await call.world.pool.fetchval(
        "SELECT customer_id FROM purchases WHERE store_id = 'S1' AND transaction_id = $1",
        transaction_id,
    )
    assert owner == "alice"


async def verify_set_tiers(call: Call) -> None:
    rows = await call.world.pool.fetch(
        "SELECT name, benefits FROM tiers ORDER BY qualifying_points"
    )
    assert [tuple(row) for row in rows] == [("Member", ""), ("Gold", "Free delivery")]


async def verify_points_policy(call: Call) -> None:
    assert await call.world.pool.fetchval("SELECT expiry_months FROM program") == 24


async def prepare_return(world: World) -> Variables:
    transaction_id = unique("T")
    at = datetime.now(UTC) - timedelta(minutes=1)
    request = purchase_request("alice", "S1", transaction_id, at, "PEPP-L")
    await service.record_purchase(world.pool, world.book, request)
    lines = [{"sku": "PEPP-L", "quantity": 1}]
    return {
        "input": {
            "storeId": "S1",
            "transactionId": transaction_id,
            "returnId": unique("R"),
            "lines": lines,
        }
    }


async def verify_return(call: Call) -> None:
    assert call.result["customerId"] == "alice"
    assert call.result["pointsReversed"] > 0
    assert call.points_moved() == {"alice": -call.result["pointsReversed"]}
    owner = await call.world.pool.fetchval(
        "SELECT customer_id FROM returns WHERE return_id = $1",
        call.variables["input"]["returnId"],
    )
    assert owner == "alice"


async def verify_create_reward(call: Call) -> None:
    named = "SELECT count(*) FROM rewards WHERE name = 'Free dip'"
    assert await call.world.pool.fetchval(named) == 1


async def prepare_redeem(world: World) -> Variables:
    return {"rewardId": world.reward_id, "key": unique("redeem"), "customerId": "alice"}


async def verify_redeem(call: Call) -> None:
    assert call.points_moved() == {call.subject: -REWARD_COST}
    code = parse_code(call.result["voucher"]["code"]).canonical
    owner = await call.world.pool.fetchval("SELECT customer_id FROM vouchers WHERE code = $1", code)
    assert owner == call.subject


async def prepare_use_voucher(world: World) -> Variables:
    redeemed = await service.redeem_reward(
        world.pool, world.book, "alice", int(world.reward_id), unique("redeem")
    )
    return {"code": str(parse_code(redeemed.voucher.code)), "storeId": "S1"}


async def verify_use_voucher(call: Call) -> None:
    row = await call.world.pool.fetchrow(
        "SELECT customer_id, state, redeemed_store_id FROM vouchers WHERE code = $1",
        parse_code(call.variables["code"]).canonical,
    )
    assert row is not None
    assert dict(row) == {"customer_id": "alice", "state": "redeemed", "redeemed_store_id": "S1"}
    assert call.points_moved() == {}


async def verify_upsert_products(call: Call) -> None:
    name = await call.world.pool.fetchval("SELECT name FROM products WHERE sku = 'DIP'")
    assert name == "Garlic dip"


async def prepare_adjust(world: World) -> Variables:
    key = unique("adjust")
    return {
        "input": {"customerId": "alice", "points": 7, "reason": "goodwill", "idempotencyKey": key}
    }


async def verify_adjust(call: Call) -> None:
    assert call.points_moved() == {"alice": 7}


async def prepare_issue(world: World) -> Variables:
    return {"input": {"customerId": "alice", "idempotencyKey": unique("code"), "amountOff": 100}}


async def verify_issue(call: Call) -> None:
    code = parse_code(call.result["rebateCode"]["code"]).canonical
    owner = await call.world.pool.fetchval(
        "SELECT customer_id FROM rebate_codes WHERE code = $1", code
    )
    assert owner == "alice"


async def verify_nudge_limits(call: Call) -> None:
    row = await call.world.pool.fetchrow(
        "SELECT nudge_add_on_max_percent, nudge_gap_max_percent FROM program"
    )
    assert row is not None
    assert tuple(row) == (12, 18)


# Subscriptions


async def verify_points_changed(call: Call) -> None:
    """The first change heard is the subject's own, though alice's came first."""
    assert call.subject is not None
    assert call.result["customerId"] == call.subject
    assert call.result["points"] == call.points_moved()[call.subject]
    assert call.result["balance"] == call.after.balances[call.subject]


# What an admin adds here pays only at store S9, which no other request names.
AT_S9: Variables = {
    "kind": "BASE_EARN",
    "name": "Double points at S9",
    "conditions": {"stores": ["S9"]},
    "baseEarn": {"mode": "PER_UNIT", "points": 2},
}


async def verify_create_rule(call: Call) -> None:
    named = "SELECT count(*) FROM rules WHERE name = $1 AND status = 'active'"
    assert await call.world.pool.fetchval(named, AT_S9["name"]) == 1


async def spare_rule(world: World) -> int:
    spec = {"conditions": {"stores": ["S9"]}, "baseEarn": {"mode": "per_unit", "points": 1}}
    draft = service.RuleDraft("BASE_EARN", unique("Spare"), spec)
    row = await service.create_rule(world.pool, None, draft)
    return row.id


async def prepare_update_rule(world: World) -> Variables:
    return {"id": str(await spare_rule(world)), "input": {**AT_S9, "name": "Updated at S9"}}


async def verify_update_rule(call: Call) -> None:
    row = await call.world.pool.fetchrow(
        "SELECT name, version FROM rules WHERE id = $1", int(call.variables["id"])
    )
    assert row is not None
    assert tuple(row) == ("Updated at S9", 2)


async def prepare_archive_rule(world: World) -> Variables:
    return {"id": str(await spare_rule(world))}


async def verify_archive_rule(call: Call) -> None:
    status = await call.world.pool.fetchval(
        "SELECT status FROM rules WHERE id = $1", int(call.variables["id"])
    )
    assert status == "archived"


async def verify_simulate(call: Call) -> None:
    # Only the draft rule counts: 2 points a unit on 14.99, floored.
    assert call.result == {"__typename": "Quote", "pointsEarned": 29, "subtotal": 1499}


RULE_SAVED = "__typename ... on RuleSaved { rule { name } } ... on Error { code message }"

OPERATIONS: dict[str, Operation] = {
    "Query.tiers": Operation(
        "query { tiers { __typename name } }", "Tier", given({}), verify_tiers
    ),
    "Query.program": Operation(
        "query { program { __typename name currency } }", "Program", given({}), verify_program
    ),
    "Query.me": Operation(
        """query { me { __typename id balance
             ledger(first: 50) { edges { node { id } } } rebateCodes { code } } }""",
        "Customer",
        given({}),
        verify_me,
    ),
    "Query.customer": Operation(
        "query($id: String!) { customer(id: $id) { __typename id balance } }",
        "Customer",
        given({"id": "alice"}),
        verify_customer,
        names="alice",
    ),
    "Query.products": Operation(
        "query { products { __typename sku } }", "Product", given({}), verify_products
    ),
    "Query.quote": Operation(
        """query($cart: CartInput!) { quote(cart: $cart) {
             __typename ... on Quote { awards { ruleName } } ... on Error { code message } } }""",
        "Quote",
        prepare_quote,
        verify_quote,
        names="alice",
    ),
    "Query.rebateCode": Operation(
        """query($code: String!, $customerId: String) {
             rebateCode(code: $code, customerId: $customerId) {
               __typename ... on RebateCode { code usable } ... on Error { code message } } }""",
        "RebateCode",
        prepare_rebate_code,
        verify_rebate_code,
        names="alice",
    ),
    "Query.nudges": Operation(
        """query($cart: CartInput!) { nudges(cart: $cart) {
             __typename ... on NudgeList { nudges { id } } ... on Error { code message } } }""",
        "NudgeList",
        prepare_nudges,
        verify_nudges,
        names="alice",
        writes=True,  # a nudge is recorded as shown
    ),
    "Query.rewards": Operation(
        "query { rewards { __typename name } }", "Reward", given({}), verify_rewards
    ),
    "Query.rules": Operation(
        "query { rules { __typename name } }", "Rule", given({}), verify_rules
    ),
    "Query.rule": Operation(
        "query($id: ID!) { rule(id: $id) { __typename name } }", "Rule", prepare_rule, verify_rule
    ),
    "Query.analytics": Operation(
        """query($from: Date!, $to: Date!) { analytics(from: $from, to: $to) {
             __typename ... on Analytics { from to timezone currency
             liability { outstandingPoints } } } }""",
        "Analytics",
        given({"from": "2026-01-01", "to": "2026-01-31"}),
        verify_analytics,
    ),
    "Query.webhooks": Operation(
        "query { webhooks { __typename id url } }", "Webhook", prepare_webhooks, verify_webhooks
    ),
    "Mutation.registerWebhook": Operation(
        """mutation($url: String!, $types: [WebhookEventType!]!) {
             registerWebhook(url: $url, eventTypes: $types) {
               __typename ... on WebhookRegistered { secret webhook { id } }
               ... on Error { code message } } }""",
        "WebhookRegistered",
        given({"url": HOOK_URL, "types": ["POINTS_EARNED", "TIER_CHANGED"]}),
        verify_register_webhook,
        writes=True,
    ),
    "Mutation.deleteWebhook": Operation(
        """mutation($id: ID!) { deleteWebhook(id: $id) {
             __typename ... on WebhookDeleted { webhook { id } }
             ... on Error { code message } } }""",
        "WebhookDeleted",
        prepare_delete_webhook,
        verify_delete_webhook,
        writes=True,
    ),
    "Mutation.retryWebhookDeliveries": Operation(
        """mutation($id: ID!) { retryWebhookDeliveries(id: $id) {
             __typename ... on WebhookDeliveriesRetried { requeued }
             ... on Error { code message } } }""",
        "WebhookDeliveriesRetried",
        prepare_retry_webhook,
        verify_retry_webhook,
        writes=True,
    ),
    "Query.auditLog": Operation(
        "query { auditLog(first: 50) { __typename edges { node { id } } } }",
        "AdminChangeConnection",
        given({}),
        verify_audit_log,
    ),
    "Mutation.recordPurchase": Operation(
        "mutation($input: PurchaseInput!) { recordPurchase(input: $input) { ...Recorded } }"
        + RECORDED,
        "PurchaseRecorded",
        prepare_purchase,
        verify_purchase,
        names="alice",
        writes=True,
    ),
    "Mutation.recordPurchases": Operation(
        """mutation($purchases: [PurchaseInput!]!) { recordPurchases(purchases: $purchases) {
             __typename ... on PurchasesRecorded { results { result { ...Recorded } } }
             ... on Error { code message } } }"""
        + RECORDED,
        "PurchaseRecorded",
        prepare_purchases,
        verify_purchase,
        names="alice",
        writes=True,
        pick=lambda result: result["results"][0]["result"],
    ),
    "Mutation.setTiers": Operation(
        """mutation($tiers: [TierInput!]!) { setTiers(tiers: $tiers) {
             __typename ... on Error { code message } } }""",
        "TiersSet",
        given(
            {
                "tiers": [
                    {"name": "Member", "qualifyingPoints": 0},
                    {
                        "name": "Gold",
                        "qualifyingPoints": 5000,
                        "multiplierPercent": 150,
                        "benefits": "Free delivery",
                    },
                ]
            }
        ),
        verify_set_tiers,
        writes=True,
    ),
    "Mutation.setPointsPolicy": Operation(
        """mutation { setPointsPolicy(expiryMonths: 24) {
             __typename ... on Error { code message } } }""",
        "PointsPolicySet",
        given({}),
        verify_points_policy,
        writes=True,
    ),
    "Mutation.recordReturn": Operation(
        """mutation($input: ReturnInput!) { recordReturn(input: $input) {
             __typename ... on ReturnRecorded { customerId pointsReversed }
             ... on StoreNotAllowedError { storeId } ... on Error { code message } } }""",
        "ReturnRecorded",
        prepare_return,
        verify_return,
        names="alice",
        writes=True,
    ),
    "Mutation.createReward": Operation(
        """mutation { createReward(name: "Free dip", pointsCost: 25) {
             __typename ... on Error { code message } } }""",
        "RewardCreated",
        given({}),
        verify_create_reward,
        writes=True,
    ),
    "Mutation.redeemReward": Operation(
        """mutation($rewardId: ID!, $key: String!, $customerId: String) {
             redeemReward(rewardId: $rewardId, idempotencyKey: $key, customerId: $customerId) {
               __typename ... on RewardRedeemed { voucher { code } }
               ... on Error { code message } } }""",
        "RewardRedeemed",
        prepare_redeem,
        verify_redeem,
        names="alice",
        writes=True,
    ),
    "Mutation.useVoucher": Operation(
        """mutation($code: String!, $storeId: String!) {
             useVoucher(code: $code, storeId: $storeId) {
               __typename ... on InvalidInputError { field } ... on Error { code message } } }""",
        "VoucherUsed",
        prepare_use_voucher,
        verify_use_voucher,
        names="alice",
        writes=True,
    ),
    "Mutation.upsertProducts": Operation(
        """mutation($products: [ProductInput!]!) { upsertProducts(products: $products) {
             __typename ... on Error { code message } } }""",
        "ProductsUpserted",
        given(
            {"products": [{"sku": "DIP", "name": "Garlic dip", "category": "dips", "price": 99}]}
        ),
        verify_upsert_products,
        writes=True,
    ),
    "Mutation.adjustPoints": Operation(
        """mutation($input: AdjustPointsInput!) { adjustPoints(input: $input) {
             __typename ... on Error { code message } } }""",
        "PointsAdjusted",
        prepare_adjust,
        verify_adjust,
        names="alice",
        writes=True,
    ),
    "Mutation.issueRebateCode": Operation(
        """mutation($input: IssueRebateCodeInput!) { issueRebateCode(input: $input) {
             __typename ... on RebateCodeIssued { rebateCode { code } }
             ... on Error { code message } } }""",
        "RebateCodeIssued",
        prepare_issue,
        verify_issue,
        names="alice",
        writes=True,
    ),
    "Mutation.setNudgeLimits": Operation(
        """mutation { setNudgeLimits(addOnMaxPercent: 12, spendGapMaxPercent: 18) {
             __typename ... on Error { code message } } }""",
        "NudgeLimits",
        given({}),
        verify_nudge_limits,
        writes=True,
    ),
    "Mutation.createRule": Operation(
        f"mutation($input: RuleInput!) {{ createRule(input: $input) {{ {RULE_SAVED} }} }}",
        "RuleSaved",
        given({"input": AT_S9}),
        verify_create_rule,
        writes=True,
    ),
    "Mutation.updateRule": Operation(
        f"""mutation($id: ID!, $input: RuleInput!) {{
              updateRule(id: $id, input: $input) {{ {RULE_SAVED} }} }}""",
        "RuleSaved",
        prepare_update_rule,
        verify_update_rule,
        writes=True,
    ),
    "Mutation.archiveRule": Operation(
        f"mutation($id: ID!) {{ archiveRule(id: $id) {{ {RULE_SAVED} }} }}",
        "RuleSaved",
        prepare_archive_rule,
        verify_archive_rule,
        writes=True,
    ),
    "Mutation.simulate": Operation(
        """mutation($cart: CartInput!, $rules: [RuleInput!]!) {
             simulate(cart: $cart, rules: $rules, replaceActive: true) {
               __typename ... on Quote { pointsEarned subtotal }
               ... on Error { code message } } }""",
        "Quote",
        given({"cart": cart("PEPP-L"), "rules": [{**AT_S9, "conditions": None}]}),
        verify_simulate,
    ),
    "Subscription.pointsChanged": Operation(
        """subscription($customerId: String, $afterEventId: BigInt) {
             pointsChanged(customerId: $customerId, afterEventId: $afterEventId) {
               __typename customerId points balance } }""",
        "PointsChange",
        given({"customerId": "alice"}),
        verify_points_changed,
        names="alice",
    ),
}


def test_every_root_field_has_its_access_decided() -> None:
    fields = root_fields()
    undecided = sorted(fields - ACCESS.keys())
    assert not undecided, f"say who may call {undecided}: add them to ACCESS and OPERATIONS"
    assert sorted(ACCESS.keys() - fields) == [], "ACCESS names fields the schema does not have"
    assert OPERATIONS.keys() == ACCESS.keys()
    for field, row in ACCESS.items():
        assert list(row) == list(Caller), field


@pytest.fixture(scope="module")
async def world(server_dsn: str, template_dsn: str) -> AsyncIterator[World]:
    """One database for the walk: no check depends on what another field's calls wrote."""
    template = urlsplit(template_dsn).path.lstrip("/")
    name = f"authz_{os.getpid()}"
    admin = await asyncpg.connect(server_dsn)
    try:
        await admin.execute(f"CREATE DATABASE {name} TEMPLATE {template}")
        dsn = with_database(server_dsn, name)
        pool = await create_pool(dsn, min_size=1, max_size=10)
        try:
            yield await populate(pool, dsn)
        finally:
            await pool.close()
            await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await admin.close()


@pytest.fixture
async def api(world: World, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(create_app(settings, pool=world.pool, dsn=world.dsn)) as client:
        yield client


async def subscribe_as(
    world: World, settings: Settings, field: str, caller: Caller, expected: Outcome
) -> None:
    """Subscribes over a real websocket as the caller, then changes alice's points and the
    subject's, in that order."""
    name = field.split(".")[1]
    operation = OPERATIONS[field]
    variables = await operation.prepare(world)
    subject = caller.customer_id if expected.kind == "own" else operation.names
    if subject is not None:
        last = "SELECT coalesce(max(id), 0) FROM outbox WHERE customer_id = $1"
        variables["afterEventId"] = await world.pool.fetchval(last, subject)
    credential = world.credentials[caller]
    before = await snapshot(world.pool)
    async with (
        served(create_app(settings, pool=world.pool, dsn=world.dsn)) as host,
        subscribed(host, credential, variables, query=operation.document) as sub,
    ):
        if expected.kind == "error":
            message = await sub.receive()
            assert message["type"] == "error", message
            assert [(e["path"], e["extensions"]["code"]) for e in message["payload"]] == [
                ([name], expected.detail)
            ]
            assert changed_tables(before, await snapshot(world.pool)) == set()
            return
        assert expected.kind in ("own", "allowed") and subject is not None
        changes = [("alice", 3)] + ([(subject, 4)] if subject != "alice" else [])
        for customer, points in changes:
            await service.adjust_points(
                world.pool,
                world.book,
                customer_id=customer,
                points=points,
                reason="walk",
                idempotency_key=unique("adjust"),
            )
        message = await sub.receive()
        after = await snapshot(world.pool)
    assert message["type"] == "next", message
    assert "errors" not in message["payload"], message
    result = message["payload"]["data"][name]
    assert result["__typename"] == operation.success, result
    await operation.verify(Call(world, subject, variables, result, before, after))


@pytest.mark.parametrize(
    ("field", "caller"),
    [(field, caller) for field in ACCESS for caller in Caller],
    ids=lambda value: value.value if isinstance(value, Caller) else str(value),
)
async def test_each_caller_gets_what_the_policy_says(
    world: World,
    api: httpx.AsyncClient,
    settings: Settings,
    field: str,
    caller: Caller,
) -> None:
    kind, name = field.split(".")
    operation, expected = OPERATIONS[field], ACCESS[field][caller]
    if kind == "Subscription":
        await subscribe_as(world, settings, field, caller, expected)
        return
    variables = await operation.prepare(world)
    before = await snapshot(world.pool)
    body = await gql(api, operation.document, variables, auth=world.credentials[caller])
    after = await snapshot(world.pool)

    if expected.kind == "error":
        assert (body["data"] or {}).get(name) is None
        assert [(e["path"], e["extensions"]["code"]) for e in body["errors"]] == [
            ([name], expected.detail)
        ]
        assert changed_tables(before, after) == set()
        return
    assert "errors" not in body, body["errors"]
    result = operation.pick(body["data"][name])
    if expected.kind == "refused":
        assert result["__typename"] == expected.detail, result
        assert {key: result[key] for key, _ in expected.says} == dict(expected.says)
        assert changed_tables(before, after) == set()
        return
    shown = result[0] if isinstance(result, list) else result
    assert shown["__typename"] == operation.success, result
    subject = caller.customer_id if expected.kind == "own" else operation.names
    call = Call(world, subject, variables, result, before, after)
    await operation.verify(call)
    if not operation.writes:
        assert changed_tables(before, after) == set()


async def test_a_store_key_posts_and_takes_back_only_at_its_own_store(
    client: httpx.AsyncClient, pool: Pool, dsn: str
) -> None:
    world = await populate(pool, dsn)
    s1, s2 = world.credentials[Caller.POS_S1], world.credentials[Caller.POS_S2]
    record = OPERATIONS["Mutation.recordPurchase"].document
    before = await snapshot(world.pool)
    elsewhere = {**purchase_input(unique("T")), "storeId": "S2"}
    body = await gql(client, record, {"input": elsewhere}, auth=s1)
    assert body["data"]["recordPurchase"]["__typename"] == "StoreNotAllowedError"
    assert body["data"]["recordPurchase"]["storeId"] == "S2"
    # S2's till names its own store to reach alice's purchase at S1: there is none at S2.
    lines = [{"sku": "COLA", "quantity": 1}]
    taken_back = {"storeId": "S2", "transactionId": "A-1", "returnId": "R-1", "lines": lines}
    take_back = OPERATIONS["Mutation.recordReturn"].document
    body = await gql(client, take_back, {"input": taken_back}, auth=s2)
    assert body["data"]["recordReturn"]["__typename"] == "PurchaseNotFoundError"
    assert changed_tables(before, await snapshot(world.pool)) == set()

    # A till catching up after being offline: only its own store's purchase is written.
    theirs, ours = purchase_input(unique("T")), {**purchase_input(unique("T")), "storeId": "S2"}
    batch = OPERATIONS["Mutation.recordPurchases"].document
    body = await gql(client, batch, {"purchases": [theirs, ours]}, auth=s2)
    results = body["data"]["recordPurchases"]["results"]
    assert [r["result"]["__typename"] for r in results] == [
        "StoreNotAllowedError",
        "PurchaseRecorded",
    ]
    rows = await world.pool.fetch("SELECT store_id, transaction_id FROM purchases ORDER BY id")
    assert [tuple(row) for row in rows] == [("S1", "A-1"), ("S2", ours["transactionId"])]


async def test_a_customer_cannot_see_use_or_replay_another_customers_code(
    client: httpx.AsyncClient, pool: Pool, dsn: str
) -> None:
    world = await populate(pool, dsn)
    alice, bob = world.credentials[Caller.ALICE], world.credentials[Caller.BOB]
    check = OPERATIONS["Query.rebateCode"].document
    made_up = str(new_code(REBATE))
    body = await gql(client, check, {"code": world.alice_code}, auth=bob)
    theirs = body["data"]["rebateCode"]
    body = await gql(client, check, {"code": made_up}, auth=bob)
    nobodys = body["data"]["rebateCode"]
    # Bob learns no more from alice's code than from one that was never issued.
    assert theirs["__typename"] == "RebateCodeNotFoundError"
    assert theirs == {**nobodys, "message": nobodys["message"].replace(made_up, world.alice_code)}

    # Nor can a till take alice's code off bob's bill.
    before = await snapshot(world.pool)
    bill = {**purchase_input(unique("T")), "customerId": "bob", "rebateCode": world.alice_code}
    record = OPERATIONS["Mutation.recordPurchase"].document
    body = await gql(client, record, {"input": bill}, auth=world.credentials[Caller.POS_S1])
    assert body["data"]["recordPurchase"]["__typename"] == "RebateCodeUnusableError"
    assert "another customer" in body["data"]["recordPurchase"]["message"]
    assert changed_tables(before, await snapshot(world.pool)) == set()
    body = await gql(client, check, {"code": world.alice_code}, auth=alice)
    assert body["data"]["rebateCode"]["usable"] is True

    # Bob's app happens to pick the key alice's app redeemed with: a key is each customer's
    # own, so bob's request is his own redemption, and he never sees her voucher.
    redeem = OPERATIONS["Mutation.redeemReward"].document
    variables = {"rewardId": world.reward_id, "key": "app-redeem-1"}
    body = await gql(client, redeem, variables, auth=alice)
    voucher = body["data"]["redeemReward"]["voucher"]["code"]
    before = await snapshot(world.pool)
    bob_before = await world.pool.fetchval("SELECT balance FROM accounts WHERE customer_id = 'bob'")
    body = await gql(client, redeem, variables, auth=bob)
    answer = body["data"]["redeemReward"]
    assert voucher not in str(body)
    if answer["__typename"] == "RewardRedeemed":
        mine = answer["voucher"]["code"]
        owner = await world.pool.fetchval(
            "SELECT customer_id FROM vouchers WHERE code = $1", mine.replace("-", "")
        )
        assert owner == "bob"
        after = await world.pool.fetchval("SELECT balance FROM accounts WHERE customer_id = 'bob'")
        assert after < bob_before
    else:
        assert answer["__typename"] == "InsufficientPointsError"
        assert changed_tables(before, await snapshot(world.pool)) <= {"idempotency_keys"}
