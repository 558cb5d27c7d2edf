"""The points lifecycle on a real database: tiers, expiry, pending points, and the outbox."""

import asyncio
import json
import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from loyalty import service
from loyalty.app import create_app
from loyalty.config import Settings
from loyalty.service import expiry
from loyalty.service import lots as lot_service
from loyalty.store import outbox
from loyalty.store.database import Pool
from loyalty.store.lots import SPENDABLE_AFTER
from tests.support import customer_token, gql, serving

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")

SET_TIERS = """
mutation T($tiers: [TierInput!]!, $window: TierWindow, $grace: Int) {
  setTiers(tiers: $tiers, window: $window, graceDays: $grace) {
    __typename
    ... on TiersSet { tiers { name qualifyingPoints multiplierPercent benefits } }
    ... on InvalidInputError { field message }
  }
}
"""

ME = """
{ me { balance pendingPoints availablePoints debt
       expiring(first: 3) { points expiresAt lastDay }
       tier { tier { name multiplierPercent } qualifyingPoints nextTier { name }
              pointsToNext by progress keptThrough } } }
"""

RECORD = """
mutation R($input: PurchaseInput!) {
  recordPurchase(input: $input) {
    __typename
    ... on PurchaseRecorded {
      pointsEarned balance tierChange { fromTier toTier keptThrough }
    }
  }
}
"""

TIERS: list[dict[str, Any]] = [
    {"name": "Member", "qualifyingPoints": 0, "multiplierPercent": 100},
    {"name": "Silver", "qualifyingPoints": 50, "multiplierPercent": 150, "benefits": "1.5x"},
    {"name": "Gold", "qualifyingPoints": 200, "multiplierPercent": 200},
]


async def program(
    pool: Pool,
    tz: str = "Europe/Berlin",
    *,
    expiry_months: int | None = None,
    pending_days: int = 0,
    window: str = "rolling_12_months",
    grace_days: int = 30,
) -> service.RuleBook:
    """A program paying 1 point per 1.00, with one 10.00 pizza on the menu."""
    await pool.execute(
        """
        INSERT INTO program (id, name, currency, timezone, expiry_months, pending_days,
                             tier_window, tier_grace_days)
        VALUES (1, 'Test', 'EUR', $1, $2, $3, $4, $5)
        """,
        tz,
        expiry_months,
        pending_days,
        window,
        grace_days,
    )
    await service.upsert_products(
        pool, [service.ProductRow("P10", "Pizza", "pizza", None, None, 1000)]
    )
    book = service.RuleBook(pool, None)
    base = {"baseEarn": {"mode": "per_unit", "points": 1, "unit": 100}}
    await service.create_rule(pool, book, service.RuleDraft("BASE_EARN", "Base", base))
    return book


async def tiers(pool: Pool, book: service.RuleBook, window: str | None = None) -> None:
    defined = [
        service.Tier(t["name"], t["qualifyingPoints"], t["multiplierPercent"]) for t in TIERS
    ]
    policy = None
    if window is not None:
        policy = service.TierPolicy(window, 30)
    await service.set_tiers(pool, book, defined, policy)


def bought(customer: str, n: int, at: datetime, qty: int = 1) -> service.PurchaseRequest:
    return service.PurchaseRequest(
        customer_id=customer,
        store_id="S1",
        transaction_id=f"T{n}",
        channel="pos",
        occurred_at=at,
        lines=(service.CartLine("P10", qty, 1000),),
    )


async def buy(
    pool: Pool, book: service.RuleBook, customer: str, n: int, at: datetime, qty: int = 1
) -> service.PurchaseOutcome:
    return await service.record_purchase(pool, book, bought(customer, n, at, qty), now=at)


async def events(pool: Pool, customer: str) -> list[tuple[str, dict[str, Any]]]:
    async with pool.acquire() as conn:
        rows = await outbox.events_of(conn, customer, 0, 1000)
    return [(row.kind, row.payload) for row in rows]


