"""Admins keep the catalog and adjust points; POS keys cannot."""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from loyalty import service
from loyalty.domain.access import Role
from loyalty.errors import InsufficientPointsError
from loyalty.store.database import Pool
from tests.support import customer_token, gql

AN_HOUR_AGO = (datetime.now(UTC) - timedelta(hours=1)).isoformat()

UPSERT = """
mutation Upsert($products: [ProductInput!]!) {
  upsertProducts(products: $products) {
    __typename
    ... on ProductsUpserted { count }
    ... on InvalidInputError { code field message }
  }
}
"""

ADJUST = """
mutation Adjust($input: AdjustPointsInput!) {
  adjustPoints(input: $input) {
    __typename
    ... on PointsAdjusted { balance replayed entry { id kind points reason balanceAfter } }
    ... on InsufficientPointsError { code message balance requested }
    ... on Error { code message }
  }
}
"""

PIZZA = {
    "sku": "MARG-L",
    "name": "Margherita Large",
    "category": "Pizza",
    "family": "margherita",
    "sizeRank": 3,
    "price": 1399,
}


def adjustment(points: int, key: str = "k1", **changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "customerId": "alice",
        "points": points,
        "reason": "late delivery",
        "idempotencyKey": key,
    }
    body.update(changes)
    return body


