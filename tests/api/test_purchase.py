import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx

from loyalty import service
from loyalty.store.database import Pool
from tests.support import gql

AN_HOUR_AGO = (datetime.now(UTC) - timedelta(hours=1)).isoformat()

RECORD = """
mutation Record($input: PurchaseInput!) {
  recordPurchase(input: $input) {
    __typename
    ... on PurchaseRecorded {
      pointsEarned balance unknownSkus replayed
      awards { ruleId ruleName kind points }
      purchase { id customerId storeId transactionId subtotal pointsEarned
                 lines { lineNumber sku quantity unitPrice amount known points } }
    }
    ... on Error { code message }
    ... on InvalidInputError { field }
  }
}
"""


def purchase(
    transaction_id: str = "T-1", customer_id: str = "alice", **changes: object
) -> dict[str, object]:
    body: dict[str, object] = {
        "customerId": customer_id,
        "storeId": "S1",
        "transactionId": transaction_id,
        "occurredAt": AN_HOUR_AGO,
        "lines": [
            {"sku": "PEPP-L", "quantity": 1, "unitPrice": 1499},
            {"sku": "COLA-05", "quantity": 2, "unitPrice": 249},
        ],
    }
    body.update(changes)
    return body


async def program(pool: Pool, rule: dict[str, object] | None = None) -> None:
    await service.upsert_products(
        pool,
        [
            service.ProductRow("PEPP-L", "Pepperoni Large", "pizza", "pepperoni", 3, 1499),
            service.ProductRow("COLA-05", "Cola 0.5 l", "drinks", None, None, 249),
        ],
    )
    base = rule or {"mode": "per_unit", "points": 1}
    await service.create_rule(
        pool, None, service.RuleDraft("BASE_EARN", "1 per 1.00", {"baseEarn": base})
    )


async def ledger_of(pool: Pool, customer_id: str) -> list[tuple[str, int, int]]:
    rows = await pool.fetch(
        "SELECT kind, points, balance_after FROM ledger_entries WHERE customer_id = $1 ORDER BY id",
        customer_id,
    )
    return [(r["kind"], r["points"], r["balance_after"]) for r in rows]


async def test_a_purchase_earns_base_points_and_creates_the_customer(
    client: httpx.AsyncClient, pool: Pool, pos_key: str
) -> None:
    await program(pool)
    body = await gql(client, RECORD, {"input": purchase()}, auth=pos_key)
    result = body["data"]["recordPurchase"]
    assert result["__typename"] == "PurchaseRecorded"
    assert result["pointsEarned"] == 19  # 19.97 spent, floored
    assert result["balance"] == 19
    assert result["replayed"] is False
    assert result["unknownSkus"] == []
    assert [(a["kind"], a["ruleName"], a["points"]) for a in result["awards"]] == [
        ("BASE_EARN", "1 per 1.00", 19)
    ]
    assert result["purchase"]["subtotal"] == 1997
    assert [line["points"] for line in result["purchase"]["lines"]] == [14, 5]
    assert await ledger_of(pool, "alice") == [("earn", 19, 19)]
    account = await pool.fetchrow("SELECT balance, lifetime_points FROM accounts")
    assert account is not None
    assert dict(account) == {"balance": 19, "lifetime_points": 19}


async def test_flat_points_per_order_over_a_minimum(
    client: httpx.AsyncClient, pool: Pool, pos_key: str
) -> None:
    await program(pool, {"mode": "per_order", "points": 10, "minSubtotal": 2000})
    small = await gql(client, RECORD, {"input": purchase("T-1")}, auth=pos_key)
    assert small["data"]["recordPurchase"]["pointsEarned"] == 0
    big_lines = [{"sku": "PEPP-L", "quantity": 2, "unitPrice": 1499}]
    big = await gql(client, RECORD, {"input": purchase("T-2", lines=big_lines)}, auth=pos_key)
    assert big["data"]["recordPurchase"]["pointsEarned"] == 10
    assert big["data"]["recordPurchase"]["balance"] == 10


async def test_a_retry_returns_the_original_result_and_changes_nothing(
    client: httpx.AsyncClient, pool: Pool, pos_key: str
) -> None:
    await program(pool)
    first = (await gql(client, RECORD, {"input": purchase()}, auth=pos_key))["data"]
    await gql(client, RECORD, {"input": purchase("T-2")}, auth=pos_key)
    again = (await gql(client, RECORD, {"input": purchase()}, auth=pos_key))["data"]
    assert again["recordPurchase"]["replayed"] is True
    first["recordPurchase"]["replayed"] = True
    assert again == first  # same purchase, same points, the balance as it was then
    assert await ledger_of(pool, "alice") == [("earn", 19, 19), ("earn", 19, 38)]