async def reward_costing(client: httpx.AsyncClient, admin_key: str, cost: int) -> str:
    create = """mutation C($c: Int!) { createReward(name: "Pizza", pointsCost: $c) {
        ... on RewardCreated { reward { id } } } }"""
    body = await gql(client, create, {"c": cost}, auth=admin_key)
    reward_id: str = body["data"]["createReward"]["reward"]["id"]
    return reward_id


async def held(pool: Pool) -> tuple[str | None, date | None]:
    row = await pool.fetchrow("SELECT tier, tier_kept_through FROM accounts")
    assert row is not None
    return row["tier"], row["tier_kept_through"]


# Tiers


async def test_an_admin_sets_tiers_and_bad_ones_are_refused_by_field(
    client: httpx.AsyncClient, pool: Pool, admin_key: str, pos_key: str
) -> None:
    await program(pool)
    done = await gql(client, SET_TIERS, {"tiers": TIERS, "window": "CALENDAR_YEAR"}, auth=admin_key)
    assert [t["name"] for t in done["data"]["setTiers"]["tiers"]] == ["Member", "Silver", "Gold"]
    listed = await gql(
        client, "{ tiers { name } program { tierWindow tierGraceDays } }", auth=pos_key
    )
    assert listed["data"]["program"] == {"tierWindow": "CALENDAR_YEAR", "tierGraceDays": 30}
    doubled = [TIERS[0], {**TIERS[1], "qualifyingPoints": 0}]
    refused = await gql(client, SET_TIERS, {"tiers": doubled}, auth=admin_key)
    assert refused["data"]["setTiers"]["field"] == "tiers"
    weak = [{**TIERS[0], "multiplierPercent": 50}]
    refused = await gql(client, SET_TIERS, {"tiers": weak}, auth=admin_key)
    assert refused["data"]["setTiers"]["field"] == "tiers[0].multiplierPercent"
    grace = await gql(client, SET_TIERS, {"tiers": TIERS, "grace": 400}, auth=admin_key)
    assert grace["data"]["setTiers"]["field"] == "graceDays"
    denied = await gql(client, SET_TIERS, {"tiers": TIERS}, auth=pos_key)
    assert denied["data"] is None and denied["errors"]


async def test_a_tier_a_rule_is_limited_to_cannot_be_removed(
    client: httpx.AsyncClient, pool: Pool, admin_key: str
) -> None:
    book = await program(pool)
    await tiers(pool, book)
    gold_only = {
        "kind": "PRODUCT_BONUS",
        "name": "Gold pizza",
        "productBonus": {"target": {"category": "pizza"}, "points": 5},
        "conditions": {"tiers": ["Gold"]},
    }
    create = "mutation C($i: RuleInput!) { createRule(input: $i) { __typename } }"
    saved = await gql(client, create, {"i": gold_only}, auth=admin_key)
    assert saved["data"]["createRule"]["__typename"] == "RuleSaved", saved
    refused = await gql(client, SET_TIERS, {"tiers": TIERS[:2]}, auth=admin_key)
    assert refused["data"]["setTiers"]["field"] == "tiers"
    assert "Gold" in refused["data"]["setTiers"]["message"]