async def test_upsert_products_inserts_then_updates(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    first = await gql(client, UPSERT, {"products": [PIZZA]}, auth=admin_key)
    assert first["data"]["upsertProducts"] == {"__typename": "ProductsUpserted", "count": 1}
    cheaper = {**PIZZA, "price": 1299, "name": "Margherita L"}
    await gql(client, UPSERT, {"products": [cheaper]}, auth=admin_key)
    listed = await gql(client, "{ products { sku name category price sizeRank } }", auth=admin_key)
    assert listed["data"]["products"] == [
        {"sku": "MARG-L", "name": "Margherita L", "category": "pizza", "price": 1299, "sizeRank": 3}
    ]


async def test_bad_products_are_refused_naming_the_field(
    client: httpx.AsyncClient, pool: Pool, admin_key: str
) -> None:
    cases = [
        ([{**PIZZA, "price": -1}], "products[0].price"),
        ([PIZZA, {**PIZZA, "sku": ""}], "products[1].sku"),
        ([{**PIZZA, "sizeRank": None}], "products[0].sizeRank"),
        ([PIZZA, PIZZA], "products"),
        ([], "products"),
    ]
    for products, field in cases:
        body = await gql(client, UPSERT, {"products": products}, auth=admin_key)
        assert body["data"]["upsertProducts"]["field"] == field, products
    assert await pool.fetchval("SELECT count(*) FROM products") == 0


async def test_adjust_points_is_idempotent(client: httpx.AsyncClient, admin_key: str) -> None:
    first = await gql(client, ADJUST, {"input": adjustment(25)}, auth=admin_key)
    again = await gql(client, ADJUST, {"input": adjustment(25)}, auth=admin_key)
    assert first["data"]["adjustPoints"]["balance"] == 25
    assert again["data"]["adjustPoints"]["replayed"] is True
    assert again["data"]["adjustPoints"]["entry"] == first["data"]["adjustPoints"]["entry"]
    other = await gql(client, ADJUST, {"input": adjustment(30)}, auth=admin_key)
    assert other["data"]["adjustPoints"]["__typename"] == "IdempotencyConflictError"
    second = await gql(client, ADJUST, {"input": adjustment(5, key="k2")}, auth=admin_key)
    assert second["data"]["adjustPoints"]["balance"] == 30


async def test_a_balance_never_goes_negative_unless_the_admin_says_so(
    client: httpx.AsyncClient, pool: Pool, admin_key: str
) -> None:
    await gql(client, ADJUST, {"input": adjustment(10)}, auth=admin_key)
    refused = await gql(client, ADJUST, {"input": adjustment(-15, key="k2")}, auth=admin_key)
    error = refused["data"]["adjustPoints"]
    assert error["__typename"] == "InsufficientPointsError"
    assert (error["balance"], error["requested"]) == (10, 15)
    again = await gql(client, ADJUST, {"input": adjustment(-15, key="k2")}, auth=admin_key)
    assert again["data"]["adjustPoints"] == error  # a refusal is replayed as it was
    debt = adjustment(-15, key="k3", allowNegativeBalance=True)
    allowed = await gql(client, ADJUST, {"input": debt}, auth=admin_key)
    assert allowed["data"]["adjustPoints"]["balance"] == -5
    assert await service.verify_ledger(pool) == []


async def test_concurrent_takes_never_overdraw(pool: Pool) -> None:
    await service.adjust_points(
        pool,
        service.RuleBook(pool, None),
        customer_id="alice",
        points=30,
        reason="seed",
        idempotency_key="seed",
    )

    async def take(n: int) -> bool:
        try:
            await service.adjust_points(
                pool,
                service.RuleBook(pool, None),
                customer_id="alice",
                points=-10,
                reason="take",
                idempotency_key=f"t{n}",
            )
        except InsufficientPointsError:
            return False
        return True

    results = await asyncio.gather(*[take(n) for n in range(12)])
    assert sum(results) == 3
    assert await pool.fetchval("SELECT balance FROM accounts") == 0
    assert await service.verify_ledger(pool) == []


async def test_bad_adjustments_are_refused(client: httpx.AsyncClient, admin_key: str) -> None:
    for body, field in [
        (adjustment(0), "points"),
        (adjustment(5, reason="  "), "reason"),
        (adjustment(5, key=""), "idempotencyKey"),
    ]:
        result = await gql(client, ADJUST, {"input": body}, auth=admin_key)
        assert result["data"]["adjustPoints"]["__typename"] == "InvalidInputError"
        assert result["data"]["adjustPoints"]["code"] == "INVALID_INPUT"
        assert field in str(result), field


async def test_pos_and_customers_cannot_call_admin_mutations(
    client: httpx.AsyncClient, pool: Pool, pos_key: str
) -> None:
    for credential in (pos_key, customer_token("alice")):
        calls: list[tuple[str, dict[str, Any]]] = [
            (UPSERT, {"products": [PIZZA]}),
            (ADJUST, {"input": adjustment(1000)}),
        ]
        for query, variables in calls:
            body = await gql(client, query, variables, auth=credential)
            assert body["data"] is None
            assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await pool.fetchval("SELECT count(*) FROM ledger_entries") == 0


async def test_a_store_bound_pos_key_posts_only_for_its_store(
    client: httpx.AsyncClient, pool: Pool
) -> None:
    key = await service.create_api_key(pool, Role.POS, "S1")
    record = """
    mutation R($input: PurchaseInput!) { recordPurchase(input: $input) {
      __typename ... on Error { code } } }
    """
    base = {
        "customerId": "alice",
        "transactionId": "T1",
        "occurredAt": AN_HOUR_AGO,
        "lines": [{"sku": "A", "quantity": 1, "unitPrice": 100}],
    }
    other = await gql(client, record, {"input": {**base, "storeId": "S2"}}, auth=key)
    assert other["data"]["recordPurchase"]["code"] == "STORE_NOT_ALLOWED"
    own = await gql(client, record, {"input": {**base, "storeId": "S1"}}, auth=key)
    assert own["data"]["recordPurchase"]["__typename"] == "PurchaseRecorded"
    assert await pool.fetchval("SELECT store_id FROM purchases") == "S1"


async def test_balances_beyond_32_bits_are_served(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    for n in range(3):
        body = await gql(
            client, ADJUST, {"input": adjustment(1_000_000_000, key=f"big{n}")}, auth=admin_key
        )
        assert body["data"]["adjustPoints"]["balance"] == (n + 1) * 1_000_000_000
    read = await gql(client, '{ customer(id: "alice") { balance } }', auth=admin_key)
    assert read["data"]["customer"]["balance"] == 3_000_000_000


async def test_a_refused_take_from_a_customer_never_seen_leaves_them_unseen(
    client: httpx.AsyncClient, pool: Pool, admin_key: str
) -> None:
    body = {**adjustment(-15), "customerId": "stranger"}
    refused = await gql(client, ADJUST, {"input": body}, auth=admin_key)
    error = refused["data"]["adjustPoints"]
    assert (error["__typename"], error["balance"], error["requested"]) == (
        "InsufficientPointsError",
        0,
        15,
    )
    seen = await gql(client, '{ customer(id: "stranger") { id } }', auth=admin_key)
    assert seen == {"data": {"customer": None}}
    assert await pool.fetchval("SELECT count(*) FROM accounts") == 0
    again = await gql(client, ADJUST, {"input": body}, auth=admin_key)
    assert again["data"]["adjustPoints"] == error  # the refusal is still kept under its key
