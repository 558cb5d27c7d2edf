"""Races: many requests at once over real HTTP for one scarce thing (a code, a balance, the
units of a purchase, a capped rule), round after round on fresh state; each holds."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any, NamedTuple

import httpx

from loyalty import service
from loyalty.domain.codes import parse_code
from loyalty.store.database import Pool
from tests.api import test_rebate_codes as rebate_codes
from tests.api import test_rules as rules
from tests.api.test_nudges import RECORD, program, purchase, show
from tests.api.test_returns import RETURN, buy
from tests.api.test_rewards import REDEEM, give, reward
from tests.reliability.conftest import Trial, scale
from tests.support import customer_token, gql

ROUNDS = scale(5, 20)
AT_ONCE = 30

Request = tuple[str, dict[str, Any], str]  # query, variables, credential
Answer = dict[str, Any]


async def at_once(http: httpx.AsyncClient, requests: list[Request]) -> list[Answer]:
    """Send the requests together; each one's answer, in order."""
    responses = await asyncio.gather(
        *[
            http.post(
                "/graphql",
                json={"query": query, "variables": variables},
                headers={"Authorization": f"Bearer {auth}"},
            )
            for query, variables, auth in requests
        ]
    )
    answers = []
    for response in responses:
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body
        [answer] = body["data"].values()
        answers.append(answer)
    return answers


def kinds(answers: list[Answer]) -> Counter[str]:
    return Counter(answer["__typename"] for answer in answers)


# One rebate code, many tills.


class CodeRound(NamedTuple):
    code: str
    discount: int
    customers: list[str]  # who try it, in turn


async def code_for_round(
    client: httpx.AsyncClient, admin_key: str, pos_key: str, n: int
) -> CodeRound:
    """On even rounds a thank-you code its customer earned by taking a nudge, tried by that
    customer at every till; on odd ones an unbound goodwill code, tried by many customers."""
    if n % 2 == 0:
        customer = f"taker{n}"
        nudge = await show(client, pos_key, customer)
        bought = await buy(
            client, pos_key, n, "PEPP-L", 1499, nudges=[nudge["id"]], customer=customer
        )
        [code] = bought["rebateCodesIssued"]
        return CodeRound(code["code"], code["amountOff"], [customer])
    code = await rebate_codes.issue(client, admin_key, f"giver{n}", boundToCustomer=False)
    return CodeRound(code, 500, [f"guest{n}-{k}" for k in range(AT_ONCE)])


async def check_code_round(
    pool: Pool, contest: CodeRound, bodies: list[dict[str, Any]], answers: list[Answer]
) -> None:
    assert kinds(answers) == {
        "PurchaseRecorded": 1,
        "RebateCodeAlreadyRedeemedError": AT_ONCE - 1,
    }, answers
    [(winner, body)] = [(a, b) for a, b in zip(answers, bodies, strict=True) if "discount" in a]
    assert (winner["discount"], winner["rebateCode"]["state"]) == (contest.discount, "REDEEMED")
    canonical = parse_code(contest.code).canonical
    used = await pool.fetch(
        "SELECT id, transaction_id FROM purchases WHERE rebate_code = $1", canonical
    )
    assert [row["transaction_id"] for row in used] == [body["transactionId"]]
    # The refused purchases are refused whole: not one of them was written.
    tried = [b["transactionId"] for b in bodies]
    written = await pool.fetchval(
        "SELECT count(*) FROM purchases WHERE transaction_id = ANY($1)", tried
    )
    assert written == 1
    state = await pool.fetchrow(
        "SELECT state, redeemed_purchase_id FROM rebate_codes WHERE code = $1", canonical
    )
    assert state is not None
    assert (state["state"], state["redeemed_purchase_id"]) == ("redeemed", used[0]["id"])
    assert await service.verify_ledger(pool) == []