async def test_the_purchase_that_crosses_a_threshold_moves_up_and_says_so(
    client: httpx.AsyncClient, pool: Pool, pos_key: str
) -> None:
    book = await program(pool)
    await tiers(pool, book)
    token = customer_token("alice")
    now = datetime.now(UTC)

    async def record(n: int, qty: int) -> dict[str, Any]:
        body = {
            "customerId": "alice",
            "storeId": "S1",
            "transactionId": f"T{n}",
            "occurredAt": now.isoformat(),
            "lines": [{"sku": "P10", "quantity": qty, "unitPrice": 1000}],
        }
        result: dict[str, Any] = (await gql(client, RECORD, {"input": body}, auth=pos_key))["data"][
            "recordPurchase"
        ]
        return result

    first = await record(1, 4)
    assert (first["pointsEarned"], first["tierChange"]) == (40, None)
    me = (await gql(client, ME, auth=token))["data"]["me"]["tier"]
    month_end = (now.astimezone(BERLIN).date().replace(day=28) + timedelta(days=4)).replace(
        day=1
    ) - timedelta(days=1)
    assert me["tier"] == {"name": "Member", "multiplierPercent": 100}
    assert (me["qualifyingPoints"], me["pointsToNext"], me["nextTier"]) == (
        40,
        10,
        {"name": "Silver"},
    )
    assert me["progress"] == f"10 points to Silver, by {month_end.isoformat()}"
    crossing = await record(2, 1)
    assert crossing["pointsEarned"] == 10  # earned at the tier it started in
    assert crossing["tierChange"]["fromTier"] == "Member"
    assert crossing["tierChange"]["toTier"] == "Silver"
    replay = await record(2, 1)
    assert replay["tierChange"] == crossing["tierChange"]
    silver = await record(3, 2)
    assert (silver["pointsEarned"], silver["tierChange"]) == (30, None)  # 20 x 150%
    me = (await gql(client, ME, auth=token))["data"]["me"]["tier"]
    assert (
        me["tier"]["name"] == "Silver"
        and me["keptThrough"] == crossing["tierChange"]["keptThrough"]
    )
    assert [kind for kind, _ in await events(pool, "alice")].count("TIER_CHANGED") == 1


async def test_a_calendar_year_tier_is_kept_through_the_next_year_then_moves_down(
    pool: Pool,
) -> None:
    book = await program(pool, window="calendar_year", grace_days=30)
    await tiers(pool, book)
    reached = await buy(pool, book, "alice", 1, datetime(2026, 6, 10, 12, tzinfo=UTC), qty=25)
    assert reached.tier_change == ("Member", "Gold", date(2026, 12, 31))
    # The grace period: still Gold on 2027-01-30; reviewed the day after, on 2026's points.
    assert (
        await service.review_tiers(pool, book, datetime(2027, 1, 30, 12, tzinfo=UTC))
    ).reviewed == 0
    kept = await service.review_tiers(pool, book, datetime(2027, 1, 31, 12, tzinfo=UTC))
    assert (kept.reviewed, kept.moved) == (1, 0)
    account = await held(pool)
    assert account == ("Gold", date(2027, 12, 31))
    # 2027 earns 60: Silver. Reviewed after 2027's grace, Gold moves down to Silver.
    await buy(pool, book, "alice", 2, datetime(2027, 3, 1, 12, tzinfo=UTC), qty=4)
    moved = await service.review_tiers(pool, book, datetime(2028, 1, 31, 12, tzinfo=UTC))
    assert (moved.reviewed, moved.moved) == (1, 1)
    again = await service.review_tiers(pool, book, datetime(2028, 1, 31, 13, tzinfo=UTC))
    assert again.reviewed == 0
    account = await held(pool)
    assert account == ("Silver", date(2028, 12, 31))
    changes = [e for kind, e in await events(pool, "alice") if kind == "TIER_CHANGED"]
    assert [(e["from"], e["to"]) for e in changes] == [("Member", "Gold"), ("Gold", "Silver")]


async def test_a_rolling_tier_counts_points_earned_in_the_grace_period(pool: Pool) -> None:
    book = await program(pool, grace_days=30)
    await tiers(pool, book)
    march = datetime(2026, 3, 10, 12, tzinfo=UTC)
    for n, customer in enumerate(("keeps", "drops")):
        await buy(pool, book, customer, n, march, qty=6)  # 60: Silver, kept through 2027-03-31
    # 2027-04: the March 2026 points have left the window; one customer earns again in grace.
    await buy(pool, book, "keeps", 10, datetime(2027, 4, 20, 12, tzinfo=UTC), qty=5)
    early = await service.review_tiers(pool, book, datetime(2027, 4, 30, 12, tzinfo=UTC))
    assert early.reviewed == 0
    done = await service.review_tiers(pool, book, datetime(2027, 5, 1, 12, tzinfo=UTC))
    assert (done.reviewed, done.moved) == (2, 1)
    rows = await pool.fetch("SELECT customer_id, tier FROM accounts ORDER BY customer_id")
    assert [(r["customer_id"], r["tier"]) for r in rows] == [
        ("drops", "Member"),
        ("keeps", "Silver"),
    ]


