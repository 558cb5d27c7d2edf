"""Every admin change is in the change log with who, when, and the state before and after."""

import asyncio
import json
from typing import Any

import asyncpg
import httpx
import pytest

from loyalty import service
from loyalty.domain.access import Actor, Role
from loyalty.store.database import Pool
from tests.api.test_admin import ADJUST, PIZZA, UPSERT, adjustment
from tests.api.test_lifecycle import SET_TIERS, TIERS, program
from tests.api.test_rules import SEED, UPDATE, create, rule_input
from tests.support import customer_token, gql
from tests.test_cli import loyalty

LOG = """
query Log($first: Int!, $after: String, $kind: String, $id: String) {
  auditLog(first: $first, after: $after, subjectKind: $kind, subjectId: $id) {
    edges { cursor node { id at actor action subjectKind subjectId before after } }
    pageInfo { hasNextPage endCursor }
  }
}
"""

ARCHIVE = """
mutation A($id: ID!) { archiveRule(id: $id) { __typename } }
"""

POLICY = """
mutation P($months: Int) {
  setPointsPolicy(expiryMonths: $months) { __typename ... on InvalidInputError { field } }
}
"""


async def changes(
    client: httpx.AsyncClient, admin_key: str, **filters: Any
) -> list[dict[str, Any]]:
    variables = {"first": 100, "kind": filters.get("kind"), "id": filters.get("id")}
    body = await gql(client, LOG, variables, auth=admin_key)
    assert "errors" not in body, body
    return [edge["node"] for edge in body["data"]["auditLog"]["edges"]]


async def labelled_admin(pool: Pool) -> tuple[str, int]:
    key = await service.create_api_key(pool, Role.ADMIN, None, "marketing")
    principal = await service.principal_for_api_key(pool, key)
    assert principal is not None and principal.key_id is not None
    return key, principal.key_id


async def test_a_rule_is_logged_when_created_updated_and_archived(
    client: httpx.AsyncClient, pool: Pool
) -> None:
    await program(pool)
    key, key_id = await labelled_admin(pool)
    created = await create(client, key, rule_input("BASE_EARN", "Base 2"))
    rule_id = created["rule"]["id"]
    body = {**rule_input("BASE_EARN", "Base 2, richer"), "priority": 5}
    updated = await gql(client, UPDATE, {"id": rule_id, "input": body}, auth=key)
    assert updated["data"]["updateRule"]["__typename"] == "RuleSaved"
    await gql(client, ARCHIVE, {"id": rule_id}, auth=key)

    log = await changes(client, key, kind="rule", id=rule_id)
    assert [c["action"] for c in log] == ["archiveRule", "updateRule", "createRule"]
    archived, update, creation = log
    assert {c["actor"] for c in log} == {f"admin key {key_id} (marketing)"}
    assert creation["before"] is None
    assert creation["after"]["name"] == "Base 2" and creation["after"]["version"] == 1
    assert update["before"]["name"] == "Base 2" and update["before"]["priority"] == 0
    assert update["after"]["name"] == "Base 2, richer" and update["after"]["priority"] == 5
    assert update["after"]["version"] == 2
    assert (archived["before"]["status"], archived["after"]["status"]) == ("active", "archived")
    assert log[0]["at"] >= log[1]["at"] >= log[2]["at"]


