"""Nudges at the counter: shown and recorded, taken and checked, thanked with a code."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from loyalty import service
from loyalty.store.database import Pool
from tests.support import customer_token, gql

SEED = Path(__file__).resolve().parents[2] / "db" / "seed" / "demo.json"
AT = datetime.now(UTC).isoformat()

NUDGES = """
query Nudges($cart: CartInput!, $limit: Int! = 1) {
  nudges(cart: $cart, limit: $limit) {
    __typename
    ... on NudgeList {
      nudges { id kind message extraCost points ruleId expiresAt
               change { replaceSku addSku quantity } }
    }
    ... on InvalidInputError { field message }
  }
}
"""

RECORD = """
mutation Record($input: PurchaseInput!) {
  recordPurchase(input: $input) {
    __typename
    ... on PurchaseRecorded {
      pointsEarned acceptedNudgeIds replayed
      rejectedNudgeClaims { nudgeId reason }
      rebateCodesIssued { code state amountOff }
    }
  }
}
"""

UPSIZE_WITH_THANKS = {
    "kind": "UPSIZE",
    "name": "Go large",
    "upsize": {"category": "pizza", "minSizeRank": 3, "points": 20},
    "rebate": {"amountOff": 200, "daysValid": 14},
}


async def program(client: httpx.AsyncClient, pool: Pool, admin_key: str) -> None:
    seed = json.loads(SEED.read_text())
    await service.upsert_products(
        pool,
        [service.ProductRow(**{"family": None, "size_rank": None, **p}) for p in seed["products"]],
    )
    create = "mutation C($i: RuleInput!) { createRule(input: $i) { __typename } }"
    base = {"kind": "BASE_EARN", "name": "Base", "baseEarn": {"mode": "PER_UNIT", "points": 1}}
    for rule in (base, UPSIZE_WITH_THANKS):
        result = await gql(client, create, {"i": rule}, auth=admin_key)
        assert result["data"]["createRule"]["__typename"] == "RuleSaved", result


def cart(customer: str | None = "alice", sku: str = "PEPP-M", price: int = 1249) -> dict[str, Any]:
    body: dict[str, Any] = {
        "storeId": "S1",
        "lines": [{"sku": sku, "quantity": 1, "unitPrice": price}],
    }
    if customer:
        body["customerId"] = customer
    return body


def purchase(
    n: int, sku: str, price: int, nudge_ids: list[str], customer: str = "alice"
) -> dict[str, Any]:
    return {
        "customerId": customer,
        "storeId": "S1",
        "transactionId": f"T{n}",
        "occurredAt": AT,
        "lines": [{"sku": sku, "quantity": 1, "unitPrice": price}],
        "acceptedNudgeIds": nudge_ids,
    }


async def show(client: httpx.AsyncClient, key: str, customer: str = "alice") -> dict[str, Any]:
    body = await gql(client, NUDGES, {"cart": cart(customer)}, auth=key)
    [nudge] = body["data"]["nudges"]["nudges"]
    result: dict[str, Any] = nudge
    return result


async def test_a_nudge_names_its_change_cost_and_points_and_is_recorded(
    client: httpx.AsyncClient, pool: Pool, admin_key: str, pos_key: str
) -> None:
    await program(client, pool, admin_key)
    nudge = await show(client, pos_key)
    assert nudge["kind"] == "UPSIZE"
    assert nudge["change"] == {"replaceSku": "PEPP-M", "addSku": "PEPP-L", "quantity": 1}
    assert (nudge["extraCost"], nudge["points"]) == (250, 22)  # 20 bonus + 2 more base points
    assert nudge["message"] == "Make it a Pepperoni Large for +2.50 and earn 22 bonus points"
    assert await pool.fetchval("SELECT count(*) FROM nudges WHERE outcome IS NULL") == 1
    assert await pool.fetchval("SELECT count(*) FROM ledger_entries") == 0


async def test_a_taken_nudge_is_checked_and_thanked_with_a_code(
    client: httpx.AsyncClient, pool: Pool, admin_key: str, pos_key: str
) -> None:
    await program(client, pool, admin_key)
    nudge = await show(client, pos_key)
    body = await gql(
        client, RECORD, {"input": purchase(1, "PEPP-L", 1499, [nudge["id"]])}, auth=pos_key
    )
    result = body["data"]["recordPurchase"]
    assert result["acceptedNudgeIds"] == [nudge["id"]]
    assert result["rejectedNudgeClaims"] == []
    assert result["pointsEarned"] == 14 + 20
    [code] = result["rebateCodesIssued"]
    assert code["code"].startswith("THX-") and code["amountOff"] == 200
    mine = await gql(client, "{ me { rebateCodes { code } } }", auth=customer_token("alice"))
    assert mine["data"]["me"]["rebateCodes"] == [{"code": code["code"]}]
    again = await gql(
        client, RECORD, {"input": purchase(1, "PEPP-L", 1499, [nudge["id"]])}, auth=pos_key
    )
    assert again["data"]["recordPurchase"]["replayed"] is True
    assert again["data"]["recordPurchase"]["rebateCodesIssued"] == [code]  # not a second code
    assert await pool.fetchval("SELECT count(*) FROM rebate_codes") == 1
    reuse = await gql(
        client, RECORD, {"input": purchase(2, "PEPP-L", 1499, [nudge["id"]])}, auth=pos_key
    )
    assert reuse["data"]["recordPurchase"]["rejectedNudgeClaims"][0]["reason"] == (
        "this nudge was already accepted"
    )


async def test_false_claims_earn_nothing_and_are_reported(
    client: httpx.AsyncClient, pool: Pool, admin_key: str, pos_key: str
) -> None:
    await program(client, pool, admin_key)
    nudge = await show(client, pos_key)
    bobs = await show(client, pos_key, customer="bob")
    claims = [nudge["id"], bobs["id"], "not-a-nudge"]
    body = await gql(client, RECORD, {"input": purchase(1, "PEPP-M", 1249, claims)}, auth=pos_key)
    result = body["data"]["recordPurchase"]
    assert result["acceptedNudgeIds"] == []
    assert {r["nudgeId"]: r["reason"] for r in result["rejectedNudgeClaims"]} == {
        nudge["id"]: "the purchase has no PEPP-L, which the nudge suggested",
        bobs["id"]: "no such nudge for this customer",
        "not-a-nudge": "no such nudge for this customer",
    }
    assert result["rebateCodesIssued"] == []
    assert await pool.fetchval("SELECT count(*) FROM rebate_codes") == 0
    outcome = await pool.fetchval("SELECT outcome FROM nudges WHERE customer_id = 'alice'")
    assert outcome == "declined"  # shown, and the purchase came without it


async def test_a_nudge_declined_three_times_is_not_shown_again(
    client: httpx.AsyncClient, pool: Pool, admin_key: str, pos_key: str
) -> None:
    await program(client, pool, admin_key)
    for n in range(3):
        await show(client, pos_key)
        await gql(client, RECORD, {"input": purchase(n, "PEPP-M", 1249, [])}, auth=pos_key)
    body = await gql(client, NUDGES, {"cart": cart()}, auth=pos_key)
    assert body["data"]["nudges"]["nudges"] == []
    others = await gql(client, NUDGES, {"cart": cart("bob")}, auth=pos_key)
    assert len(others["data"]["nudges"]["nudges"]) == 1


async def test_apps_get_nudges_for_their_own_customer(
    client: httpx.AsyncClient, pool: Pool, admin_key: str, pos_key: str
) -> None:
    await program(client, pool, admin_key)
    body = await gql(client, NUDGES, {"cart": cart("bob")}, auth=customer_token("alice"))
    assert len(body["data"]["nudges"]["nudges"]) == 1
    assert await pool.fetchval("SELECT customer_id FROM nudges") == "alice"
    anonymous = await gql(client, NUDGES, {"cart": cart(None)}, auth=pos_key)
    assert anonymous["data"]["nudges"]["field"] == "customerId"
    too_many = await gql(client, NUDGES, {"cart": cart(), "limit": 50}, auth=pos_key)
    assert too_many["data"]["nudges"]["field"] == "limit"


async def test_admins_tune_the_add_on_guardrail(
    client: httpx.AsyncClient, pool: Pool, admin_key: str, pos_key: str
) -> None:
    await program(client, pool, admin_key)
    await pool.execute(
        "INSERT INTO program (id, name, currency, timezone) VALUES (1, 'P', 'EUR', 'UTC')"
    )
    add_on = {
        "kind": "ADD_ON",
        "name": "Dessert",
        "addOn": {"trigger": {"category": "pizza"}, "addOn": {"sku": "LAVA-CAKE"}, "points": 15},
    }
    create = "mutation C($i: RuleInput!) { createRule(input: $i) { __typename } }"
    await gql(client, create, {"i": add_on}, auth=admin_key)
    xl = {
        "customerId": "alice",
        "storeId": "S1",
        "lines": [{"sku": "PEPP-XL", "quantity": 1, "unitPrice": 1749}],
    }
    kinds = """
    query N($cart: CartInput!) {
      nudges(cart: $cart, limit: 3) { ... on NudgeList { nudges { kind } } }
    }
    """
    before = await gql(client, kinds, {"cart": xl}, auth=pos_key)
    assert [n["kind"] for n in before["data"]["nudges"]["nudges"]] == []  # 4.99 > 10% of 17.49
    tune = """
    mutation T($a: Int!) { setNudgeLimits(addOnMaxPercent: $a) {
      __typename ... on NudgeLimits { addOnMaxPercent } ... on InvalidInputError { field } } }
    """
    assert (await gql(client, tune, {"a": 0}, auth=admin_key))["data"]["setNudgeLimits"][
        "field"
    ] == "addOnMaxPercent"
    assert (await gql(client, tune, {"a": 30}, auth=admin_key))["data"]["setNudgeLimits"][
        "addOnMaxPercent"
    ] == 30
    after = await gql(client, kinds, {"cart": xl}, auth=pos_key)
    assert [n["kind"] for n in after["data"]["nudges"]["nudges"]] == ["ADD_ON"]


async def test_one_nudge_pays_one_thank_you_however_it_is_claimed(
    client: httpx.AsyncClient, pool: Pool, admin_key: str, pos_key: str
) -> None:
    await program(client, pool, admin_key)
    shown = [await show(client, pos_key) for _ in range(5)]
    assert len({nudge["id"] for nudge in shown}) == 1  # asked again: the same nudge
    nudge_id = shown[0]["id"]
    spellings = [nudge_id, nudge_id.upper(), f"urn:uuid:{nudge_id}", nudge_id.replace("-", "")]
    body = await gql(
        client, RECORD, {"input": purchase(1, "PEPP-L", 1499, spellings)}, auth=pos_key
    )
    result = body["data"]["recordPurchase"]
    assert result["acceptedNudgeIds"] == [nudge_id]
    assert len(result["rebateCodesIssued"]) == 1
    assert {r["reason"] for r in result["rejectedNudgeClaims"]} == {
        "the same nudge is claimed twice"
    }
    assert await pool.fetchval("SELECT count(*) FROM rebate_codes") == 1


async def test_a_claim_holds_only_if_the_nudges_rule_paid(
    client: httpx.AsyncClient, pool: Pool, admin_key: str, pos_key: str
) -> None:
    await program(client, pool, admin_key)
    add_on = {
        "kind": "ADD_ON",
        "name": "Dessert",
        "addOn": {"trigger": {"category": "pizza"}, "addOn": {"sku": "LAVA-CAKE"}, "points": 15},
        "rebate": {"amountOff": 300},
    }
    create = "mutation C($i: RuleInput!) { createRule(input: $i) { __typename } }"
    await gql(client, create, {"i": add_on}, auth=admin_key)
    big = {
        "customerId": "alice",
        "storeId": "S1",
        "lines": [{"sku": "PEPP-XL", "quantity": 4, "unitPrice": 1749}],
    }
    body = await gql(client, NUDGES, {"cart": big, "limit": 3}, auth=pos_key)
    [nudge] = [n for n in body["data"]["nudges"]["nudges"] if n["kind"] == "ADD_ON"]
    cake_alone = purchase(1, "LAVA-CAKE", 1, [nudge["id"]])  # the add-on without its pizza
    result = (await gql(client, RECORD, {"input": cake_alone}, auth=pos_key))["data"][
        "recordPurchase"
    ]
    assert result["acceptedNudgeIds"] == []
    assert result["rejectedNudgeClaims"][0]["reason"] == (
        "the nudge's rule did not pay for this purchase"
    )
    assert await pool.fetchval("SELECT count(*) FROM rebate_codes") == 0


async def test_an_expired_nudge_cannot_be_claimed_by_backdating_the_purchase(
    client: httpx.AsyncClient, pool: Pool, admin_key: str, pos_key: str
) -> None:
    await program(client, pool, admin_key)
    nudge = await show(client, pos_key)
    await pool.execute(
        "UPDATE nudges SET shown_at = now() - interval '2 days',"
        " expires_at = now() - interval '2 days' + interval '15 minutes'"
    )
    backdated = purchase(1, "PEPP-L", 1499, [nudge["id"]])
    backdated["occurredAt"] = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    result = (await gql(client, RECORD, {"input": backdated}, auth=pos_key))["data"][
        "recordPurchase"
    ]
    assert result["rejectedNudgeClaims"] == [
        {"nudgeId": nudge["id"], "reason": "this nudge had expired"}
    ]
    assert result["rebateCodesIssued"] == []


async def test_asking_again_in_one_visit_is_one_decline(
    client: httpx.AsyncClient, pool: Pool, admin_key: str, pos_key: str
) -> None:
    await program(client, pool, admin_key)
    for _ in range(3):
        await show(client, pos_key)
    await gql(client, RECORD, {"input": purchase(1, "PEPP-M", 1249, [])}, auth=pos_key)
    assert await pool.fetchval("SELECT count(*) FROM nudges WHERE outcome = 'declined'") == 1
    assert (
        len((await gql(client, NUDGES, {"cart": cart()}, auth=pos_key))["data"]["nudges"]["nudges"])
        == 1
    )
