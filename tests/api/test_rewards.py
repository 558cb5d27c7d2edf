"""Rewards: points buy a voucher, never overdrawing; a store honours the voucher once."""

import asyncio
from typing import Any

import httpx

from loyalty import service
from loyalty.store.database import Pool
from tests.support import customer_token, gql

CREATE = """
mutation C($name: String!, $cost: Int!) {
  createReward(name: $name, pointsCost: $cost) {
    __typename ... on RewardCreated { reward { id name pointsCost } }
    ... on InvalidInputError { field }
  }
}
"""

REDEEM = """
mutation R($reward: ID!, $key: String!, $customer: String) {
  redeemReward(rewardId: $reward, idempotencyKey: $key, customerId: $customer) {
    __typename
    ... on RewardRedeemed { balance replayed voucher { code rewardName pointsCost state } }
    ... on InsufficientPointsError { balance requested }
    ... on Error { code message }
  }
}
"""

USE = """
mutation U($code: String!) {
  useVoucher(code: $code, storeId: "S1") {
    __typename
    ... on VoucherUsed { voucher { code rewardName state } }
    ... on VoucherUnusableError { reason }
  }
}
"""


async def reward(client: httpx.AsyncClient, admin_key: str, cost: int = 60) -> str:
    body = await gql(client, CREATE, {"name": "Free medium pizza", "cost": cost}, auth=admin_key)
    reward_id: str = body["data"]["createReward"]["reward"]["id"]
    return reward_id


async def give(pool: Pool, customer: str, points: int) -> None:
    await service.adjust_points(
        pool,
        service.RuleBook(pool, None),
        customer_id=customer,
        points=points,
        reason="seed",
        idempotency_key=f"seed-{customer}",
    )


async def test_a_customer_buys_a_voucher_and_a_store_honours_it_once(
    client: httpx.AsyncClient, pool: Pool, admin_key: str, pos_key: str
) -> None:
    reward_id = await reward(client, admin_key)
    await give(pool, "alice", 100)
    me = customer_token("alice")
    body = await gql(client, REDEEM, {"reward": reward_id, "key": "r1"}, auth=me)
    done = body["data"]["redeemReward"]
    assert done["balance"] == 40
    assert done["voucher"]["code"].startswith("RWD-")
    assert (done["voucher"]["rewardName"], done["voucher"]["state"]) == (
        "Free medium pizza",
        "issued",
    )
    again = await gql(client, REDEEM, {"reward": reward_id, "key": "r1"}, auth=me)
    assert again["data"]["redeemReward"]["replayed"] is True
    assert again["data"]["redeemReward"]["voucher"] == done["voucher"]
    short = await gql(client, REDEEM, {"reward": reward_id, "key": "r2"}, auth=me)
    assert short["data"]["redeemReward"] == {
        "__typename": "InsufficientPointsError",
        "balance": 40,
        "requested": 60,
        "code": "INSUFFICIENT_POINTS",
        "message": "balance is 40 points, 60 points were requested",
    }
    kinds = await pool.fetch("SELECT kind, points FROM ledger_entries ORDER BY id")
    assert [(r["kind"], r["points"]) for r in kinds] == [("adjust", 100), ("redeem", -60)]
    used = await gql(client, USE, {"code": done["voucher"]["code"].lower()}, auth=pos_key)
    assert used["data"]["useVoucher"]["voucher"]["state"] == "redeemed"
    twice = await gql(client, USE, {"code": done["voucher"]["code"]}, auth=pos_key)
    assert twice["data"]["useVoucher"]["reason"] == "it has already been used"
    assert await service.verify_ledger(pool) == []


async def test_a_hundred_redemptions_against_a_balance_for_three(
    live_url: str, client: httpx.AsyncClient, pool: Pool, admin_key: str, pos_key: str
) -> None:
    reward_id = await reward(client, admin_key, cost=60)
    await give(pool, "alice", 180)
    headers = {"Authorization": f"Bearer {pos_key}"}

    def body(n: int) -> dict[str, Any]:
        variables = {"reward": reward_id, "key": f"k{n}", "customer": "alice"}
        return {"query": REDEEM, "variables": variables}

    async with httpx.AsyncClient(base_url=live_url, timeout=60) as http:
        responses = await asyncio.gather(
            *[http.post("/graphql", json=body(n), headers=headers) for n in range(100)]
        )
    kinds = [r.json()["data"]["redeemReward"]["__typename"] for r in responses]
    assert kinds.count("RewardRedeemed") == 3
    assert kinds.count("InsufficientPointsError") == 97
    assert await pool.fetchval("SELECT balance FROM accounts WHERE customer_id = 'alice'") == 0
    assert await pool.fetchval("SELECT count(*) FROM vouchers") == 3
    assert await service.verify_ledger(pool) == []


async def test_bad_rewards_and_vouchers_are_refused_clearly(
    client: httpx.AsyncClient, admin_key: str, pos_key: str
) -> None:
    refused = await gql(client, CREATE, {"name": "Nothing", "cost": 0}, auth=admin_key)
    assert refused["data"]["createReward"]["field"] == "pointsCost"
    missing = await gql(
        client, REDEEM, {"reward": "999", "key": "x", "customer": "a"}, auth=pos_key
    )
    assert missing["data"]["redeemReward"]["code"] == "REWARD_NOT_FOUND"
    nobody = await gql(client, REDEEM, {"reward": "1", "key": "x"}, auth=pos_key)
    assert nobody["data"]["redeemReward"]["code"] == "INVALID_INPUT"
    listed = await gql(client, "{ rewards { name } }", auth=customer_token("a"))
    assert listed["data"]["rewards"] == []


async def test_a_refused_redemption_by_a_customer_never_seen_leaves_them_unseen(
    client: httpx.AsyncClient, pool: Pool, admin_key: str
) -> None:
    reward_id = await reward(client, admin_key)
    variables = {"reward": reward_id, "key": "r1", "customer": "stranger"}
    body = await gql(client, REDEEM, variables, auth=admin_key)
    refused = body["data"]["redeemReward"]
    assert (refused["__typename"], refused["balance"], refused["requested"]) == (
        "InsufficientPointsError",
        0,
        60,
    )
    seen = await gql(client, '{ customer(id: "stranger") { id } }', auth=admin_key)
    assert seen == {"data": {"customer": None}}
    assert await pool.fetchval("SELECT count(*) FROM accounts") == 0


async def test_two_customers_may_use_the_same_key(
    client: httpx.AsyncClient, pool: Pool, admin_key: str
) -> None:
    reward_id = await reward(client, admin_key)
    answers = {}
    for customer in ("alice", "bob"):
        await give(pool, customer, 100)
        body = await gql(
            client, REDEEM, {"reward": reward_id, "key": "app-1"}, auth=customer_token(customer)
        )
        answers[customer] = body["data"]["redeemReward"]
    assert {a["__typename"] for a in answers.values()} == {"RewardRedeemed"}
    assert {a["replayed"] for a in answers.values()} == {False}
    assert answers["alice"]["voucher"]["code"] != answers["bob"]["voucher"]["code"]
    owners = await pool.fetch("SELECT customer_id FROM vouchers ORDER BY customer_id")
    assert [row["customer_id"] for row in owners] == ["alice", "bob"]
    replay = await gql(
        client, REDEEM, {"reward": reward_id, "key": "app-1"}, auth=customer_token("bob")
    )
    assert replay["data"]["redeemReward"]["voucher"] == answers["bob"]["voucher"]