async def test_tiers_policies_rewards_products_and_adjustments_are_logged(
    client: httpx.AsyncClient, pool: Pool
) -> None:
    await program(pool)
    key, key_id = await labelled_admin(pool)
    await gql(client, SET_TIERS, {"tiers": TIERS[:2], "window": "CALENDAR_YEAR"}, auth=key)
    await gql(client, SET_TIERS, {"tiers": TIERS, "grace": 10}, auth=key)
    await gql(client, POLICY, {"months": 12}, auth=key)
    await gql(client, UPSERT, {"products": [PIZZA]}, auth=key)
    await gql(client, UPSERT, {"products": [{**PIZZA, "price": 1499}]}, auth=key)
    reward = """mutation { createReward(name: "Free dip", pointsCost: 50) { __typename } }"""
    await gql(client, reward, auth=key)
    await gql(client, ADJUST, {"input": adjustment(70)}, auth=key)
    limits = "mutation { setNudgeLimits(addOnMaxPercent: 20) { __typename } }"
    await gql(client, limits, auth=key)
    goodwill = """mutation { issueRebateCode(input: {customerId: "alice", idempotencyKey: "g1",
        amountOff: 300}) { ... on RebateCodeIssued { rebateCode { code } } } }"""
    code = (await gql(client, goodwill, auth=key))["data"]["issueRebateCode"]["rebateCode"]["code"]

    log = {c["action"]: c for c in reversed(await changes(client, key))}
    second_tiers, first_tiers = await changes(client, key, kind="tiers")
    assert first_tiers["before"] == {"tiers": [], "window": "rolling_12_months", "graceDays": 30}
    assert [t["name"] for t in first_tiers["after"]["tiers"]] == ["Member", "Silver"]
    assert first_tiers["after"]["window"] == "calendar_year"
    assert second_tiers["before"] == first_tiers["after"]
    assert [t["name"] for t in second_tiers["after"]["tiers"]] == ["Member", "Silver", "Gold"]
    assert second_tiers["after"]["graceDays"] == 10

    policy = log["setPointsPolicy"]
    assert policy["before"] == {"expiryMonths": None, "pendingDays": 0}
    assert policy["after"] == {"expiryMonths": 12, "pendingDays": 0}

    upserts = [c for c in await changes(client, key, kind="products") if c["actor"] != "system"]
    [second, first] = upserts
    assert "MARG-L" not in first["before"]
    assert second["before"]["MARG-L"]["price"] == 1399
    assert second["after"]["MARG-L"]["price"] == 1499

    created = log["createReward"]
    assert created["before"] is None and created["after"]["points_cost"] == 50

    adjusted = log["adjustPoints"]
    assert (adjusted["subjectKind"], adjusted["subjectId"]) == ("customer", "alice")
    assert adjusted["before"] == {"balance": 0}
    assert adjusted["after"]["balance"] == 70 and adjusted["after"]["reason"] == "late delivery"

    nudge_limits = log["setNudgeLimits"]
    assert nudge_limits["before"]["addOnMaxPercent"] == 10
    assert nudge_limits["after"] == {"addOnMaxPercent": 20, "spendGapMaxPercent": 15}
    issued = log["issueRebateCode"]
    assert issued["subjectId"] == "alice" and issued["after"]["amount_off"] == 300
    assert issued["after"]["code"] == code[-4:]  # a bearer code is never logged whole
    assert code not in str(issued)

    me = f"admin key {key_id} (marketing)"
    by_key = {c["action"] for c in await changes(client, key) if c["actor"] == me}
    assert by_key == {
        "setTiers",
        "setPointsPolicy",
        "upsertProducts",
        "createReward",
        "adjustPoints",
        "setNudgeLimits",
        "issueRebateCode",
    }


async def test_refused_and_replayed_changes_are_not_logged(
    client: httpx.AsyncClient, pool: Pool, admin_key: str
) -> None:
    await program(pool)
    before = await pool.fetchval("SELECT count(*) FROM admin_changes")
    refused: list[tuple[str, dict[str, Any]]] = [
        (SET_TIERS, {"tiers": [*TIERS, TIERS[0]]}),
        (POLICY, {"months": 0}),
        (UPSERT, {"products": [{**PIZZA, "price": -1}]}),
        (ADJUST, {"input": adjustment(-5)}),  # alice has no points to take
    ]
    for query, variables in refused:
        answer = await gql(client, query, variables, auth=admin_key)
        assert "Error" in str(answer["data"]), answer
    assert await pool.fetchval("SELECT count(*) FROM admin_changes") == before

    await gql(client, ADJUST, {"input": adjustment(30, key="k2")}, auth=admin_key)
    replay = await gql(client, ADJUST, {"input": adjustment(30, key="k2")}, auth=admin_key)
    assert replay["data"]["adjustPoints"]["replayed"] is True
    assert await pool.fetchval("SELECT count(*) FROM admin_changes") == before + 1


