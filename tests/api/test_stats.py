"""The statistics job: bought together, how nudges convert, who buys only on discount."""

from typing import Any

import httpx

from loyalty.service.stats import refresh_stats
from loyalty.store.database import Pool
from tests.api.test_nudges import AT, NUDGES, RECORD, program
from tests.support import gql

DESSERT_ADD_ON = {
    "kind": "ADD_ON",
    "name": "Dessert with pizza",
    "addOn": {"trigger": {"category": "pizza"}, "addOn": {"category": "desserts"}, "points": 15},
}


async def create(client: httpx.AsyncClient, admin_key: str, rule: dict[str, Any]) -> None:
    create = "mutation C($i: RuleInput!) { createRule(input: $i) { __typename } }"
    result = await gql(client, create, {"i": rule}, auth=admin_key)
    assert result["data"]["createRule"]["__typename"] == "RuleSaved", result


async def buy(
    client: httpx.AsyncClient, key: str, n: int, lines: list[tuple[str, int]], **extra: Any
) -> dict[str, Any]:
    body = {
        "customerId": extra.pop("customer", f"history-{n}"),
        "storeId": "S1",
        "transactionId": f"H{n}",
        "occurredAt": AT,
        "lines": [{"sku": sku, "quantity": 1, "unitPrice": price} for sku, price in lines],
        **extra,
    }
    result: dict[str, Any] = (await gql(client, RECORD, {"input": body}, auth=key))["data"][
        "recordPurchase"
    ]
    return result


def big_cart(customer: str) -> dict[str, Any]:
    return {
        "customerId": customer,
        "storeId": "S1",
        "lines": [{"sku": "PEPP-XL", "quantity": 4, "unitPrice": 1749}],
    }


async def test_add_ons_follow_what_customers_buy_together(
    client: httpx.AsyncClient, pool: Pool, admin_key: str, pos_key: str
) -> None:
    await program(client, pool, admin_key)
    await create(client, admin_key, DESSERT_ADD_ON)
    first = await gql(client, NUDGES, {"cart": big_cart("alice")}, auth=pos_key)
    assert first["data"]["nudges"]["nudges"][0]["change"]["addSku"] == "LAVA-CAKE"
    for n in range(4):  # people who buy an XL pepperoni take cookie dough with it
        await buy(client, pos_key, n, [("PEPP-XL", 1749), ("COOKIE", 349)])
    assert await refresh_stats(pool) is not None
    later = await gql(client, NUDGES, {"cart": big_cart("bob")}, auth=pos_key)
    assert later["data"]["nudges"]["nudges"][0]["change"]["addSku"] == "COOKIE"
    shared = await pool.fetchval(
        "SELECT purchases FROM co_purchases WHERE sku = 'PEPP-XL' AND with_sku = 'COOKIE'"
    )
    assert shared == 4


async def test_acceptance_rates_come_from_what_became_of_nudges(
    client: httpx.AsyncClient, pool: Pool, admin_key: str, pos_key: str
) -> None:
    await program(client, pool, admin_key)
    cart = {
        "customerId": "alice",
        "storeId": "S1",
        "lines": [{"sku": "PEPP-M", "quantity": 1, "unitPrice": 1249}],
    }
    shown = await gql(client, NUDGES, {"cart": cart}, auth=pos_key)
    nudge_id = shown["data"]["nudges"]["nudges"][0]["id"]
    await buy(client, pos_key, 1, [("PEPP-L", 1499)], customer="alice", acceptedNudgeIds=[nudge_id])
    await gql(client, NUDGES, {"cart": {**cart, "customerId": "bob"}}, auth=pos_key)
    await buy(client, pos_key, 2, [("PEPP-M", 1249)], customer="bob")
    await refresh_stats(pool)
    rates = await pool.fetch("SELECT shown, accepted FROM nudge_rates")
    assert [(r["shown"], r["accepted"]) for r in rates] == [(2, 1)]


async def test_customers_who_only_buy_on_discount_are_not_nudged(
    client: httpx.AsyncClient, pool: Pool, admin_key: str, pos_key: str
) -> None:
    await program(client, pool, admin_key)
    issue = """
    mutation I($input: IssueRebateCodeInput!) {
      issueRebateCode(input: $input) { ... on RebateCodeIssued { rebateCode { code } } }
    }
    """
    for n in range(3):
        body = {"customerId": "hunter", "idempotencyKey": f"h{n}", "amountOff": 100}
        code = (await gql(client, issue, {"input": body}, auth=admin_key))["data"][
            "issueRebateCode"
        ]["rebateCode"]["code"]
        used = await buy(
            client, pos_key, 10 + n, [("PEPP-M", 1249)], customer="hunter", rebateCode=code
        )
        assert used["__typename"] == "PurchaseRecorded"
    cart = {
        "customerId": "hunter",
        "storeId": "S1",
        "lines": [{"sku": "PEPP-M", "quantity": 1, "unitPrice": 1249}],
    }
    before = await gql(client, NUDGES, {"cart": cart}, auth=pos_key)
    assert len(before["data"]["nudges"]["nudges"]) == 1
    await refresh_stats(pool)
    after = await gql(client, NUDGES, {"cart": cart}, auth=pos_key)
    assert after["data"]["nudges"]["nudges"] == []
    segments = await pool.fetch("SELECT customer_id, segment FROM customer_segments")
    assert [(r["customer_id"], r["segment"]) for r in segments] == [("hunter", "discount_only")]