async def test_one_rebate_code_at_many_tills_is_redeemed_once(
    live_url: str, client: httpx.AsyncClient, pool: Pool, admin_key: str, pos_key: str, trial: Trial
) -> None:
    trial.describe(
        "races: one rebate code",
        f"{ROUNDS} rounds of {AT_ONCE} purchases at once carrying the same code (a nudge's "
        "thank-you code by its customer, or an unbound code by many customers)",
    )
    await program(client, pool, admin_key)
    started = time.monotonic()
    async with httpx.AsyncClient(base_url=live_url, timeout=60) as http:
        for n in range(ROUNDS):
            contest = await code_for_round(client, admin_key, pos_key, n)
            bodies = [
                rebate_codes.purchase(
                    contest.code,
                    contest.customers[k % len(contest.customers)],
                    10_000 * (n + 1) + k,
                )
                for k in range(AT_ONCE)
            ]
            answers = await at_once(
                http, [(rebate_codes.RECORD, {"input": body}, pos_key) for body in bodies]
            )
            await check_code_round(pool, contest, bodies, answers)
    elapsed = time.monotonic() - started
    trial.saw(
        f"{ROUNDS} rounds in {elapsed:.1f} s: each code redeemed by exactly 1 of {AT_ONCE} "
        f"purchases; {ROUNDS * (AT_ONCE - 1)} refused RebateCodeAlreadyRedeemedError and "
        "wrote nothing"
    )
    trial.saw("the code's row names the one purchase that holds it; verify_ledger clean each round")


# Redemptions against a small balance.

COST = 60


def redemption(reward_id: str, customer: str, k: int, pos_key: str) -> Request:
    """Odd ones from the customer's app, even ones from a till naming the customer."""
    key = f"{customer}-{k}"
    if k % 2:
        return REDEEM, {"reward": reward_id, "key": key}, customer_token(customer)
    return REDEEM, {"reward": reward_id, "key": key, "customer": customer}, pos_key


async def check_redemptions(pool: Pool, customer: str, balance: int, answers: list[Answer]) -> int:
    """The balance held: returns how many redemptions it paid for."""
    won = [a for a in answers if a["__typename"] == "RewardRedeemed"]
    lost = [a for a in answers if a["__typename"] == "InsufficientPointsError"]
    assert len(won) + len(lost) == AT_ONCE, answers
    assert len(won) * COST <= balance
    # Each took its turn on the account: every one that fit was paid, one after another.
    assert sorted(a["balance"] for a in won) == [balance - COST * k for k in range(len(won), 0, -1)]
    assert {(a["code"], a["balance"], a["requested"]) for a in lost} == {
        ("INSUFFICIENT_POINTS", balance % COST, COST)
    }
    left = await pool.fetchval("SELECT balance FROM accounts WHERE customer_id = $1", customer)
    assert left == balance - len(won) * COST >= 0
    lowest = await pool.fetchval(
        "SELECT min(balance_after) FROM ledger_entries WHERE customer_id = $1", customer
    )
    assert lowest >= 0
    vouchers = await pool.fetchval("SELECT count(*) FROM vouchers WHERE customer_id = $1", customer)
    assert vouchers == len(won)
    assert await service.verify_ledger(pool) == []
    return len(won)


async def test_redemptions_at_once_never_overdraw_a_small_balance(
    live_url: str, client: httpx.AsyncClient, pool: Pool, admin_key: str, pos_key: str, trial: Trial
) -> None:
    trial.describe(
        "races: redemptions",
        f"{ROUNDS} rounds of {AT_ONCE} redemptions of a {COST}-point reward at once (half from "
        "the customer's app, half from a till) against a balance for 1 to 4",
    )
    reward_id = await reward(client, admin_key, cost=COST)
    taken = 0
    started = time.monotonic()
    async with httpx.AsyncClient(base_url=live_url, timeout=60) as http:
        for n in range(ROUNDS):
            customer = f"spender{n}"
            balance = COST * (1 + n % 4) + (17 * n) % COST
            await give(pool, customer, balance)
            requests = [redemption(reward_id, customer, k, pos_key) for k in range(AT_ONCE)]
            answers = await at_once(http, requests)
            taken += await check_redemptions(pool, customer, balance, answers)
    elapsed = time.monotonic() - started
    trial.saw(
        f"{ROUNDS} rounds in {elapsed:.1f} s: {taken} redeemed, exactly as many as each balance "
        f"covered; {ROUNDS * AT_ONCE - taken} refused INSUFFICIENT_POINTS with what was left"
    )
    trial.saw("no balance or ledger entry below zero; one voucher per success; ledger verified")