async def test_removing_a_tier_moves_its_customers_to_the_one_below(pool: Pool) -> None:
    book = await program(pool)
    await tiers(pool, book)
    await buy(pool, book, "alice", 1, datetime.now(UTC), qty=25)
    keep = [t for t in TIERS if t["name"] != "Gold"]
    await service.set_tiers(
        pool,
        book,
        [service.Tier(t["name"], t["qualifyingPoints"], t["multiplierPercent"]) for t in keep],
        None,
    )
    assert (await held(pool))[0] == "Silver"
    assert (await events(pool, "alice"))[-1] == (
        "TIER_CHANGED",
        {"from": "Gold", "to": "Silver", "keptThrough": None},
    )
    await service.set_tiers(pool, book, [service.Tier("Member", 0, 100)], None)
    assert await held(pool) == ("Member", None)  # the lowest tier is never reviewed


# Expiry


async def test_points_expire_at_the_end_of_the_local_day_across_a_clock_change(
    pool: Pool,
) -> None:
    book = await program(pool, expiry_months=12)
    earned = datetime(2025, 10, 25, 10, tzinfo=UTC)  # a Saturday in Berlin, summer time
    await buy(pool, book, "alice", 1, earned, qty=3)
    # 2026-10-25 is the autumn change: the day ends at 2026-10-26 00:00 +01:00.
    last_moment = datetime(2026, 10, 25, 22, 59, 59, tzinfo=UTC)
    assert (await service.expire_points(pool, book, last_moment)).entries == 0
    assert await pool.fetchval("SELECT balance FROM accounts") == 30
    gone = await service.expire_points(pool, book, datetime(2026, 10, 25, 23, tzinfo=UTC))
    assert (gone.customers, gone.entries, gone.points) == (1, 1, 30)
    again = await service.expire_points(pool, book, datetime(2026, 10, 26, 12, tzinfo=UTC))
    assert again.entries == 0
    entry = await pool.fetchrow("SELECT kind, points, reason FROM ledger_entries ORDER BY id DESC")
    assert entry is not None
    assert (entry["kind"], entry["points"]) == ("expire", -30)
    assert entry["reason"] == "points earned 2025-10-25 expired"
    assert await pool.fetchval("SELECT balance FROM accounts") == 0
    assert [kind for kind, _ in await events(pool, "alice")][-1] == "POINTS_EXPIRED"
    assert await service.verify_ledger(pool) == []


async def test_points_earned_on_a_leap_day_expire_at_the_end_of_february_28(pool: Pool) -> None:
    book = await program(pool, "America/New_York", expiry_months=12)
    await buy(pool, book, "alice", 1, datetime(2028, 2, 29, 12, tzinfo=NEW_YORK), qty=2)
    expires = await pool.fetchval("SELECT expires_at FROM point_lots")
    assert expires == datetime(2029, 3, 1, 0, tzinfo=NEW_YORK)
    assert (await service.expire_points(pool, book, expires - timedelta(seconds=1))).points == 0
    assert (await service.expire_points(pool, book, expires)).points == 20


async def test_spending_takes_the_points_that_expire_first(
    client: httpx.AsyncClient, pool: Pool, admin_key: str
) -> None:
    book = await program(pool, expiry_months=12)
    now = datetime.now(UTC)
    old = now - timedelta(days=300)
    await service.record_purchase(pool, book, bought("alice", 1, old, qty=5), now=now)
    await service.record_purchase(pool, book, bought("alice", 2, now, qty=4), now=now)
    reward = await reward_costing(client, admin_key, 30)
    redeem = """mutation R($r: ID!) { redeemReward(rewardId: $r, idempotencyKey: "k1",
        customerId: "alice") { __typename ... on RewardRedeemed { balance } } }"""
    spent = await gql(client, redeem, {"r": reward}, auth=admin_key)
    assert spent["data"]["redeemReward"]["balance"] == 60
    lots = await pool.fetch("SELECT points, remaining FROM point_lots ORDER BY earned_at")
    assert [(r["points"], r["remaining"]) for r in lots] == [(50, 20), (40, 40)]
    me = (await gql(client, ME, auth=customer_token("alice")))["data"]["me"]
    assert [e["points"] for e in me["expiring"]] == [20, 40]
    first_day = (old.astimezone(BERLIN).date().replace(year=old.year + 1)).isoformat()
    assert me["expiring"][0]["lastDay"] == first_day
    at_first_expiry = datetime.fromisoformat(me["expiring"][0]["expiresAt"])
    assert (await service.expire_points(pool, book, at_first_expiry)).points == 20
    assert await pool.fetchval("SELECT balance FROM accounts") == 40
    assert await service.verify_ledger(pool) == []


