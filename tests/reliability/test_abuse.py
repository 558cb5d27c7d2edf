"""Abuse against a live server: each attempt is refused, and refused for less than it asks."""

import asyncio
import statistics
import time
from dataclasses import replace
from typing import Any

import httpx
import pytest

from loyalty import service
from loyalty.config import Settings
from loyalty.domain.access import Role
from loyalty.store.database import Pool
from tests.api.test_rebate_codes import CHECK, issue
from tests.reliability.conftest import Trial
from tests.support import customer_token

RATE, BURST = 20.0, 20


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The suite's settings with the rate limit on, as a server runs by default."""
    return replace(settings, rate_limit=RATE, rate_burst=BURST)


async def timed(http: httpx.AsyncClient, auth: str, body: Any, times: int = 5) -> tuple[float, Any]:
    """Median milliseconds of `times` posts, and the last answer."""
    spent, answer = [], None
    headers = {"Authorization": f"Bearer {auth}"}
    for _ in range(times):
        started = time.perf_counter()
        response = await http.post("/graphql", json=body, headers=headers)
        spent.append((time.perf_counter() - started) * 1000)
        answer = response
    return statistics.median(spent), answer


async def test_abuse_is_refused_cheaply(
    trial: Trial, live_url: str, client: httpx.AsyncClient, pool: Pool, admin_key: str
) -> None:
    trial.describe(
        "abuse",
        "a 10,000-entry page, 1,000 aliases, 20 levels deep, a 2 MB body, "
        f"a burst over {RATE:g}/s from one key, wrong rebate codes",
    )
    # Timed in process, so the numbers are the server's work and not the loopback's.
    http = client
    plain_ms, plain = await timed(http, customer_token("a"), {"query": "{ me { balance } }"})
    assert plain.status_code == 200 and "errors" not in plain.json()

    page = "ledger(first: 10000) { edges { node { id points } } }"
    page_ms, refused = await timed(http, customer_token("b"), {"query": "{ me { " + page + " } }"})
    assert refused.json()["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"

    aliases = " ".join(f"a{n}: me {{ balance }}" for n in range(1_000))
    alias_ms, refused = await timed(http, customer_token("c"), {"query": "{ " + aliases + " }"})
    assert refused.json()["data"] is None and refused.json()["errors"]

    inner = "id"
    for _ in range(5):
        inner = f"ledger {{ edges {{ node {{ purchase {{ customer {{ {inner} }} }} }} }} }}"
    deep = {"query": f'{{ customer(id: "alice") {{ {inner} }} }}'}
    deep_ms, refused = await timed(http, admin_key, deep)
    assert "exceeds maximum operation depth" in refused.json()["errors"][0]["message"]

    big = {"query": "{ me { balance } }", "padding": "x" * 2_000_000}
    big_ms, refused = await timed(http, customer_token("d"), big, times=3)
    assert refused.status_code == 413
    trial.saw(
        f"refused in (median ms): 10k page {page_ms:.1f}, 1,000 aliases {alias_ms:.1f}, "
        f"depth {deep_ms:.1f}, 2 MB body {big_ms:.1f}; a plain `me` takes {plain_ms:.1f}"
    )

    async with httpx.AsyncClient(base_url=live_url, timeout=30) as http:
        flood = await service.create_api_key(pool, Role.POS, None, "flood")
        calm = await service.create_api_key(pool, Role.POS, None, "calm")
        responses = await asyncio.gather(
            *[
                http.post(
                    "/graphql",
                    json={"query": "{ tiers { name } }"},
                    headers={"Authorization": f"Bearer {flood}"},
                )
                for _ in range(3 * BURST)
            ]
        )
        statuses = [response.status_code for response in responses]
        for response in responses:
            if response.status_code == 429:
                assert int(response.headers["retry-after"]) >= 1
                assert response.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        answered, limited = statuses.count(200), statuses.count(429)
        assert answered + limited == len(statuses)
        assert BURST <= answered < 2 * BURST and limited > 0
        other = await http.post(
            "/graphql",
            json={"query": "{ tiers { name } }"},
            headers={"Authorization": f"Bearer {calm}"},
        )
        assert other.status_code == 200
        trial.saw(
            f"{len(statuses)} requests at once from one key: {answered} answered, {limited} "
            "told 429 with Retry-After; another key was unaffected"
        )

        guesser = await service.create_api_key(pool, Role.POS, None, "guesser")
        codes = [await issue(client, admin_key, customer=f"g{n}") for n in range(8)]
        await pool.execute("DELETE FROM rebate_codes")  # well formed, found nowhere
        answers = []
        for code in codes:
            response = await http.post(
                "/graphql",
                json={"query": CHECK, "variables": {"code": code}},
                headers={"Authorization": f"Bearer {guesser}"},
            )
            answers.append(response.json()["data"]["rebateCode"])
        kinds = [answer["code"] for answer in answers]
        assert kinds[:5] == ["REBATE_CODE_NOT_FOUND"] * 5
        assert set(kinds[5:]) == {"TOO_MANY_ATTEMPTS"}
        waits = [answer["retryAfterSeconds"] for answer in answers[5:]]
        trial.saw(f"wrong codes: 5 answered, then made to wait {waits} seconds")