async def test_the_log_pages_newest_first_and_filters_by_subject(
    client: httpx.AsyncClient, pool: Pool, admin_key: str
) -> None:
    for n in range(5):
        body = {"input": adjustment(10 + n, key=f"a{n}", customerId=f"c{n % 2}")}
        await gql(client, ADJUST, body, auth=admin_key)
    seen: list[int] = []
    after = None
    while True:
        variables = {"first": 2, "after": after, "kind": "customer"}
        page = (await gql(client, LOG, variables, auth=admin_key))["data"]["auditLog"]
        seen += [c["node"]["after"]["points"] for c in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == [14, 13, 12, 11, 10]
    only_c1 = await changes(client, admin_key, kind="customer", id="c1")
    assert [c["after"]["points"] for c in only_c1] == [13, 11]
    too_many = await gql(client, LOG, {"first": 101}, auth=admin_key)
    assert too_many["data"] is None
    assert "first must be between 1 and 100" in too_many["errors"][0]["message"]


async def test_only_admins_read_the_log(
    client: httpx.AsyncClient, pool: Pool, admin_key: str, pos_key: str
) -> None:
    await gql(client, ADJUST, {"input": adjustment(10)}, auth=admin_key)
    for auth, code in ((pos_key, "FORBIDDEN"), (customer_token("alice"), "FORBIDDEN")):
        body = await gql(client, LOG, {"first": 10}, auth=auth)
        assert body["data"] is None
        assert body["errors"][0]["extensions"]["code"] == code
    anonymous = await gql(client, LOG, {"first": 10})
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_the_log_cannot_be_rewritten(pool: Pool) -> None:
    await service.adjust_points(
        pool,
        service.RuleBook(pool, None),
        customer_id="alice",
        points=10,
        reason="gift",
        idempotency_key="g1",
    )
    for statement in (
        "UPDATE admin_changes SET actor = 'someone else'",
        "DELETE FROM admin_changes",
        "TRUNCATE admin_changes",
    ):
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await pool.execute(statement)
    assert await pool.fetchval("SELECT actor FROM admin_changes") == "system"


async def test_keys_made_and_revoked_on_the_command_line_are_logged(
    dsn: str, pool: Pool, client: httpx.AsyncClient, admin_key: str
) -> None:
    made = loyalty(dsn, "apikey", "create", "--role", "pos", "--store", "S2", "--label", "till 4")
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    prefix = key.split("_")[1]
    revoked = loyalty(dsn, "apikey", "revoke", prefix)
    assert revoked.returncode == 0, revoked.stderr
    again = loyalty(dsn, "apikey", "revoke", prefix)
    assert again.returncode != 0 and prefix in again.stderr

    log = await changes(client, admin_key, kind="api_key")
    mine = [c for c in log if c["after"]["prefix"] == prefix]
    assert [c["action"] for c in mine] == ["revokeApiKey", "createApiKey"]
    assert all(c["actor"].startswith("command line (") for c in mine)
    assert mine[1]["after"] == {"prefix": prefix, "role": "pos", "storeId": "S2", "label": "till 4"}
    assert mine[0]["after"]["revoked"] is True and mine[0]["before"].get("revoked") is None
    assert key.split("_", 2)[2] not in str(log)  # the secret is never in the log
    assert await service.principal_for_api_key(pool, key) is None


async def test_concurrent_changes_each_log_the_state_they_replaced(
    client: httpx.AsyncClient, pool: Pool, admin_key: str
) -> None:
    await program(pool)
    rule_id = (await create(client, admin_key, rule_input("BASE_EARN", "v1")))["rule"]["id"]
    names = [f"v{n}" for n in range(2, 10)]
    await asyncio.gather(
        *[
            gql(
                client,
                UPDATE,
                {"id": rule_id, "input": rule_input("BASE_EARN", name)},
                auth=admin_key,
            )
            for name in names
        ]
    )
    log = list(reversed(await changes(client, admin_key, kind="rule", id=rule_id)))
    # Each update's "before" is the one before it: a chain from v1 with no gap and no fork.
    chain = [log[0]["after"]["name"]] + [c["after"]["name"] for c in log[1:]]
    assert [c["before"]["name"] for c in log[1:]] == chain[:-1]
    assert sorted(chain[1:]) == sorted(names)

    products = [{**PIZZA, "sku": "NEW-1", "price": 100 + n} for n in range(6)]
    await asyncio.gather(
        *[gql(client, UPSERT, {"products": [p]}, auth=admin_key) for p in products]
    )
    upserts = list(reversed(await changes(client, admin_key, kind="products")))
    mine = [c for c in upserts if "NEW-1" in c["after"]]
    assert mine[0]["before"] == {}
    prices = [c["after"]["NEW-1"]["price"] for c in mine]
    assert [c["before"]["NEW-1"]["price"] for c in mine[1:]] == prices[:-1]


async def test_replays_and_the_demo_program_are_logged_once(
    client: httpx.AsyncClient, pool: Pool, admin_key: str
) -> None:
    seed = json.loads(SEED.read_text())
    assert await service.load_seed(pool, seed, Actor("demo setup"))
    [loaded] = await changes(client, admin_key, kind="program")
    assert (loaded["action"], loaded["actor"]) == ("loadProgram", "demo setup")
    assert [r["name"] for r in loaded["after"]["rules"]] == [r["name"] for r in seed["rules"]]

    goodwill = """mutation { issueRebateCode(input: {customerId: "alice", idempotencyKey: "g1",
        amountOff: 300}) { ... on RebateCodeIssued { replayed } } }"""
    first = await gql(client, goodwill, auth=admin_key)
    again = await gql(client, goodwill, auth=admin_key)
    assert again["data"]["issueRebateCode"]["replayed"] is True
    assert first["data"]["issueRebateCode"]["replayed"] is False
    issued = [c for c in await changes(client, admin_key) if c["action"] == "issueRebateCode"]
    assert len(issued) == 1


async def test_a_subject_id_needs_its_kind(client: httpx.AsyncClient, admin_key: str) -> None:
    body = await gql(client, LOG, {"first": 5, "id": "5"}, auth=admin_key)
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "INVALID_INPUT"
    assert "subjectKind" in body["errors"][0]["message"]