# Pending points


async def test_points_are_pending_until_the_return_window_has_passed(
    client: httpx.AsyncClient, pool: Pool, admin_key: str
) -> None:
    book = await program(pool, pending_days=14)
    now = datetime.now(UTC)
    await service.record_purchase(
        pool, book, bought("alice", 1, now - timedelta(days=20), 3), now=now
    )
    await service.record_purchase(pool, book, bought("alice", 2, now, qty=5), now=now)
    me = (await gql(client, ME, auth=customer_token("alice")))["data"]["me"]
    assert (me["balance"], me["pendingPoints"], me["availablePoints"]) == (80, 50, 30)
    reward = await reward_costing(client, admin_key, 40)
    redeem = """mutation R($r: ID!, $k: String!) { redeemReward(rewardId: $r, idempotencyKey: $k,
        customerId: "alice") { __typename ... on InsufficientPointsError { balance requested }
        ... on RewardRedeemed { balance } } }"""
    refused = await gql(client, redeem, {"r": reward, "k": "k1"}, auth=admin_key)
    assert refused["data"]["redeemReward"] == {
        "__typename": "InsufficientPointsError",
        "balance": 30,
        "requested": 40,
    }
    # Two weeks on: the window has passed for the second purchase too.
    await pool.execute("UPDATE point_lots SET available_at = now() - interval '1 second'")
    paid = await gql(client, redeem, {"r": reward, "k": "k2"}, auth=admin_key)
    assert paid["data"]["redeemReward"] == {"__typename": "RewardRedeemed", "balance": 40}
    assert await service.verify_ledger(pool) == []


async def test_a_return_takes_its_own_points_first_then_others_then_leaves_a_debt(
    client: httpx.AsyncClient, pool: Pool, admin_key: str, pos_key: str
) -> None:
    book = await program(pool)
    now = datetime.now(UTC)
    await service.record_purchase(pool, book, bought("alice", 1, now, qty=2), now=now)
    await service.record_purchase(pool, book, bought("alice", 2, now, qty=3), now=now)
    await service.adjust_points(
        pool, book, customer_id="alice", points=-45, reason="spent", idempotency_key="a1"
    )
    lots = await pool.fetch("SELECT purchase_id, remaining FROM point_lots ORDER BY id")
    assert [r["remaining"] for r in lots] == [0, 5]  # the lot that lasts longest is spent last
    back = service.ReturnRequest("S1", "T1", "R1", (("P10", 2),))
    returned = await service.record_return(pool, book, back)
    assert (returned.points, returned.balance, returned.in_debt) == (20, -15, True)
    assert await pool.fetchval("SELECT sum(remaining) FROM point_lots") == 0
    me = (await gql(client, ME, auth=customer_token("alice")))["data"]["me"]
    assert (me["balance"], me["debt"], me["availablePoints"]) == (-15, 15, -15)
    # The next purchase pays the debt off before it opens a lot.
    await service.record_purchase(pool, book, bought("alice", 3, now, qty=4), now=now)
    assert await pool.fetchval("SELECT sum(remaining) FROM point_lots") == 25
    assert await service.verify_ledger(pool) == []
    kinds = [kind for kind, _ in await events(pool, "alice")]
    assert kinds == [
        "POINTS_EARNED",
        "POINTS_EARNED",
        "POINTS_ADJUSTED",
        "POINTS_REVERSED",
        "POINTS_EARNED",
    ]


# The scheduled task and the command


