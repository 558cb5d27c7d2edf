"""Apps read their own account with a token; staff read any account by id."""

import httpx

from loyalty import service
from loyalty.domain.access import Role
from loyalty.store.database import Pool
from tests.support import customer_token, gql

ME = """
query Me($first: Int!, $after: String) {
  me { id balance lifetimePoints
       ledger(first: $first, after: $after) {
         edges { cursor node { kind points balanceAfter reason } }
         pageInfo { hasNextPage endCursor } } }
}
"""


async def give(pool: Pool, customer_id: str, *amounts: int) -> None:
    for n, points in enumerate(amounts):
        await service.adjust_points(
            pool,
            service.RuleBook(pool, None),
            customer_id=customer_id,
            points=points,
            reason=f"gift {n}",
            idempotency_key=f"{customer_id}-{n}",
        )


async def test_me_shows_balance_and_pages_through_the_ledger(
    client: httpx.AsyncClient, pool: Pool
) -> None:
    await give(pool, "alice", 10, 20, 30, 40, 50)
    token = customer_token("alice")
    seen = []
    after = None
    pages = 0
    while True:
        body = await gql(client, ME, {"first": 2, "after": after}, auth=token)
        me = body["data"]["me"]
        assert (me["id"], me["balance"]) == ("alice", 150)
        seen += [edge["node"]["points"] for edge in me["ledger"]["edges"]]
        pages += 1
        if not me["ledger"]["pageInfo"]["hasNextPage"]:
            break
        after = me["ledger"]["pageInfo"]["endCursor"]
    assert seen == [50, 40, 30, 20, 10]
    assert pages == 3


async def test_a_new_app_user_sees_an_empty_account(client: httpx.AsyncClient) -> None:
    body = await gql(client, ME, {"first": 5}, auth=customer_token("newbie"))
    me = body["data"]["me"]
    assert (me["balance"], me["lifetimePoints"], me["ledger"]["edges"]) == (0, 0, [])


async def test_a_forged_cursor_is_a_clear_error(client: httpx.AsyncClient) -> None:
    body = await gql(client, ME, {"first": 5, "after": "bm9wZQ=="}, auth=customer_token("a"))
    assert body["errors"][0]["extensions"]["code"] == "INVALID_INPUT"
    assert "cursor" in body["errors"][0]["message"]


async def test_page_size_is_bounded(client: httpx.AsyncClient) -> None:
    body = await gql(client, ME, {"first": 101}, auth=customer_token("a"))
    assert body["errors"][0]["extensions"]["code"] == "INVALID_INPUT"
    assert "first must be between 1 and 100" in body["errors"][0]["message"]


async def test_a_customer_cannot_read_another_customer(
    client: httpx.AsyncClient, pool: Pool
) -> None:
    await give(pool, "bob", 99)
    body = await gql(client, '{ customer(id: "bob") { balance } }', auth=customer_token("alice"))
    assert body["data"] == {"customer": None}
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    mine = await gql(client, ME, {"first": 1}, auth=customer_token("alice"))
    assert mine["data"]["me"]["balance"] == 0


async def test_staff_read_a_customer_by_id(
    client: httpx.AsyncClient, pool: Pool, pos_key: str, admin_key: str
) -> None:
    await give(pool, "bob", 99)
    query = '{ customer(id: "bob") { id balance ledger(first: 1) { edges { node { reason } } } } }'
    for key in (pos_key, admin_key):
        body = await gql(client, query, auth=key)
        assert body["data"]["customer"]["balance"] == 99
        assert body["data"]["customer"]["ledger"]["edges"][0]["node"]["reason"] == "gift 0"
    missing = await gql(client, '{ customer(id: "nobody") { id } }', auth=pos_key)
    assert missing["data"]["customer"] is None


async def test_me_needs_a_customer_token(client: httpx.AsyncClient, pos_key: str) -> None:
    body = await gql(client, "{ me { id } }", auth=pos_key)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_requests_without_valid_credentials_get_a_clear_error(
    client: httpx.AsyncClient, pool: Pool
) -> None:
    revoked = await service.create_api_key(pool, Role.POS, None)
    await pool.execute("UPDATE api_keys SET revoked_at = now()")
    cases = [
        (None, "Authorization"),
        ("lk_123_nope", "API key is not valid"),
        (revoked, "API key is not valid"),
        ("not-a-jwt", "customer token is not valid"),
        (customer_token("alice")[:-3] + "abc", "customer token is not valid"),
    ]
    for credential, message in cases:
        body = await gql(client, "{ me { id } }", auth=credential)
        error = body["errors"][0]
        assert error["extensions"]["code"] == "UNAUTHENTICATED", credential
        assert message in error["message"], (credential, error["message"])
    basic = await client.post(
        "/graphql", json={"query": "{ me { id } }"}, headers={"Authorization": "Basic abc"}
    )
    assert "Bearer" in basic.json()["errors"][0]["message"]


async def test_an_id_no_account_could_have_is_simply_not_found(
    client: httpx.AsyncClient, pool: Pool
) -> None:
    staff = await service.create_api_key(pool, Role.POS, None, "till")
    query = "query C($id: String!) { customer(id: $id) { id } }"
    for odd in ("a\x00b", "\x00"):  # PostgreSQL text cannot hold a NUL
        body = await gql(client, query, {"id": odd}, auth=staff)
        assert body == {"data": {"customer": None}}, odd
