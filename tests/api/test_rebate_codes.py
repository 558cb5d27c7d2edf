"""Rebate codes: issued, checked without use, redeemed once with a purchase."""

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx

from loyalty import service
from loyalty.domain.access import Role
from loyalty.store.database import Pool
from tests.support import customer_token, gql

ISSUE = """
mutation Issue($input: IssueRebateCodeInput!) {
  issueRebateCode(input: $input) {
    __typename
    ... on RebateCodeIssued { replayed rebateCode { code state amountOff percentOff minSpend } }
    ... on InvalidInputError { field message }
  }
}
"""

CHECK = """
query Check($code: String!, $customerId: String, $subtotal: Int) {
  rebateCode(code: $code, customerId: $customerId, subtotal: $subtotal) {
    __typename
    ... on RebateCode { code state amountOff usable unusableReason expiresAt }
    ... on Error { code message }
    ... on InvalidInputError { field }
    ... on TooManyAttemptsError { retryAfterSeconds }
  }
}
"""

RECORD = """
mutation Record($input: PurchaseInput!) {
  recordPurchase(input: $input) {
    __typename
    ... on PurchaseRecorded {
      discount amountDue replayed purchase { subtotal } rebateCode { code state }
    }
    ... on Error { code message }
    ... on InvalidInputError { field }
    ... on RebateCodeUnusableError { reason }
  }
}
"""

NOW = datetime.now(UTC).replace(microsecond=0)


async def issue(
    client: httpx.AsyncClient, admin_key: str, customer: str = "alice", **offer: Any
) -> str:
    body = {"customerId": customer, "idempotencyKey": f"k-{customer}-{len(offer)}", **offer}
    body.setdefault("amountOff", 500)
    result = await gql(client, ISSUE, {"input": body}, auth=admin_key)
    code: str = result["data"]["issueRebateCode"]["rebateCode"]["code"]
    return code


def purchase(
    code: str | None, customer: str = "alice", n: int = 1, price: int = 2000
) -> dict[str, Any]:
    return {
        "customerId": customer,
        "storeId": "S1",
        "transactionId": f"T{n}",
        "occurredAt": NOW.isoformat(),
        "lines": [{"sku": "PEPP-L", "quantity": 1, "unitPrice": price}],
        "rebateCode": code,
    }


async def test_an_issued_code_is_listed_checked_and_idempotent(
    client: httpx.AsyncClient, admin_key: str, pos_key: str
) -> None:
    body = {"customerId": "alice", "idempotencyKey": "sorry-1", "percentOff": 10, "minSpend": 1500}
    first = (await gql(client, ISSUE, {"input": body}, auth=admin_key))["data"]["issueRebateCode"]
    again = (await gql(client, ISSUE, {"input": body}, auth=admin_key))["data"]["issueRebateCode"]
    assert again["replayed"] is True
    assert again["rebateCode"] == first["rebateCode"]
    code = first["rebateCode"]["code"]
    assert code.startswith("THX-") and first["rebateCode"]["state"] == "ISSUED"
    mine = await gql(client, "{ me { rebateCodes { code state } } }", auth=customer_token("alice"))
    assert mine["data"]["me"]["rebateCodes"] == [{"code": code, "state": "ISSUED"}]
    checked = await gql(client, CHECK, {"code": code.lower(), "subtotal": 1000}, auth=pos_key)
    assert checked["data"]["rebateCode"]["usable"] is False
    assert checked["data"]["rebateCode"]["unusableReason"] == "spend 5.00 more to use this code"
    enough = await gql(client, CHECK, {"code": code, "subtotal": 1500}, auth=pos_key)
    assert enough["data"]["rebateCode"]["usable"] is True
    other = await gql(client, CHECK, {"code": code}, auth=customer_token("bob"))
    assert other["data"]["rebateCode"]["code"] == "REBATE_CODE_NOT_FOUND"  # no hint it exists


async def test_a_purchase_redeems_a_code_once(
    client: httpx.AsyncClient, admin_key: str, pos_key: str, pool: Pool
) -> None:
    code = await issue(client, admin_key)
    used = await gql(client, RECORD, {"input": purchase(code)}, auth=pos_key)
    result = used["data"]["recordPurchase"]
    assert (result["discount"], result["amountDue"]) == (500, 1500)
    assert result["rebateCode"] == {"code": code, "state": "REDEEMED"}
    retry = await gql(client, RECORD, {"input": purchase(code)}, auth=pos_key)
    assert retry["data"]["recordPurchase"]["replayed"] is True  # a retry is not a second use
    second = await gql(client, RECORD, {"input": purchase(code, n=2)}, auth=pos_key)
    assert second["data"]["recordPurchase"]["__typename"] == "RebateCodeAlreadyRedeemedError"
    assert await pool.fetchval("SELECT count(*) FROM purchases") == 1
    plain = await gql(client, RECORD, {"input": purchase(None, n=2)}, auth=pos_key)
    assert plain["data"]["recordPurchase"]["discount"] == 0  # the till rings it up without


