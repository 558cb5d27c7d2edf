"""Abuse is refused cheaply: oversized pages, aliased fields, and callers who send too much
(depth and body size: tests/api/test_purchase.py)."""

from dataclasses import replace

import httpx

from loyalty import service
from loyalty.app import create_app
from loyalty.config import Settings
from loyalty.domain.access import Role
from loyalty.store.database import Pool
from tests.support import customer_token, gql, serving

LEDGER = "ledger(first: {n}) {{ edges {{ node {{ id points kind balanceAfter }} }} }}"


async def test_a_query_for_ten_thousand_entries_is_refused_before_it_runs(
    client: httpx.AsyncClient,
) -> None:
    query = "{ me { balance " + LEDGER.format(n=10_000) + " } }"
    body = await gql(client, query, auth=customer_token("alice"))
    assert body["data"] is None  # nothing resolved, not even `me`
    [error] = body["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert error["extensions"]["cost"] > 5_000
    assert "ask for smaller pages" in error["message"]


async def test_one_page_aliased_thirty_times_is_refused_and_one_page_is_not(
    client: httpx.AsyncClient, pool: Pool
) -> None:
    page = LEDGER.format(n=100)
    one = await gql(client, "{ me { " + page + " } }", auth=customer_token("alice"))
    assert "errors" not in one, one
    many = " ".join(f"a{n}: {page}" for n in range(30))
    body = await gql(client, "{ me { " + many + " } }", auth=customer_token("alice"))
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"


async def test_a_field_aliased_a_thousand_times_is_refused(client: httpx.AsyncClient) -> None:
    query = "{ " + " ".join(f"a{n}: me {{ balance }}" for n in range(1_000)) + " }"
    body = await gql(client, query, auth=customer_token("alice"))
    assert body["data"] is None
    messages = " ".join(error["message"] for error in body["errors"])
    assert body["errors"][0]["extensions"]["code"] == "QUERY_TOO_LARGE"
    assert "send the values as variables" in messages


async def test_a_caller_over_its_rate_is_told_when_to_come_back(
    pool: Pool, settings: Settings, dsn: str
) -> None:
    # One token back every ten seconds: the test is over long before the sixth arrives.
    limited = replace(settings, rate_limit=0.1, rate_burst=5)
    first = await service.create_api_key(pool, Role.POS, None, "till 1")
    second = await service.create_api_key(pool, Role.POS, None, "till 2")
    async with serving(create_app(limited, pool=pool, dsn=dsn)) as client:

        async def ask(key: str | None) -> httpx.Response:
            headers = {"Authorization": f"Bearer {key}"} if key else {}
            return await client.post(
                "/graphql", json={"query": "{ tiers { name } }"}, headers=headers
            )

        burst = [await ask(first) for _ in range(5)]
        assert [r.status_code for r in burst] == [200] * 5
        over = await ask(first)
        assert over.status_code == 429
        assert over.headers["retry-after"] == "10"
        [error] = over.json()["errors"]
        assert error["extensions"] == {"code": "RATE_LIMITED", "retryAfterSeconds": 10}
        assert error["message"] == (
            "too many requests from this caller: 0.1 a second are allowed; try again in 10 s"
        )
        assert (await ask(second)).status_code == 200  # another key has its own budget
        anonymous = [(await ask(None)).status_code for _ in range(6)]
        assert anonymous == [200] * 5 + [429]  # callers without a key count by address


async def test_a_short_query_of_many_tokens_or_aliases_is_refused(
    client: httpx.AsyncClient,
) -> None:
    dense = "{" + " ".join(f"a{n}:me{{balance}}" for n in range(300)) + "}"
    assert len(dense) < 10_000
    body = await gql(client, dense, auth=customer_token("alice"))
    assert body["data"] is None
    assert "more than 1000 tokens" in body["errors"][0]["message"]
    aliased = "{" + " ".join(f"a{n}:me{{balance}}" for n in range(31)) + "}"
    body = await gql(client, aliased, auth=customer_token("alice"))
    assert body["data"] is None
    assert "aliases" in body["errors"][0]["message"]


async def test_a_fragment_bomb_is_refused_before_validation(client: httpx.AsyncClient) -> None:
    fragments = " ".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(30))
    bomb = "query { ...F0 } " + fragments + " fragment F30 on Query { tiers { name } }"
    body = await gql(client, bomb)  # no credentials needed to try
    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_LARGE"
    assert "once its fragments are spread" in error["message"]


async def test_introspection_is_off_in_production_and_on_in_development(
    pool: Pool, settings: Settings, dsn: str
) -> None:
    query = "{ __schema { queryType { name } } }"
    async with serving(create_app(settings, pool=pool, dsn=dsn)) as client:
        body = await gql(client, query)
        assert body["data"] is None
        assert "introspection" in body["errors"][0]["message"].lower()
    development = replace(settings, environment="development", introspection=True)
    async with serving(create_app(development, pool=pool, dsn=dsn)) as client:
        assert (await gql(client, query))["data"] == {"__schema": {"queryType": {"name": "Query"}}}