async def test_the_server_runs_the_lifecycle_on_a_schedule(
    pool: Pool, dsn: str, settings: Settings
) -> None:
    book = await program(pool, expiry_months=1)
    long_ago = datetime.now(UTC) - timedelta(days=70)
    await service.record_purchase(
        pool, book, bought("alice", 1, long_ago), now=long_ago + timedelta(days=1)
    )
    scheduled = replace(settings, lifecycle_seconds=0.05)
    async with serving(create_app(scheduled, pool=pool, dsn=dsn)):
        for _ in range(100):
            if await pool.fetchval("SELECT balance FROM accounts") == 0:
                break
            await asyncio.sleep(0.05)
    assert await pool.fetchval("SELECT count(*) FROM ledger_entries WHERE kind = 'expire'") == 1


# The outbox


async def test_each_change_is_in_the_outbox_once_and_a_refused_write_leaves_none(
    client: httpx.AsyncClient, pool: Pool, admin_key: str
) -> None:
    book = await program(pool)
    now = datetime.now(UTC)
    await buy(pool, book, "alice", 1, now, qty=5)
    await buy(pool, book, "alice", 1, now, qty=5)  # a retry
    reward = await reward_costing(client, admin_key, 30)
    redeem = """mutation R($r: ID!, $k: String!) { redeemReward(rewardId: $r, idempotencyKey: $k,
        customerId: "alice") { __typename ... on RewardRedeemed { voucher { code } } } }"""
    paid = await gql(client, redeem, {"r": reward, "k": "k1"}, auth=admin_key)
    refused = await gql(client, redeem, {"r": reward, "k": "k2"}, auth=admin_key)
    assert refused["data"]["redeemReward"]["__typename"] == "InsufficientPointsError"
    goodwill = """mutation { issueRebateCode(input: {customerId: "alice", idempotencyKey: "g1",
        amountOff: 300}) { ... on RebateCodeIssued { rebateCode { code } } } }"""
    issued = await gql(client, goodwill, auth=admin_key)
    found = await events(pool, "alice")
    assert [kind for kind, _ in found] == [
        "POINTS_EARNED",
        "POINTS_REDEEMED",
        "CODE_ISSUED",
        "CODE_ISSUED",
    ]
    assert found[0][1] == {
        "purchaseId": found[0][1]["purchaseId"],
        "storeId": "S1",
        "transactionId": "T1",
        "points": 50,
        "balance": 50,
    }
    assert found[1][1]["points"] == 30 and found[1][1]["balance"] == 20
    assert found[2][1]["code"] == paid["data"]["redeemReward"]["voucher"]["code"]
    assert found[3][1]["code"] == issued["data"]["issueRebateCode"]["rebateCode"]["code"]
    assert await events(pool, "bob") == []


async def test_points_past_their_last_day_are_never_spent_even_before_the_job_runs(
    client: httpx.AsyncClient, pool: Pool, admin_key: str
) -> None:
    book = await program(pool, expiry_months=12)
    now = datetime.now(UTC)
    old = now - timedelta(days=370)  # its lot's last day has passed; no job has run
    await service.record_purchase(pool, book, bought("alice", 1, old, qty=5), now=now)
    await service.record_purchase(pool, book, bought("alice", 2, now, qty=4), now=now)
    me = (await gql(client, ME, auth=customer_token("alice")))["data"]["me"]
    assert (me["balance"], me["availablePoints"]) == (90, 40)
    reward = await reward_costing(client, admin_key, 60)
    redeem = """mutation R($r: ID!) { redeemReward(rewardId: $r, idempotencyKey: "k1",
        customerId: "alice") { __typename ... on InsufficientPointsError { balance requested }
    } }"""
    refused = await gql(client, redeem, {"r": reward}, auth=admin_key)
    assert refused["data"]["redeemReward"] == {
        "__typename": "InsufficientPointsError",
        "balance": 40,
        "requested": 60,
    }
    # The refusal wrote the old points off, with their own entry, as the job would have.
    kinds = await pool.fetch("SELECT kind, points FROM ledger_entries ORDER BY id")
    assert [(r["kind"], r["points"]) for r in kinds] == [
        ("earn", 50),
        ("earn", 40),
        ("expire", -50),
    ]
    # Returning the expired purchase takes nothing more: its points are already gone.
    part = service.ReturnRequest("S1", "T1", "R1", (("P10", 2),))
    assert (await service.record_return(pool, book, part)).points == 0
    rest = service.ReturnRequest("S1", "T1", "R2", (("P10", 3),))
    assert (await service.record_return(pool, book, rest)).points == 0
    live = service.ReturnRequest("S1", "T2", "R3", (("P10", 1),))
    assert (await service.record_return(pool, book, live)).points == 10
    assert await pool.fetchval("SELECT balance FROM accounts") == 30
    assert (await service.expire_points(pool, book, now)).entries == 0
    assert await service.verify_ledger(pool) == []