async def test_the_same_transaction_id_with_other_content_is_refused(
    client: httpx.AsyncClient, pool: Pool, pos_key: str
) -> None:
    await program(pool)
    await gql(client, RECORD, {"input": purchase()}, auth=pos_key)
    changed = purchase(lines=[{"sku": "PEPP-L", "quantity": 3, "unitPrice": 1499}])
    result = (await gql(client, RECORD, {"input": changed}, auth=pos_key))["data"]
    assert result["recordPurchase"]["__typename"] == "IdempotencyConflictError"
    assert result["recordPurchase"]["code"] == "IDEMPOTENCY_CONFLICT"
    other_customer = purchase(customer_id="bob")
    result = (await gql(client, RECORD, {"input": other_customer}, auth=pos_key))["data"]
    assert result["recordPurchase"]["__typename"] == "IdempotencyConflictError"
    assert await ledger_of(pool, "alice") == [("earn", 19, 19)]
    assert await ledger_of(pool, "bob") == []


async def test_the_same_transaction_id_in_another_store_is_another_purchase(
    client: httpx.AsyncClient, pool: Pool, pos_key: str
) -> None:
    await program(pool)
    await gql(client, RECORD, {"input": purchase()}, auth=pos_key)
    other = (await gql(client, RECORD, {"input": purchase(storeId="S2")}, auth=pos_key))["data"]
    assert other["recordPurchase"]["replayed"] is False
    assert other["recordPurchase"]["balance"] == 38


async def test_unknown_skus_earn_on_their_price_and_are_listed(
    client: httpx.AsyncClient, pool: Pool, pos_key: str
) -> None:
    await program(pool)
    lines = [
        {"sku": "PEPP-L", "quantity": 1, "unitPrice": 1499},
        {"sku": "NEW-SEASONAL", "quantity": 1, "unitPrice": 1001},
    ]
    result = (await gql(client, RECORD, {"input": purchase(lines=lines)}, auth=pos_key))["data"]
    recorded = result["recordPurchase"]
    assert recorded["pointsEarned"] == 25
    assert recorded["unknownSkus"] == ["NEW-SEASONAL"]
    assert [line["known"] for line in recorded["purchase"]["lines"]] == [True, False]


async def test_no_rules_means_no_points_but_the_purchase_is_kept(
    client: httpx.AsyncClient, pool: Pool, pos_key: str
) -> None:
    result = (await gql(client, RECORD, {"input": purchase()}, auth=pos_key))["data"]
    assert result["recordPurchase"]["pointsEarned"] == 0
    assert result["recordPurchase"]["awards"] == []
    assert await pool.fetchval("SELECT count(*) FROM purchases") == 1
    assert await ledger_of(pool, "alice") == []


async def test_bad_input_is_a_typed_error_and_writes_nothing(
    client: httpx.AsyncClient, pool: Pool, pos_key: str
) -> None:
    await program(pool)
    cases = [
        (purchase(lines=[]), "lines"),
        (
            purchase(lines=[{"sku": "PEPP-L", "quantity": -1, "unitPrice": 1499}]),
            "lines[0].quantity",
        ),
        (
            purchase(lines=[{"sku": "PEPP-L", "quantity": 1, "unitPrice": 2_000_000_000}]),
            "lines[0].unitPrice",
        ),
        (purchase(customerId="  "), "customerId"),
    ]
    for body, field in cases:
        result = (await gql(client, RECORD, {"input": body}, auth=pos_key))["data"]
        assert result["recordPurchase"]["__typename"] == "InvalidInputError", body
        assert result["recordPurchase"]["field"] == field
    assert await pool.fetchval("SELECT count(*) FROM purchases") == 0
    assert await pool.fetchval("SELECT count(*) FROM idempotency_keys") == 0


async def test_a_price_beyond_a_graphql_int_is_refused_clearly(
    client: httpx.AsyncClient, pool: Pool, pos_key: str
) -> None:
    huge = purchase(lines=[{"sku": "PEPP-L", "quantity": 1, "unitPrice": 10**15}])
    body = await gql(client, RECORD, {"input": huge}, auth=pos_key)
    assert body.get("data") is None
    assert "unitPrice" in body["errors"][0]["message"]
    assert "32-bit" in body["errors"][0]["message"]
    assert await pool.fetchval("SELECT count(*) FROM purchases") == 0