async def test_codes_that_cannot_be_used_say_why(
    client: httpx.AsyncClient, admin_key: str, pos_key: str, pool: Pool
) -> None:
    bobs = await issue(client, admin_key, customer="bob")
    refused = await gql(client, RECORD, {"input": purchase(bobs)}, auth=pos_key)
    assert refused["data"]["recordPurchase"]["reason"] == "this code belongs to another customer"
    minimum = await issue(client, admin_key, minSpend=5000)
    low = await gql(client, RECORD, {"input": purchase(minimum, n=2)}, auth=pos_key)
    assert low["data"]["recordPurchase"]["reason"] == "spend 30.00 more to use this code"
    old = await issue(client, admin_key, customer="carol", daysValid=1)
    await pool.execute("UPDATE rebate_codes SET expires_at = now() - interval '1 hour'")
    expired = await gql(
        client, RECORD, {"input": purchase(old, customer="carol", n=3)}, auth=pos_key
    )
    assert expired["data"]["recordPurchase"]["code"] == "REBATE_CODE_UNUSABLE"
    assert "expired" in expired["data"]["recordPurchase"]["reason"]
    state = await gql(client, CHECK, {"code": old}, auth=pos_key)
    assert state["data"]["rebateCode"]["state"] == "EXPIRED"
    typo = old[:-1] + ("A" if old[-1] != "A" else "B")
    mistyped = await gql(
        client, RECORD, {"input": purchase(typo, customer="carol", n=4)}, auth=pos_key
    )
    assert mistyped["data"]["recordPurchase"]["field"] == "rebateCode"
    assert await pool.fetchval("SELECT count(*) FROM purchases") == 0


async def test_a_percentage_is_rounded_down(
    client: httpx.AsyncClient, admin_key: str, pos_key: str
) -> None:
    code = await issue(client, admin_key, amountOff=None, percentOff=15)
    result = await gql(client, RECORD, {"input": purchase(code, price=1999)}, auth=pos_key)
    assert result["data"]["recordPurchase"]["discount"] == 299  # 15% of 19.99 is 2.9985


async def test_a_hundred_purchases_with_one_code_redeem_it_once(
    live_url: str, client: httpx.AsyncClient, admin_key: str, pos_key: str, pool: Pool
) -> None:
    code = await issue(client, admin_key, boundToCustomer=False)
    headers = {"Authorization": f"Bearer {pos_key}"}
    async with httpx.AsyncClient(base_url=live_url, timeout=60) as http:
        responses = await asyncio.gather(
            *[
                http.post(
                    "/graphql",
                    json={"query": RECORD, "variables": {"input": purchase(code, f"c{n}", n)}},
                    headers=headers,
                )
                for n in range(100)
            ]
        )
    results = [r.json()["data"]["recordPurchase"]["__typename"] for r in responses]
    assert results.count("PurchaseRecorded") == 1
    assert results.count("RebateCodeAlreadyRedeemedError") == 99
    # The 99 purchases are refused whole: the till rings them up again without the code.
    assert await pool.fetchval("SELECT count(*) FROM purchases") == 1
    assert await pool.fetchval("SELECT sum(discount) FROM purchases") == 500
    state = await pool.fetchval("SELECT state FROM rebate_codes")
    assert state == "redeemed"


async def test_guessing_codes_is_slowed_down(
    client: httpx.AsyncClient, admin_key: str, pool: Pool
) -> None:
    guesser = await service.create_api_key(pool, Role.POS, None)
    honest = await service.create_api_key(pool, Role.POS, None)
    real = await issue(client, admin_key)
    codes = [await issue(client, admin_key, customer=f"x{n}") for n in range(7)]
    await pool.execute("DELETE FROM rebate_codes WHERE customer_id LIKE 'x%'")  # valid, unknown
    for code in codes[:5]:
        body = await gql(client, CHECK, {"code": code}, auth=guesser)
        assert body["data"]["rebateCode"]["code"] == "REBATE_CODE_NOT_FOUND"
    blocked = await gql(client, CHECK, {"code": codes[5]}, auth=guesser)
    assert blocked["data"]["rebateCode"]["code"] == "TOO_MANY_ATTEMPTS"
    assert blocked["data"]["rebateCode"]["retryAfterSeconds"] >= 1
    even_real = await gql(client, CHECK, {"code": real}, auth=guesser)
    assert even_real["data"]["rebateCode"]["code"] == "TOO_MANY_ATTEMPTS"
    at_till = await gql(client, RECORD, {"input": purchase(real)}, auth=guesser)
    assert at_till["data"]["recordPurchase"]["code"] == "TOO_MANY_ATTEMPTS"
    other = await gql(client, CHECK, {"code": real}, auth=honest)
    assert other["data"]["rebateCode"]["usable"] is True


async def test_aliases_in_one_request_do_not_outrun_the_throttle(
    client: httpx.AsyncClient, admin_key: str, pool: Pool
) -> None:
    guesser = await service.create_api_key(pool, Role.POS, None)
    codes = [await issue(client, admin_key, customer=f"y{n}") for n in range(8)]
    await pool.execute("DELETE FROM rebate_codes")  # well-formed codes that exist nowhere
    fields = " ".join(
        f'c{n}: rebateCode(code: "{code}") {{ ... on Error {{ code }} }}'
        for n, code in enumerate(codes)
    )
    body = await gql(client, f"{{ {fields} }}", auth=guesser)
    answers = [answer["code"] for answer in body["data"].values()]
    assert answers.count("REBATE_CODE_NOT_FOUND") <= 5
    assert "TOO_MANY_ATTEMPTS" in answers