async def test_a_points_policy_setting_left_out_stays_as_it_is(
    client: httpx.AsyncClient, pool: Pool, admin_key: str
) -> None:
    await program(pool)
    policy = """mutation P($e: Int, $p: Int) { setPointsPolicy(expiryMonths: $e, pendingDays: $p) {
        ... on PointsPolicySet { program { expiryMonths pendingDays } }
        ... on InvalidInputError { field } } }"""
    both = await gql(client, policy, {"e": 12, "p": 7}, auth=admin_key)
    assert both["data"]["setPointsPolicy"]["program"] == {"expiryMonths": 12, "pendingDays": 7}
    only_pending = """mutation { setPointsPolicy(pendingDays: 3) {
        ... on PointsPolicySet { program { expiryMonths pendingDays } } } }"""
    kept = await gql(client, only_pending, auth=admin_key)
    assert kept["data"]["setPointsPolicy"]["program"] == {"expiryMonths": 12, "pendingDays": 3}
    never = """mutation { setPointsPolicy(expiryMonths: null) {
        ... on PointsPolicySet { program { expiryMonths pendingDays } } } }"""
    forever = await gql(client, never, auth=admin_key)
    assert forever["data"]["setPointsPolicy"]["program"] == {"expiryMonths": None, "pendingDays": 3}
    bad = await gql(client, policy, {"e": 0}, auth=admin_key)
    assert bad["data"]["setPointsPolicy"] == {"field": "expiryMonths"}


