"""recordPurchases: a till that was offline catches up, in time order, each purchase on its own."""

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from loyalty import service
from loyalty.domain.access import Role
from loyalty.store.database import Pool
from tests.api.test_lifecycle import program
from tests.support import gql

BATCH = """
mutation B($purchases: [PurchaseInput!]!) {
  recordPurchases(purchases: $purchases) {
    __typename
    ... on PurchasesRecorded {
      recorded replayed refused
      results {
        index transactionId
        result {
          __typename
          ... on PurchaseRecorded { pointsEarned replayed awards { ruleName points } }
          ... on InvalidInputError { field }
          ... on Error { code }
        }
      }
    }
    ... on InvalidInputError { field message }
  }
}
"""

ONE_A_DAY = {
    "kind": "BASE_EARN",
    "name": "10 points an order from 5.00, once a day",
    "baseEarn": {"mode": "PER_ORDER", "points": 10, "minSubtotal": 500},
    "caps": {"period": "DAY", "maxAwards": 1},
}


def purchase(n: int, at: datetime, qty: int = 1, store: str = "S1") -> dict[str, Any]:
    return {
        "customerId": "alice",
        "storeId": store,
        "transactionId": f"T{n}",
        "occurredAt": at.isoformat(),
        "lines": [{"sku": "P10", "quantity": qty, "unitPrice": 1000}],
    }


async def send(client: httpx.AsyncClient, key: str, batch: list[dict[str, Any]]) -> dict[str, Any]:
    body = await gql(client, BATCH, {"purchases": batch}, auth=key)
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["recordPurchases"]
    return result


async def test_a_batch_is_applied_oldest_first_and_one_bad_purchase_sinks_no_other(
    client: httpx.AsyncClient, pool: Pool, admin_key: str, pos_key: str
) -> None:
    await program(pool)
    create = "mutation C($i: RuleInput!) { createRule(input: $i) { __typename } }"
    saved = await gql(client, create, {"i": ONE_A_DAY}, auth=admin_key)
    assert saved["data"]["createRule"]["__typename"] == "RuleSaved", saved
    morning = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=6)
    batch = [
        purchase(3, morning + timedelta(hours=2), qty=2),
        purchase(2, morning + timedelta(hours=1), qty=0),  # refused: quantity 0
        purchase(1, morning, qty=1),
        purchase(4, morning + timedelta(hours=3), qty=3),
    ]
    done = await send(client, pos_key, batch)
    assert (done["recorded"], done["replayed"], done["refused"]) == (3, 0, 1)
    results = done["results"]
    assert [(r["index"], r["transactionId"]) for r in results] == [
        (0, "T3"),
        (1, "T2"),
        (2, "T1"),
        (3, "T4"),
    ]
    assert results[1]["result"] == {
        "__typename": "InvalidInputError",
        "field": "lines[0].quantity",
        "code": "INVALID_INPUT",
    }
    # The once-a-day 10 points went to the morning's first purchase, though it was sent third.
    flat = {r["transactionId"]: r["result"]["awards"] for r in results if r["index"] != 1}
    assert [a["points"] for a in flat["T1"]] == [10, 10]
    assert [a["points"] for a in flat["T3"]] == [20]
    assert [a["points"] for a in flat["T4"]] == [30]
    entries = await pool.fetch("SELECT p.transaction_id FROM purchases p ORDER BY p.id")
    assert [e["transaction_id"] for e in entries] == ["T1", "T3", "T4"]
    # The till sends the whole batch again: nothing is counted twice.
    again = await send(client, pos_key, batch)
    assert (again["recorded"], again["replayed"], again["refused"]) == (0, 3, 1)
    assert [r["result"].get("pointsEarned") for r in again["results"]] == [20, None, 20, 30]
    assert await pool.fetchval("SELECT balance FROM accounts") == 70
    assert await service.verify_ledger(pool) == []


async def test_a_batch_holds_at_most_500_purchases(
    client: httpx.AsyncClient, pool: Pool, pos_key: str
) -> None:
    await program(pool)
    start = datetime.now(UTC) - timedelta(hours=10)
    full = [purchase(n, start + timedelta(seconds=n)) for n in range(500)]
    done = await send(client, pos_key, full)
    assert (done["recorded"], done["refused"]) == (500, 0)
    assert await pool.fetchval("SELECT balance FROM accounts") == 500 * 10
    over = await send(client, pos_key, [*full, purchase(500, start)])
    assert over == {
        "__typename": "InvalidInputError",
        "field": "purchases",
        "message": "send 1 to 500 purchases at once",
    }
    empty = await send(client, pos_key, [])
    assert empty["field"] == "purchases"


async def test_a_store_bound_key_is_refused_for_another_store_purchase_by_purchase(
    client: httpx.AsyncClient, pool: Pool
) -> None:
    await program(pool)
    key = await service.create_api_key(pool, Role.POS, "S1", "till 1")
    now = datetime.now(UTC)
    done = await send(client, key, [purchase(1, now), purchase(2, now, store="S2")])
    assert [r["result"]["__typename"] for r in done["results"]] == [
        "PurchaseRecorded",
        "StoreNotAllowedError",
    ]
    assert (done["recorded"], done["refused"]) == (1, 1)