async def test_a_ten_megabyte_request_is_refused_before_it_is_read(
    client: httpx.AsyncClient, pool: Pool, pos_key: str
) -> None:
    lines = [{"sku": "X" * 100, "quantity": 1, "unitPrice": 1}] * 80_000
    payload = json.dumps({"query": RECORD, "variables": {"input": purchase(lines=lines)}})
    assert len(payload) > 10_000_000
    response = await client.post(
        "/graphql",
        content=payload,
        headers={"Authorization": f"Bearer {pos_key}", "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
    assert await pool.fetchval("SELECT count(*) FROM purchases") == 0


async def test_a_query_twenty_levels_deep_is_refused(
    client: httpx.AsyncClient, pos_key: str
) -> None:
    inner = "id"
    for _ in range(5):
        inner = f"ledger {{ edges {{ node {{ purchase {{ customer {{ {inner} }} }} }} }} }}"
    query = f'{{ customer(id: "alice") {{ {inner} }} }}'
    assert query.count("{") >= 20
    body = await gql(client, query, auth=pos_key)
    assert body.get("data") is None
    assert "exceeds maximum operation depth" in body["errors"][0]["message"]


async def test_fifty_concurrent_identical_posts_have_one_effect(
    live_url: str, pool: Pool, pos_key: str
) -> None:
    await program(pool)
    payload = {"query": RECORD, "variables": {"input": purchase()}}
    headers = {"Authorization": f"Bearer {pos_key}"}
    limits = httpx.Limits(max_connections=50)
    async with httpx.AsyncClient(base_url=live_url, limits=limits, timeout=30) as http:
        responses = await asyncio.gather(
            *[http.post("/graphql", json=payload, headers=headers) for _ in range(50)]
        )
    results = [r.json()["data"]["recordPurchase"] for r in responses]
    assert {r["__typename"] for r in results} == {"PurchaseRecorded"}
    assert sum(not r["replayed"] for r in results) == 1
    assert {r["purchase"]["id"] for r in results} == {results[0]["purchase"]["id"]}
    assert {(r["pointsEarned"], r["balance"]) for r in results} == {(19, 19)}
    assert await ledger_of(pool, "alice") == [("earn", 19, 19)]
    assert await pool.fetchval("SELECT count(*) FROM purchases") == 1
    assert (await service.verify_ledger(pool)) == []


async def test_concurrent_posts_with_one_id_and_two_contents_make_one_purchase(
    live_url: str, pool: Pool, pos_key: str
) -> None:
    await program(pool)
    one = {"query": RECORD, "variables": {"input": purchase()}}
    other_lines = [{"sku": "PEPP-L", "quantity": 2, "unitPrice": 1499}]
    two = {"query": RECORD, "variables": {"input": purchase(lines=other_lines)}}
    headers = {"Authorization": f"Bearer {pos_key}"}
    async with httpx.AsyncClient(base_url=live_url, timeout=30) as http:
        responses = await asyncio.gather(
            *[http.post("/graphql", json=[one, two][n % 2], headers=headers) for n in range(40)]
        )
    results = [r.json()["data"]["recordPurchase"] for r in responses]
    recorded = [r for r in results if r["__typename"] == "PurchaseRecorded"]
    conflicts = [r for r in results if r["__typename"] == "IdempotencyConflictError"]
    assert len(recorded) + len(conflicts) == 40
    assert len(recorded) == 20 and len(conflicts) == 20  # the winner's twins replay, the rest clash
    assert sum(not r["replayed"] for r in recorded) == 1
    assert len({r["purchase"]["subtotal"] for r in recorded}) == 1
    assert await pool.fetchval("SELECT count(*) FROM purchases") == 1
    assert await service.verify_ledger(pool) == []


async def test_a_purchase_time_far_from_now_is_refused(
    client: httpx.AsyncClient, pool: Pool, pos_key: str
) -> None:
    for when in ["2019-01-01T12:00:00Z", "2099-01-01T12:00:00Z", "0001-01-01T00:00:00+14:00"]:
        body = await gql(client, RECORD, {"input": purchase(occurredAt=when)}, auth=pos_key)
        assert body["data"]["recordPurchase"]["field"] == "occurredAt", when
    assert await pool.fetchval("SELECT count(*) FROM purchases") == 0


async def test_a_chunked_body_over_the_limit_is_refused(
    client: httpx.AsyncClient, pool: Pool, pos_key: str
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"query": "' + b" " * 100
        for _ in range(20):
            yield b" " * 100_000
        yield b'"}'

    response = await client.post(
        "/graphql",
        content=chunks(),
        headers={"Authorization": f"Bearer {pos_key}", "Content-Type": "application/json"},
    )
    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"


async def test_a_body_that_is_not_a_json_object_is_a_bad_request(
    client: httpx.AsyncClient, pos_key: str
) -> None:
    for body in [b"null", b'"x"', b"[1, 2]", b"{not json"]:
        response = await client.post(
            "/graphql",
            content=body,
            headers={"Authorization": f"Bearer {pos_key}", "Content-Type": "application/json"},
        )
        assert response.status_code == 400, body