async def test_one_run_expires_every_due_lot_however_they_fall_into_batches(
    pool: Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(expiry, "BATCH", 2)
    book = await program(pool, expiry_months=1)
    now = datetime.now(UTC)
    for n in range(3):  # three lots of alice's expire before bob's one
        at = now - timedelta(days=90 - n)
        await service.record_purchase(pool, book, bought("alice", n, at), now=at)
    at = now - timedelta(days=80)
    await service.record_purchase(pool, book, bought("bob", 9, at), now=at)
    done = await service.expire_points(pool, book, now)
    assert (done.customers, done.entries, done.points) == (2, 4, 40)
    assert await pool.fetchval("SELECT sum(balance) FROM accounts") == 0


async def test_spending_pages_through_many_lots_in_expiry_order(
    client: httpx.AsyncClient, pool: Pool, admin_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lot_service, "PAGE", 2)
    book = await program(pool, expiry_months=12)
    now = datetime.now(UTC)
    for n in range(5):  # the oldest lot expires first
        at = now - timedelta(days=50 - n)
        await service.record_purchase(pool, book, bought("alice", n, at), now=at)
    reward = await reward_costing(client, admin_key, 35)
    redeem = """mutation R($r: ID!) { redeemReward(rewardId: $r, idempotencyKey: "k1",
        customerId: "alice") { ... on RewardRedeemed { balance } } }"""
    spent = await gql(client, redeem, {"r": reward}, auth=admin_key)
    assert spent["data"]["redeemReward"]["balance"] == 15
    lots = await pool.fetch("SELECT remaining FROM point_lots ORDER BY expires_at")
    assert [row["remaining"] for row in lots] == [0, 0, 0, 5, 10]


async def test_the_next_page_of_lots_is_found_by_the_index_not_by_filtering(pool: Pool) -> None:
    """Spending costs the same for a customer with 2,000 open lots as for one with 20."""
    await program(pool)
    await pool.execute("INSERT INTO accounts (customer_id, balance) VALUES ('alice', 2000)")
    await pool.execute(
        """
        INSERT INTO point_lots (customer_id, points, remaining, earned_at, available_at,
                                expires_at)
        SELECT 'alice', 1, 1, now(), now(), now() + n * interval '1 hour'
        FROM generate_series(1, 2000) AS n
        """
    )
    await pool.execute("ANALYZE point_lots")
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        await conn.execute(f"PREPARE next_page AS {SPENDABLE_AFTER}")
        after = await conn.fetchval(
            "SELECT expires_at FROM point_lots ORDER BY id OFFSET 1500 LIMIT 1"
        )
        plan = await conn.fetchval(
            "EXPLAIN (ANALYZE, FORMAT JSON) "
            f"EXECUTE next_page('alice', now(), 32, '{after.isoformat()}', 0)"
        )
    text = json.dumps(json.loads(plan))
    removed = [int(n) for n in re.findall(r'"Rows Removed by Filter": (\d+)', text)]
    assert sum(removed) < 50, text
    assert "point_lots_open" in text


RETURN = """mutation R($input: ReturnInput!) { recordReturn(input: $input) {
    __typename ... on ReturnRecorded { pointsReversed } } }"""
REDEEM = """mutation R($r: ID!, $k: String!, $c: String) { redeemReward(rewardId: $r,
    idempotencyKey: $k, customerId: $c) { __typename } }"""


async def test_redemptions_returns_and_expiry_racing_keep_every_invariant(
    live_url: str, client: httpx.AsyncClient, pool: Pool, admin_key: str, pos_key: str
) -> None:
    book = await program(pool, expiry_months=12)
    reward = await reward_costing(client, admin_key, 30)
    now = datetime.now(UTC)
    headers = {"Authorization": f"Bearer {pos_key}"}
    for round_no in range(20):
        customer = f"c{round_no}"
        old = now - timedelta(days=370)  # 50 points past their last day
        await service.record_purchase(pool, book, bought(customer, round_no * 10, old, 5), now=now)
        for n in range(1, 4):  # 3 x 40 points that are live
            request = bought(customer, round_no * 10 + n, now, qty=4)
            await service.record_purchase(pool, book, request, now=now)

        def redeem(n: int, customer: str = customer) -> dict[str, Any]:
            variables = {"r": reward, "k": f"{customer}-{n}", "c": customer}
            return {"query": REDEEM, "variables": variables}

        def give_back(n: int, round_no: int = round_no) -> dict[str, Any]:
            lines = [{"sku": "P10", "quantity": 1}]
            purchase = f"T{round_no * 10 + n}"
            body = {"storeId": "S1", "transactionId": purchase, "returnId": f"R{purchase}"}
            return {"query": RETURN, "variables": {"input": {**body, "lines": lines}}}

        async with httpx.AsyncClient(base_url=live_url, timeout=60) as http:
            posts = [http.post("/graphql", json=redeem(n), headers=headers) for n in range(8)]
            posts += [http.post("/graphql", json=give_back(n), headers=headers) for n in (1, 2, 3)]
            responses, expired = await asyncio.gather(
                asyncio.gather(*posts), service.expire_points(pool, book)
            )
        kinds = [next(iter(r.json()["data"].values()))["__typename"] for r in responses]
        vouchers = kinds.count("RewardRedeemed")
        assert kinds.count("ReturnRecorded") == 3
        assert vouchers in (3, 4)  # 120 live points, of which the returns take back 30
        assert expired.entries in (0, 1)  # the job, or the first debit, wrote them off
        balance = await pool.fetchval(
            "SELECT balance FROM accounts WHERE customer_id = $1", customer
        )
        assert balance == 120 - 30 - 30 * vouchers
        expire_entries = await pool.fetchval(
            "SELECT count(*) FROM ledger_entries WHERE customer_id = $1 AND kind = 'expire'",
            customer,
        )
        assert expire_entries == 1
    assert await service.verify_ledger(pool) == []