# Returns of the same units.

RETURN_SHAPES = (
    (("PEPP-L", 1),),
    (("WINGS-6", 1),),
    (("PEPP-L", 1), ("WINGS-6", 1)),
    (("PEPP-L", 2),),
    (("WINGS-6", 2),),
)
BOUGHT = {"PEPP-L": 3, "WINGS-6": 2}
DUPLICATED = 5  # return ids also sent a second time, in the same burst


async def bought_for_round(client: httpx.AsyncClient, pos_key: str, n: int) -> int:
    """A purchase of 3 pizzas and 2 wings by a new customer; the points it earned."""
    body = purchase(n, "PEPP-L", 1499, [], f"returner{n}")
    body["lines"][0]["quantity"] = BOUGHT["PEPP-L"]
    body["lines"].append({"sku": "WINGS-6", "quantity": BOUGHT["WINGS-6"], "unitPrice": 599})
    result = await gql(client, RECORD, {"input": body}, auth=pos_key)
    earned: int = result["data"]["recordPurchase"]["pointsEarned"]
    assert earned > 0
    return earned


def return_body(n: int, k: int) -> dict[str, Any]:
    lines = [{"sku": sku, "quantity": q} for sku, q in RETURN_SHAPES[k % len(RETURN_SHAPES)]]
    return {"storeId": "S1", "transactionId": f"T{n}", "returnId": f"R{n}-{k}", "lines": lines}


def check_duplicates(answers: list[Answer]) -> None:
    """A return sent twice at once is taken once and replayed once, or refused twice."""
    for first, copy in zip(answers, answers[AT_ONCE:], strict=False):
        assert first["__typename"] == copy["__typename"], (first, copy)
        if first["__typename"] == "ReturnRecorded":  # a refusal is not kept, so not replayed
            assert {**first, "replayed": None} == {**copy, "replayed": None}
            assert sorted([first["replayed"], copy["replayed"]]) == [False, True]


def units_back(bodies: list[dict[str, Any]], answers: list[Answer]) -> Counter[str]:
    """Units taken back by the returns that succeeded; each refusal had reason to be."""
    back: Counter[str] = Counter()
    taken = [(b, a) for b, a in zip(bodies, answers, strict=False) if "pointsReversed" in a]
    for body, _ in taken:
        back.update({line["sku"]: line["quantity"] for line in body["lines"]})
    assert all(back[sku] <= BOUGHT[sku] for sku in BOUGHT), back
    for body, answer in zip(bodies, answers, strict=False):
        if "pointsReversed" not in answer:
            # Refused only for want of units: a line asks for more than is left even now.
            assert answer["field"].endswith(".quantity"), answer
            lines = body["lines"]
            assert any(line["quantity"] > BOUGHT[line["sku"]] - back[line["sku"]] for line in lines)
    return back


async def check_returns(pool: Pool, n: int, earned: int, answers: list[Answer]) -> int:
    """Units and points as the database has them; returns how many returns were taken."""
    back = units_back([return_body(n, k) for k in range(AT_ONCE)], answers)
    customer = f"returner{n}"
    lines = await pool.fetch(
        "SELECT sku, returned_quantity, reversed_points FROM purchase_lines WHERE customer_id = $1",
        customer,
    )
    assert {row["sku"]: row["returned_quantity"] for row in lines} == {s: back[s] for s in BOUGHT}
    taken = [a for a in answers[:AT_ONCE] if a["__typename"] == "ReturnRecorded"]
    reversed_points = sum(answer["pointsReversed"] for answer in taken)
    assert sum(row["reversed_points"] for row in lines) == reversed_points <= earned
    if back == BOUGHT:
        assert reversed_points == earned
    rows = await pool.fetchval("SELECT count(*) FROM returns WHERE customer_id = $1", customer)
    assert rows == len(taken)
    balance = await pool.fetchval("SELECT balance FROM accounts WHERE customer_id = $1", customer)
    assert balance == earned - reversed_points
    assert await service.verify_ledger(pool) == []
    return len(taken)


