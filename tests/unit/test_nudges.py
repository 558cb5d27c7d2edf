from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from loyalty.domain import ruleindex as ruleindex_module
from loyalty.domain.engine import CustomerState, Item, Occasion, evaluate
from loyalty.domain.nudges import (
    Change,
    NudgeSettings,
    Product,
    Shelf,
    acceptance_rate,
    apply,
    find_nudges,
)
from loyalty.domain.ruleindex import RuleIndex
from loyalty.domain.rules import Rule, parse_rule

AT = datetime(2026, 11, 25, 12, tzinfo=UTC)
OCCASION = Occasion("S1", "pos", AT, ZoneInfo("Europe/Warsaw"))

PEPP = {
    size: Product(f"PEPP-{size}", f"Pepperoni {name}", "pizza", price, "pepperoni", rank)
    for size, name, price, rank in [
        ("S", "Small", 999, 1),
        ("M", "Medium", 1249, 2),
        ("L", "Large", 1499, 3),
        ("XL", "Extra Large", 1749, 4),
    ]
}
LAVA = Product("LAVA-CAKE", "Lava Cake", "desserts", 499)
COOKIE = Product("COOKIE", "Cookie Dough", "desserts", 349)
COLA = Product("COLA-05", "Cola", "drinks", 249)
WINGS = Product("WINGS-12", "Wings x12", "sides", 1049)
SHELF = Shelf(sizes={"pepperoni": list(PEPP.values())}, extras=[LAVA, COOKIE, COLA, WINGS])


def item(product: Product, quantity: int = 1) -> Item:
    return Item(
        product.sku, quantity, product.price, product.category, product.family, product.size_rank
    )


def rule(rule_id: int, kind: str, spec: dict[str, Any], message: str = "") -> Rule:
    return parse_rule(
        rule_id=rule_id, version=1, kind=kind, name=f"r{rule_id}", spec=spec, message=message
    )


BASE = rule(1, "BASE_EARN", {"baseEarn": {"mode": "per_unit", "points": 1}})
UPSIZE = rule(2, "UPSIZE", {"upsize": {"category": "pizza", "minSizeRank": 3, "points": 20}})
LAVA_ADD_ON = rule(
    3,
    "ADD_ON",
    {"addOn": {"trigger": {"category": "pizza"}, "addOn": {"category": "desserts"}, "points": 15}},
)
MEAL = rule(
    4,
    "BUNDLE",
    {"bundle": {"items": [{"category": "pizza"}, {"category": "drinks"}], "points": 25}},
)
DOUBLE = rule(
    5, "SPEND_THRESHOLD", {"spendThreshold": {"threshold": 3000, "multiplierPercent": 200}}
)


def nudges(items: list[Item], rules: list[Rule], **options: Any) -> list[Any]:
    shelf = options.pop("shelf", SHELF)
    customer = options.pop("customer", CustomerState())
    return find_nudges(items, OCCASION, customer, RuleIndex(rules), shelf, limit=10, **options)


def test_an_upsize_says_exactly_what_it_costs_and_pays() -> None:
    [nudge] = nudges([item(PEPP["M"])], [BASE, UPSIZE])
    assert nudge.kind == "UPSIZE"
    assert nudge.change == Change(add_sku="PEPP-L", replace_sku="PEPP-M", quantity=1)
    assert nudge.extra_cost == 250
    # 14.99 earns 14 base points instead of 12, plus the 20 bonus points
    assert nudge.points == 22
    assert nudge.message == "Make it a Pepperoni Large for +2.50 and earn 22 bonus points"
    after = evaluate(
        apply([item(PEPP["M"])], nudge.change, PEPP["L"]), OCCASION, CustomerState(), [BASE, UPSIZE]
    )
    before = evaluate([item(PEPP["M"])], OCCASION, CustomerState(), [BASE, UPSIZE])
    assert after.points - before.points == nudge.points  # the promise is what a purchase pays


def test_an_upsize_is_preferred_over_an_add_on() -> None:
    found = nudges([item(PEPP["M"], 4)], [BASE, LAVA_ADD_ON, UPSIZE])
    assert found[0].kind == "UPSIZE"
    assert {n.kind for n in found} == {"UPSIZE", "ADD_ON"}


def test_an_add_on_costs_less_than_its_item_and_at_most_a_tenth_of_the_cart() -> None:
    big_cart = [item(PEPP["L"], 4)]  # 59.96: a tenth is 5.99
    found = nudges(big_cart, [BASE, LAVA_ADD_ON])
    assert {n.change.add_sku for n in found} == {"LAVA-CAKE", "COOKIE"}
    small_cart = [item(PEPP["S"])]  # 9.99: a tenth is 0.99, too little for any dessert
    assert nudges(small_cart, [BASE, LAVA_ADD_ON]) == []
    generous = NudgeSettings(max_add_on_percent=50)
    cheap_pizza = [Item("MINI", 1, 400, "pizza")]  # desserts cost more than the pizza itself
    assert nudges(cheap_pizza, [BASE, LAVA_ADD_ON], settings=generous) == []


