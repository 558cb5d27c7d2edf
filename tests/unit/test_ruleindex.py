"""The rule index: carts skip rules whose items they lack, and earn exactly what they did."""

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loyalty.domain import engine
from loyalty.domain.engine import CustomerState, Evaluation, Item, Occasion, evaluate
from loyalty.domain.ruleindex import RuleIndex
from loyalty.domain.rules import PARAMS_KEY, Rule, parse_rule
from tests.unit.test_engine_properties import Scenario, items, scenarios

OCCASION = Occasion("WAW-01", "pos", datetime(2026, 3, 24, 11, tzinfo=UTC), ZoneInfo("UTC"))
MARG_M = Item("MARG-M", 1, 1499, "pizza", "margherita", 2)
MARG_L = Item("MARG-L", 1, 1899, "pizza", "margherita", 3)
COLA = Item("COLA-05", 2, 249, "drink", "cola", 2)
LAVA = Item("LAVA", 1, 499, "dessert")


def rule(rule_id: int, kind: str, params: dict[str, Any], exclusive: bool = False) -> Rule:
    return parse_rule(
        rule_id=rule_id,
        version=1,
        kind=kind,
        name=f"rule {rule_id}",
        spec={PARAMS_KEY[kind]: params},
        exclusive=exclusive,
    )


BASE = rule(1, "BASE_EARN", {"mode": "per_unit", "points": 1})
DOUBLE = rule(2, "SPEND_THRESHOLD", {"threshold": 100_000, "multiplierPercent": 200})
LARGE = rule(3, "UPSIZE", {"family": "margherita", "minSizeRank": 3, "points": 20})
LARGE_PIZZA = rule(4, "UPSIZE", {"category": "pizza", "minSizeRank": 3, "points": 10})
LAVA_WITH_PIZZA = rule(
    5, "ADD_ON", {"trigger": {"category": "pizza"}, "addOn": {"sku": "LAVA"}, "points": 15}
)
MEAL = rule(6, "BUNDLE", {"items": [{"category": "pizza"}, {"category": "drink"}], "points": 25})
LAVA_BONUS = rule(7, "PRODUCT_BONUS", {"target": {"sku": "LAVA"}, "points": 5}, exclusive=True)
COLA_BONUS = rule(8, "PRODUCT_BONUS", {"target": {"category": "drink"}, "points": 3})
PROGRAM = (BASE, DOUBLE, LARGE, LARGE_PIZZA, LAVA_WITH_PIZZA, MEAL, LAVA_BONUS, COLA_BONUS)


def paid_alike(scenario: Scenario, cart: list[Item]) -> None:
    def run(rules: Any, **options: Any) -> Evaluation:
        return evaluate(
            cart, scenario.occasion, scenario.customer, rules, scenario.budgets, **options
        )

    every = run(scenario.rules)
    indexed = RuleIndex(scenario.rules).evaluate(
        cart, scenario.occasion, scenario.customer, scenario.budgets
    )
    assert indexed.awards == every.awards
    assert indexed.points == every.points
    assert indexed.line_points(len(cart)) == every.line_points(len(cart))
    assert run(scenario.rules, reasons=False).awards == every.awards


@settings(max_examples=300, deadline=None)
@given(scenarios(most_rules=30), st.lists(items(), max_size=4))
def test_the_index_pays_exactly_what_evaluating_every_rule_pays(
    scenario: Scenario, small_cart: list[Item]
) -> None:
    paid_alike(scenario, list(scenario.items))
    # A small cart lacks most of what the rules name, so the index leaves most of them out.
    paid_alike(scenario, small_cart)


def test_a_cart_skips_the_rules_whose_items_it_lacks() -> None:
    index = RuleIndex(PROGRAM)
    assert index.candidates([]) == [BASE, DOUBLE]
    assert index.candidates([MARG_M]) == [BASE, DOUBLE, LARGE, LARGE_PIZZA, MEAL]
    # A bundle or an add-on is keyed by one item it needs, a sku before a category.
    assert index.candidates([COLA]) == [BASE, DOUBLE, COLA_BONUS]
    assert index.candidates([LAVA]) == [BASE, DOUBLE, LAVA_WITH_PIZZA, LAVA_BONUS]


def test_a_rule_naming_an_item_not_in_the_cart_is_not_evaluated(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tried: list[int] = []
    award = engine._award

    def counted(rule: Rule, *args: Any) -> Any:
        tried.append(rule.id)
        return award(rule, *args)

    monkeypatch.setattr(engine, "_award", counted)
    cart = [MARG_L, COLA]
    indexed = RuleIndex(PROGRAM).evaluate(cart, OCCASION, CustomerState())
    assert sorted(tried) == [1, 2, 3, 4, 6, 8]  # no lava: rules 5 and 7 are not tried
    tried.clear()
    every = evaluate(cart, OCCASION, CustomerState(), PROGRAM)
    assert sorted(tried) == [1, 2, 3, 4, 5, 6, 7, 8]
    assert indexed.awards == every.awards
    assert indexed.reasons == ()
    assert {reason.rule_id for reason in every.reasons} == {2, 5, 7}


def test_leaving_out_an_exclusive_rule_that_cannot_pay_changes_no_winner() -> None:
    index = RuleIndex([*PROGRAM, replace(COLA_BONUS, id=9, exclusive=True)])
    for cart in ([COLA], [COLA, LAVA]):
        every = evaluate(cart, OCCASION, CustomerState(), index.rules)
        assert index.evaluate(cart, OCCASION, CustomerState()).awards == every.awards
