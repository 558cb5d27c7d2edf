"""Returns: points go back in proportion, exactly once, even when spent; thank-yous withdrawn."""

import asyncio
from typing import Any

import httpx

from loyalty import service
from loyalty.service.stats import refresh_stats
from loyalty.store.database import Pool
from tests.api.test_nudges import NUDGES, RECORD, cart, program, purchase, show
from tests.support import gql

RETURN = """
mutation Return($input: ReturnInput!) {
  recordReturn(input: $input) {
    __typename
    ... on ReturnRecorded {
      customerId amount pointsReversed balance inDebt revokedRebateCodes replayed
    }
    ... on Error { code message }
    ... on InvalidInputError { field }
  }
}
"""


async def buy(
    client: httpx.AsyncClient,
    key: str,
    n: int,
    sku: str,
    price: int,
    qty: int = 1,
    nudges: list[str] | None = None,
    customer: str = "alice",
) -> dict[str, Any]:
    body = purchase(n, sku, price, nudges or [], customer)
    body["lines"][0]["quantity"] = qty
    result: dict[str, Any] = (await gql(client, RECORD, {"input": body}, auth=key))["data"][
        "recordPurchase"
    ]
    return result


async def give_back(
    client: httpx.AsyncClient, key: str, n: int, return_id: str, lines: list[tuple[str, int]]
) -> dict[str, Any]:
    body = {
        "storeId": "S1",
        "transactionId": f"T{n}",
        "returnId": return_id,
        "lines": [{"sku": sku, "quantity": quantity} for sku, quantity in lines],
    }
    result: dict[str, Any] = (await gql(client, RETURN, {"input": body}, auth=key))["data"][
        "recordReturn"
    ]
    return result


async def test_returning_in_parts_reverses_exactly_what_was_earned(
    client: httpx.AsyncClient, pool: Pool, admin_key: str, pos_key: str
) -> None:
    await program(client, pool, admin_key)
    bought = await buy(client, pos_key, 1, "PEPP-L", 1499, qty=3)
    earned = bought["pointsEarned"]  # 44 base + 60 upsize = 104
    first = await give_back(client, pos_key, 1, "R1", [("PEPP-L", 1)])
    assert (first["amount"], first["pointsReversed"]) == (1499, earned // 3)
    again = await give_back(client, pos_key, 1, "R1", [("PEPP-L", 1)])
    assert again["replayed"] is True and again["pointsReversed"] == first["pointsReversed"]
    changed = await give_back(client, pos_key, 1, "R1", [("PEPP-L", 2)])
    assert changed["code"] == "IDEMPOTENCY_CONFLICT"
    rest = await give_back(client, pos_key, 1, "R2", [("PEPP-L", 2)])
    assert first["pointsReversed"] + rest["pointsReversed"] == earned
    assert rest["balance"] == 0
    too_many = await give_back(client, pos_key, 1, "R3", [("PEPP-L", 1)])
    assert too_many["field"] == "lines[0].quantity"
    unknown = await give_back(client, pos_key, 99, "R4", [("PEPP-L", 1)])
    assert unknown["code"] == "PURCHASE_NOT_FOUND"
    assert await service.verify_ledger(pool) == []


async def test_points_already_spent_leave_a_debt_the_account_shows(
    client: httpx.AsyncClient, pool: Pool, admin_key: str, pos_key: str
) -> None:
    await program(client, pool, admin_key)
    bought = await buy(client, pos_key, 1, "PEPP-L", 1499)
    await service.adjust_points(
        pool,
        service.RuleBook(pool, None),
        customer_id="alice",
        points=-bought["pointsEarned"],
        reason="reward",
        idempotency_key="spend",
    )
    back = await give_back(client, pos_key, 1, "R1", [("PEPP-L", 1)])
    assert back["balance"] == -bought["pointsEarned"]
    assert back["inDebt"] is True
    assert await service.verify_ledger(pool) == []


async def test_returning_the_upsized_item_withdraws_its_unused_thank_you(
    client: httpx.AsyncClient, pool: Pool, admin_key: str, pos_key: str
) -> None:
    await program(client, pool, admin_key)
    nudge = await show(client, pos_key)
    bought = await buy(client, pos_key, 1, "PEPP-L", 1499, nudges=[nudge["id"]])
    [code] = bought["rebateCodesIssued"]
    back = await give_back(client, pos_key, 1, "R1", [("PEPP-L", 1)])
    assert back["revokedRebateCodes"] == [code["code"]]
    assert back["pointsReversed"] == bought["pointsEarned"]  # the upsize bonus goes back too
    state = await pool.fetchval("SELECT state FROM rebate_codes")
    assert state == "revoked"


async def test_concurrent_returns_of_the_same_units_take_each_back_once(
    live_url: str, client: httpx.AsyncClient, pool: Pool, admin_key: str, pos_key: str
) -> None:
    await program(client, pool, admin_key)
    bought = await buy(client, pos_key, 1, "PEPP-L", 1499, qty=3)
    headers = {"Authorization": f"Bearer {pos_key}"}

    def body(n: int) -> dict[str, Any]:
        lines = [{"sku": "PEPP-L", "quantity": 1}]
        variables = {"storeId": "S1", "transactionId": "T1", "returnId": f"R{n}", "lines": lines}
        return {"query": RETURN, "variables": {"input": variables}}

    async with httpx.AsyncClient(base_url=live_url, timeout=60) as http:
        responses = await asyncio.gather(
            *[http.post("/graphql", json=body(n), headers=headers) for n in range(20)]
        )
    results = [r.json()["data"]["recordReturn"] for r in responses]
    taken = [r for r in results if r["__typename"] == "ReturnRecorded"]
    assert len(taken) == 3
    assert sum(r["pointsReversed"] for r in taken) == bought["pointsEarned"]
    assert all(r.get("field") == "lines[0].quantity" for r in results if r not in taken)
    assert await service.verify_ledger(pool) == []


async def test_customers_who_return_most_of_what_they_buy_are_not_nudged(
    client: httpx.AsyncClient, pool: Pool, admin_key: str, pos_key: str
) -> None:
    await program(client, pool, admin_key)
    for n in (1, 2):
        await buy(client, pos_key, n, "PEPP-L", 1499)
        await give_back(client, pos_key, n, f"R{n}", [("PEPP-L", 1)])
    assert (
        len((await gql(client, NUDGES, {"cart": cart()}, auth=pos_key))["data"]["nudges"]["nudges"])
        == 1
    )
    await pool.execute("UPDATE nudges SET outcome = 'declined'")  # a new visit
    await refresh_stats(pool)
    assert (await gql(client, NUDGES, {"cart": cart()}, auth=pos_key))["data"]["nudges"][
        "nudges"
    ] == []
    segment = await pool.fetchval(
        "SELECT segment FROM customer_segments WHERE customer_id = 'alice'"
    )
    assert segment == "mostly_returns"