def test_a_spend_nudge_only_when_the_gap_is_small() -> None:
    near = [item(PEPP["XL"]), item(PEPP["L"])]  # 32.48: already past 30.00
    assert [n for n in nudges(near, [BASE, DOUBLE]) if n.kind == "SPEND_THRESHOLD"] == []
    close = [item(PEPP["L"]), item(PEPP["L"])]  # 29.98: 0.02 short
    [nudge] = nudges(close, [BASE, DOUBLE], shelf=replace(SHELF, extras=[COLA, LAVA]))
    assert nudge.change.add_sku == "COLA-05"  # the cheapest thing that closes the gap
    far = [item(PEPP["M"])]  # 12.49: 17.51 short, more than 15% of 30.00
    assert nudges(far, [BASE, DOUBLE]) == []


def test_a_bundle_missing_one_item_is_completed() -> None:
    [nudge] = nudges([item(PEPP["L"])], [BASE, MEAL])
    assert (nudge.kind, nudge.change.add_sku) == ("BUNDLE", "COLA-05")
    assert nudge.points == 25 + 3  # the deal, and 17.48 earns 17 base points instead of 14


def test_no_nudge_for_excluded_customers_or_what_they_keep_declining() -> None:
    returner = CustomerState(segments=frozenset({"mostly_returns"}))
    assert nudges([item(PEPP["M"])], [BASE, UPSIZE], customer=returner) == []
    tired = replace(SHELF, declined={(2, "PEPP-M>PEPP-L"): 3})
    assert nudges([item(PEPP["M"])], [BASE, UPSIZE], shelf=tired) == []
    twice = replace(SHELF, declined={(2, "PEPP-M>PEPP-L"): 2})
    assert len(nudges([item(PEPP["M"])], [BASE, UPSIZE], shelf=twice)) == 1


def test_no_nudge_when_no_rule_would_pay_for_it() -> None:
    budgeted = rule(
        2,
        "UPSIZE",
        {"upsize": {"category": "pizza", "minSizeRank": 3, "points": 20}, "caps": {"budget": 100}},
    )
    assert nudges([item(PEPP["M"])], [BASE, budgeted], budgets={2: 0}) == []
    assert nudges([item(PEPP["M"])], [BASE]) == []


def test_add_ons_are_ranked_by_what_customers_buy_together() -> None:
    cart = [item(PEPP["L"], 4)]
    plain = nudges(cart, [BASE, LAVA_ADD_ON])
    assert plain[0].change.add_sku == "LAVA-CAKE"  # more points: its own base points
    together = replace(SHELF, together={"COOKIE": 2.0})
    assert nudges(cart, [BASE, LAVA_ADD_ON], shelf=together)[0].change.add_sku == "COOKIE"


def test_acceptance_rates_are_smoothed_for_rules_with_little_history() -> None:
    assert acceptance_rate(0, 0) == 0.2
    assert acceptance_rate(1, 1) < 0.25  # one lucky showing is not a 100% rule
    assert abs(acceptance_rate(10_000, 5_000) - 0.5) < 0.01


def test_the_spend_gap_guardrail_is_configurable() -> None:
    cart = [item(PEPP["XL"])]  # 17.49: 12.51 short of 30.00, over 15% of it
    assert nudges(cart, [BASE, DOUBLE]) == []
    loose = NudgeSettings(max_gap_percent=50)
    [nudge] = nudges(
        cart, [BASE, DOUBLE], settings=loose, shelf=replace(SHELF, extras=[PEPP["L"], COLA])
    )
    assert nudge.kind == "SPEND_THRESHOLD"


def test_a_changed_cart_is_priced_once_however_many_rules_suggest_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = []

    def counted(items: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(tuple(i.sku for i in items))
        return evaluate(items, *args, **kwargs)

    monkeypatch.setattr(ruleindex_module, "evaluate", counted)
    upsizes = [
        rule(10 + n, "UPSIZE", {"upsize": {"category": "pizza", "minSizeRank": 3, "points": 5 + n}})
        for n in range(30)
    ]
    [best] = find_nudges(
        [item(PEPP["M"])], OCCASION, CustomerState(), RuleIndex([BASE, *upsizes]), SHELF
    )
    assert best.points == 2 + sum(range(5, 35))  # they stack: 2 more base points and all 30
    assert calls == [("PEPP-M",), ("PEPP-L",)]  # the cart as it is, and as it would be


def test_with_an_upsize_found_no_other_kind_is_priced(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def counted(items: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(tuple(i.sku for i in items))
        return evaluate(items, *args, **kwargs)

    monkeypatch.setattr(ruleindex_module, "evaluate", counted)
    cart = [item(PEPP["M"], 4)]
    rules = RuleIndex([BASE, LAVA_ADD_ON, MEAL, UPSIZE])
    [best] = find_nudges(cart, OCCASION, CustomerState(), rules, SHELF, limit=1)
    assert best.kind == "UPSIZE"
    assert len(calls) == 2
    # Asking for more nudges prices the other kinds too, and the upsize still comes first.
    calls.clear()
    more = find_nudges(cart, OCCASION, CustomerState(), rules, SHELF, limit=3)
    assert more[0] == best and len(calls) > 2
