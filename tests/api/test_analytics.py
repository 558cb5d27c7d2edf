"""Analytics: every figure checked against a small program worked out by hand."""

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from loyalty import service
from loyalty.store.database import Pool
from tests.api.test_nudges import RECORD, program, purchase, show
from tests.api.test_returns import buy, give_back
from tests.support import customer_token, gql

WARSAW = ZoneInfo("Europe/Warsaw")

ANALYTICS = """
query A($from: Date!, $to: Date!, $value: Int) {
  analytics(from: $from, to: $to, pointValueMinor: $value) {
    __typename
    ... on Analytics {
      from to timezone currency
      rules {
        ruleId name kind
        total { ...figures }
        days { day ...dayFigures }
      }
      nudgedOrders { orders revenue average }
      notNudgedOrders { orders revenue average }
      liability { outstandingPoints debtPoints value }
      tiers { tier customers outstandingPoints }
    }
    ... on InvalidInputError { field message }
  }
}

fragment figures on NudgeFigures {
  shown accepted declined acceptancePerMille revenueAdded bonusPoints
  rebateCodesIssued rebateCodesRedeemed rebateDiscount
}

fragment dayFigures on DayFigures {
  shown accepted declined acceptancePerMille revenueAdded bonusPoints
  rebateCodesIssued rebateCodesRedeemed rebateDiscount
}
"""

SET_TIERS = """
mutation T($tiers: [TierInput!]!) { setTiers(tiers: $tiers) { __typename } }
"""


def figures(
    shown: int = 0,
    accepted: int = 0,
    declined: int = 0,
    per_mille: int | None = None,
    revenue: int = 0,
    bonus: int = 0,
    issued: int = 0,
    redeemed: int = 0,
    discount: int = 0,
) -> dict[str, Any]:
    return {
        "shown": shown,
        "accepted": accepted,
        "declined": declined,
        "acceptancePerMille": per_mille,
        "revenueAdded": revenue,
        "bonusPoints": bonus,
        "rebateCodesIssued": issued,
        "rebateCodesRedeemed": redeemed,
        "rebateDiscount": discount,
    }


async def report(
    client: httpx.AsyncClient, key: str, start: date, end: date, value: int | None = None
) -> dict[str, Any]:
    variables = {"from": start.isoformat(), "to": end.isoformat(), "value": value}
    body = await gql(client, ANALYTICS, variables, auth=key)
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["analytics"]
    return result