async def test_returns_at_once_take_each_unit_back_at_most_once(
    live_url: str, client: httpx.AsyncClient, pool: Pool, admin_key: str, pos_key: str, trial: Trial
) -> None:
    trial.describe(
        "races: returns",
        f"{ROUNDS} rounds of {AT_ONCE + DUPLICATED} returns at once of one purchase's 3 pizzas "
        f"and 2 wings, {DUPLICATED} of them sent twice",
    )
    await program(client, pool, admin_key)
    taken = 0
    started = time.monotonic()
    async with httpx.AsyncClient(base_url=live_url, timeout=60) as http:
        for n in range(ROUNDS):
            earned = await bought_for_round(client, pos_key, n)
            bodies = [return_body(n, k) for k in range(AT_ONCE)]
            sent = bodies + bodies[:DUPLICATED]
            answers = await at_once(http, [(RETURN, {"input": b}, pos_key) for b in sent])
            check_duplicates(answers)
            taken += await check_returns(pool, n, earned, answers)
    elapsed = time.monotonic() - started
    trial.saw(
        f"{ROUNDS} rounds in {elapsed:.1f} s: {taken} returns taken, {ROUNDS * AT_ONCE - taken} "
        "refused naming the quantity, each for units already back"
    )
    trial.saw(
        "no unit returned twice; points reversed = what the returned lines earned; duplicates "
        "taken once and replayed once; ledger verified"
    )


# Purchases against capped rules.

BUDGET = 60
CUSTOMERS_PER_ROUND = 6
PURCHASES_EACH = 6
ARCHIVE = "mutation A($id: ID!) { archiveRule(id: $id) { __typename } }"


class CappedRules(NamedTuple):
    per_day: str  # paid twice a day per customer
    budgeted: str  # paid three times a day per customer, out of a total budget
    budgeted_name: str


async def capped_rules(http: httpx.AsyncClient, admin_key: str, n: int) -> CappedRules:
    """A Domino's-style order bonus, and an upsize bonus with a small budget."""
    per_day = rules.rule_input(
        "BASE_EARN",
        name=f"Order bonus {n}",
        baseEarn={"mode": "PER_ORDER", "points": 10, "minSubtotal": 500},
        caps={"period": "DAY", "maxAwards": 2},
    )
    budgeted = rules.rule_input(
        "UPSIZE",
        name=f"Go large {n}",
        upsize={"category": "pizza", "minSizeRank": 3, "points": 7},
        caps={"period": "DAY", "maxAwards": 3, "budget": BUDGET},
    )
    ids = []
    for body in (per_day, budgeted):
        created = await rules.create(http, admin_key, body)
        assert created["__typename"] == "RuleSaved", created
        ids.append(created["rule"]["id"])
    return CappedRules(ids[0], ids[1], budgeted["name"])


def capped_purchase(n: int, customer: int, k: int) -> dict[str, Any]:
    return {
        "customerId": f"capped{n}-{customer}",
        "storeId": "S1",
        "transactionId": f"C{n}-{customer}-{k}",
        "occurredAt": rules.NOW.isoformat(),
        "lines": [{"sku": "PEPP-L", "quantity": 1, "unitPrice": 1499}],
    }