async def record(client: httpx.AsyncClient, key: str, body: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = (await gql(client, RECORD, {"input": body}, auth=key))["data"][
        "recordPurchase"
    ]
    assert result["__typename"] == "PurchaseRecorded", result
    return result


async def warsaw_program(client: httpx.AsyncClient, pool: Pool, admin_key: str) -> None:
    """The nudge tests' pizza shop (1 point per 1.00; "Go large": +20 points and a 2.00 thank-you
    code for a large pizza), in Warsaw, with Silver at 30 qualifying points."""
    await pool.execute(
        "INSERT INTO program (id, name, currency, timezone) VALUES (1, 'Test', 'PLN', $1)",
        "Europe/Warsaw",
    )
    await program(client, pool, admin_key)
    tiers = [
        {"name": "Silver", "qualifyingPoints": 30, "multiplierPercent": 100},
        {"name": "Gold", "qualifyingPoints": 1000, "multiplierPercent": 200},
    ]
    done = await gql(client, SET_TIERS, {"tiers": tiers}, auth=admin_key)
    assert done["data"]["setTiers"]["__typename"] == "TiersSet", done


async def test_every_figure_matches_the_program_worked_out_by_hand(
    client: httpx.AsyncClient, pool: Pool, admin_key: str, pos_key: str
) -> None:
    await warsaw_program(client, pool, admin_key)
    today = datetime.now(WARSAW).date()
    yesterday = today - timedelta(days=1)

    # alice takes the nudge (Pepperoni Medium -> Large, +2.50): 14 base + 20 bonus points and
    # a 2.00 thank-you code, which she spends on a Margherita Medium (11.49 - 2.00).
    taken = await show(client, pos_key, "alice")
    first = await record(client, pos_key, purchase(1, "PEPP-L", 1499, [taken["id"]], "alice"))
    assert first["pointsEarned"] == 34
    [code] = first["rebateCodesIssued"]
    again = purchase(2, "MARG-M", 1149, [], "alice") | {"rebateCode": code["code"]}
    second = await record(client, pos_key, again)
    # bob is shown the nudge and buys the medium anyway: declined, 12 base points.
    await show(client, pos_key, "bob")
    await record(client, pos_key, purchase(3, "PEPP-M", 1249, [], "bob"))
    # carol is shown it and buys nothing: neither accepted nor declined.
    await show(client, pos_key, "carol")
    # dave bought a water three days ago: his point is owed, his order is outside the window.
    old = purchase(4, "WATER-05", 199, [], "dave")
    old["occurredAt"] = (datetime.now(UTC) - timedelta(days=3)).isoformat()
    await record(client, pos_key, old)
    # erin is shown the nudge and buys nothing.
    await show(client, pos_key, "erin")
    # Nudges are stamped when shown; carol's and erin's are moved to the edges of yesterday's
    # local day: 00:30 in Warsaw is still the day before in UTC, 23:59 two days ago is outside.
    local = datetime.combine(yesterday, time(0, 30), WARSAW)
    await pool.execute("UPDATE nudges SET shown_at = $1 WHERE customer_id = 'carol'", local)
    outside = datetime.combine(yesterday, time(), WARSAW) - timedelta(minutes=1)
    await pool.execute("UPDATE nudges SET shown_at = $1 WHERE customer_id = 'erin'", outside)
    assert local.astimezone(UTC).date() == yesterday - timedelta(days=1)

    result = await report(client, admin_key, yesterday, today, value=50)

    rule_id = taken["ruleId"]
    assert result["__typename"] == "Analytics"
    assert (result["from"], result["to"]) == (yesterday.isoformat(), today.isoformat())
    assert (result["timezone"], result["currency"]) == ("Europe/Warsaw", "PLN")
    # Only the upsize rule: base points are earn entries, not bonuses, and it nudges nobody.
    # Yesterday: carol's nudge, shown and left open. Today: alice's (accepted, +2.50, 20 bonus
    # points, one code issued and redeemed for 2.00 off) and bob's (declined); 1/2 = 500 per
    # mille. Over both days 1 of 3 shown was taken: 333 per mille, rounded down. erin's nudge
    # was shown before the window and is in no figure.
    assert result["rules"] == [
        {
            "ruleId": rule_id,
            "name": "Go large",
            "kind": "UPSIZE",
            "total": figures(3, 1, 1, 333, 250, 20, 1, 1, 200),
            "days": [
                {"day": yesterday.isoformat(), **figures(1, 0, 0, 0)},
                {"day": today.isoformat(), **figures(2, 1, 1, 500, 250, 20, 1, 1, 200)},
            ],
        }
    ]
    # Orders in the window: alice's large pizza took the nudge (14.99); her Margherita (11.49,
    # subtotal before the code) and bob's medium (12.49) did not: 23.98 / 2 = 11.99.
    # dave's water happened three days ago.
    assert result["nudgedOrders"] == {"orders": 1, "revenue": 1499, "average": 1499}
    assert result["notNudgedOrders"] == {"orders": 2, "revenue": 2398, "average": 1199}
    # Balances: alice 34 + 11 (the Margherita earns on its price, before the code), bob 12,
    # dave 1, carol and erin 0: 58 points owed; at 0.50 per 100 points, 0.29.
    assert second["pointsEarned"] == 11
    assert result["liability"] == {"outstandingPoints": 58, "debtPoints": 0, "value": 29}
    # alice passed 30 qualifying points: Silver. bob, carol, dave and erin hold no tier.
    assert result["tiers"] == [
        {"tier": None, "customers": 4, "outstandingPoints": 13},
        {"tier": "Silver", "customers": 1, "outstandingPoints": 45},
        {"tier": "Gold", "customers": 0, "outstandingPoints": 0},
    ]


async def test_a_window_with_nothing_in_it_reports_zeros_and_the_debts_owed(
    client: httpx.AsyncClient, pool: Pool, admin_key: str, pos_key: str
) -> None:
    await warsaw_program(client, pool, admin_key)
    await show(client, pos_key, "alice")
    await buy(client, pos_key, 1, "PEPP-M", 1249, customer="alice")
    await buy(client, pos_key, 2, "PEPP-M", 1249, customer="bob")
    # alice spends her 12 points, then brings the pizza back: she owes 12.
    await service.adjust_points(
        pool,
        service.RuleBook(pool, None),
        customer_id="alice",
        points=-12,
        reason="reward",
        idempotency_key="spend",
    )
    back = await give_back(client, pos_key, 1, "R1", [("PEPP-M", 1)])
    assert back["balance"] == -12
    long_ago = date(2020, 1, 1)
    result = await report(client, admin_key, long_ago, long_ago)
    assert result["rules"] == []
    assert result["nudgedOrders"] == {"orders": 0, "revenue": 0, "average": None}
    assert result["notNudgedOrders"] == {"orders": 0, "revenue": 0, "average": None}
    # The liability is what is owed now, whatever the window: bob's 12 points; alice's debt
    # is not netted against it. No value without a point value.
    assert result["liability"] == {"outstandingPoints": 12, "debtPoints": 12, "value": None}
    assert result["tiers"] == [
        {"tier": None, "customers": 2, "outstandingPoints": 12},
        {"tier": "Silver", "customers": 0, "outstandingPoints": 0},
        {"tier": "Gold", "customers": 0, "outstandingPoints": 0},
    ]


async def test_customers_below_every_threshold_count_in_the_tier_that_asks_for_no_points(
    client: httpx.AsyncClient, pool: Pool, admin_key: str, pos_key: str
) -> None:
    await warsaw_program(client, pool, admin_key)
    await buy(client, pos_key, 1, "PEPP-M", 1249, customer="alice")
    await buy(client, pos_key, 2, "PEPP-M", 1249, customer="bob")
    tiers = [
        {"name": "Member", "qualifyingPoints": 0, "multiplierPercent": 100},
        {"name": "Silver", "qualifyingPoints": 30, "multiplierPercent": 100},
    ]
    done = await gql(client, SET_TIERS, {"tiers": tiers}, auth=admin_key)
    assert done["data"]["setTiers"]["__typename"] == "TiersSet", done
    me = "{ me { tier { tier { name } } } }"
    shown = await gql(client, me, auth=customer_token("alice"))
    assert shown["data"]["me"]["tier"]["tier"] == {"name": "Member"}
    today = datetime.now(WARSAW).date()
    result = await report(client, admin_key, today, today)
    assert result["tiers"] == [
        {"tier": "Member", "customers": 2, "outstandingPoints": 24},
        {"tier": "Silver", "customers": 0, "outstandingPoints": 0},
    ]


async def test_an_acceptance_counts_on_the_day_the_nudge_was_shown(
    client: httpx.AsyncClient, pool: Pool, admin_key: str, pos_key: str
) -> None:
    await warsaw_program(client, pool, admin_key)
    taken = await show(client, pos_key, "alice")
    await record(client, pos_key, purchase(1, "PEPP-L", 1499, [taken["id"]], "alice"))
    shown = datetime.now(WARSAW) - timedelta(days=2)
    await pool.execute("UPDATE nudges SET shown_at = $1", shown)
    today = datetime.now(WARSAW).date()
    result = await report(client, admin_key, shown.date(), today)
    [rule] = result["rules"]
    # Taken today, shown two days ago: the acceptance belongs to the day it was shown; the
    # bonus and the code to the day they were paid and issued.
    assert rule["days"] == [
        {"day": shown.date().isoformat(), **figures(1, 1, 0, 1000, 250)},
        {"day": today.isoformat(), **figures(bonus=20, issued=1)},
    ]


async def test_the_window_is_checked(client: httpx.AsyncClient, admin_key: str) -> None:
    start = date(2026, 1, 1)
    backwards = await report(client, admin_key, start, start - timedelta(days=1))
    assert (backwards["__typename"], backwards["field"]) == ("InvalidInputError", "to")
    too_long = await report(client, admin_key, start, start + timedelta(days=366))
    assert (too_long["__typename"], too_long["field"]) == ("InvalidInputError", "to")
    longest = await report(client, admin_key, start, start + timedelta(days=365))
    assert longest["__typename"] == "Analytics"
    assert longest["timezone"] == "UTC"  # no program yet: days are UTC days
    negative = await report(client, admin_key, start, start, value=-1)
    assert (negative["__typename"], negative["field"]) == ("InvalidInputError", "pointValueMinor")


async def test_only_admins_read_analytics(client: httpx.AsyncClient, pos_key: str) -> None:
    variables = {"from": "2026-01-01", "to": "2026-01-02"}
    for key in (pos_key, customer_token("alice"), None):
        body = await gql(client, ANALYTICS, variables, auth=key)
        assert body["data"] is None and body["errors"], body