def check_caps(capped: CappedRules, bodies: list[dict[str, Any]], answers: list[Answer]) -> int:
    """The caps as the answers show them; returns what the budgeted rule paid."""
    assert kinds(answers) == {"PurchaseRecorded": len(bodies)}, answers
    awards: Counter[tuple[str, str]] = Counter()
    paid = 0
    for body, answer in zip(bodies, answers, strict=True):
        for award in answer["awards"]:
            awards[body["customerId"], award["ruleId"]] += 1
            if award["ruleId"] == capped.budgeted:
                assert 0 < award["points"] <= 7
                paid += award["points"]
        if not any(award["ruleId"] == capped.budgeted for award in answer["awards"]):
            # Told why it did not pay, not silently skipped.
            reasons = answer["reasons"]
            why = {r["code"] for r in reasons if r["ruleName"] == capped.budgeted_name}
            assert why in ({"CAP_REACHED"}, {"BUDGET_SPENT"}), reasons
    for customer in {body["customerId"] for body in bodies}:
        assert awards[customer, capped.per_day] == 2, awards
        assert awards[customer, capped.budgeted] <= 3, awards
    assert paid <= BUDGET
    return paid


async def check_capped_rows(pool: Pool, n: int, capped: CappedRules, paid: int) -> None:
    """The caps as the database keeps them: ledger, usage and budget slices agree."""
    ids = [int(capped.per_day), int(capped.budgeted)]
    entries = await pool.fetch(
        """
        SELECT customer_id, rule_id, count(*) AS awards, sum(points) AS points
        FROM ledger_entries WHERE rule_id = ANY($1) GROUP BY customer_id, rule_id
        """,
        ids,
    )
    usage = await pool.fetch(
        "SELECT customer_id, rule_id, awards, points FROM rule_usage WHERE rule_id = ANY($1)", ids
    )
    as_rows = {(r["customer_id"], r["rule_id"], r["awards"], r["points"]) for r in entries}
    assert as_rows == {(r["customer_id"], r["rule_id"], r["awards"], r["points"]) for r in usage}
    assert all(r["awards"] <= (2 if r["rule_id"] == ids[0] else 3) for r in entries)
    assert all(r["customer_id"].startswith(f"capped{n}-") for r in entries)
    drawn = await pool.fetchval(
        "SELECT sum(granted - remaining) FROM rule_budget_slices WHERE rule_id = $1", ids[1]
    )
    in_ledger = sum(r["points"] for r in entries if r["rule_id"] == ids[1])
    assert drawn == in_ledger == paid <= BUDGET
    assert await service.verify_ledger(pool) == []


async def test_purchases_at_once_never_pass_a_cap_or_a_budget(
    live_url: str, pool: Pool, admin_key: str, pos_key: str, trial: Trial
) -> None:
    trial.describe(
        "races: caps and budgets",
        f"{ROUNDS} rounds of {CUSTOMERS_PER_ROUND * PURCHASES_EACH} purchases at once "
        f"({CUSTOMERS_PER_ROUND} customers x {PURCHASES_EACH}) against a 2-a-day cap and a "
        f"3-a-day cap with a {BUDGET}-point budget",
    )
    await rules.catalog(pool)
    spent_exactly = 0
    started = time.monotonic()
    async with httpx.AsyncClient(base_url=live_url, timeout=60) as http:
        for n in range(ROUNDS):
            # Made through the server under test, so its rule book has them before the burst.
            capped = await capped_rules(http, admin_key, n)
            bodies = [
                capped_purchase(n, c, k)
                for k in range(PURCHASES_EACH)
                for c in range(CUSTOMERS_PER_ROUND)
            ]
            answers = await at_once(
                http, [(rules.RECORD, {"input": body}, pos_key) for body in bodies]
            )
            paid = check_caps(capped, bodies, answers)
            await check_capped_rows(pool, n, capped, paid)
            spent_exactly += paid == BUDGET
            for rule_id in capped[:2]:
                archived = await gql(http, ARCHIVE, {"id": rule_id}, auth=admin_key)
                assert archived["data"]["archiveRule"]["__typename"] == "RuleSaved"
    elapsed = time.monotonic() - started
    trial.saw(
        f"{ROUNDS} rounds in {elapsed:.1f} s: every customer paid the 2-a-day bonus exactly "
        "twice and the upsize bonus at most 3 times"
    )
    trial.saw(
        f"the {BUDGET}-point budget never exceeded; spent to the point in {spent_exactly} of "
        f"{ROUNDS} rounds; slices, ledger and usage rows agree; ledger verified"
    )
