from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from loyalty.domain.rules import (
    ADD_ON,
    BASE_EARN,
    BUNDLE,
    KINDS,
    PRODUCT_BONUS,
    SPEND_THRESHOLD,
    UPSIZE,
    AddOn,
    BaseEarn,
    Bundle,
    Caps,
    CatalogFacts,
    Conditions,
    ItemMatch,
    ProductBonus,
    Rule,
    SpendThreshold,
    Upsize,
    check_against_catalog,
    parse_rule,
)
from loyalty.errors import ValidationError

FACTS = CatalogFacts(
    categories=frozenset({"pizza", "drink", "dessert", "sides"}),
    skus=frozenset({"MARG-S", "MARG-M", "MARG-L", "COLA-05", "LAVA", "WINGS-6"}),
    family_sizes={"margherita": frozenset({1, 2, 3}), "cola": frozenset({2})},
    category_sizes={"pizza": frozenset({1, 2, 3}), "drink": frozenset({2})},
    sku_categories={"MARG-S": "pizza", "MARG-L": "pizza", "LAVA": "dessert", "COLA-05": "drink"},
    tiers=frozenset({"gold"}),
)

VALID: dict[str, dict[str, Any]] = {
    BASE_EARN: {"baseEarn": {"mode": "per_order", "points": 10, "minSubtotal": 500}},
    UPSIZE: {"upsize": {"family": "margherita", "minSizeRank": 3, "points": 20}},
    ADD_ON: {"addOn": {"trigger": {"category": "Pizza"}, "addOn": {"sku": "LAVA"}, "points": 15}},
    SPEND_THRESHOLD: {"spendThreshold": {"threshold": 2000, "multiplierPercent": 200}},
    BUNDLE: {"bundle": {"items": [{"category": "pizza"}, {"category": "drink"}], "points": 25}},
    PRODUCT_BONUS: {"productBonus": {"target": {"sku": "WINGS-6"}, "points": 5}},
}

PARSED = {
    BASE_EARN: BaseEarn("per_order", points=10, unit=100, min_subtotal=500),
    UPSIZE: Upsize(min_size_rank=3, points=20, family="margherita"),
    ADD_ON: AddOn(ItemMatch(category="pizza"), ItemMatch(sku="LAVA"), points=15),
    SPEND_THRESHOLD: SpendThreshold(threshold=2000, points=0, multiplier_percent=200),
    BUNDLE: Bundle((ItemMatch(category="pizza"), ItemMatch(category="drink")), points=25),
    PRODUCT_BONUS: ProductBonus(ItemMatch(sku="WINGS-6"), points=5),
}


def parse(kind: str, spec: Mapping[str, Any], **options: Any) -> Rule:
    return parse_rule(rule_id=7, version=2, kind=kind, name="Lunch deal", spec=spec, **options)


def refused_field(kind: str, spec: Mapping[str, Any], **options: Any) -> str:
    with pytest.raises(ValidationError) as refused:
        parse(kind, spec, **options)
    return refused.value.field


def with_params(kind: str, **params: Any) -> dict[str, Any]:
    key = next(iter(VALID[kind]))
    return {key: {**VALID[kind][key], **params}}


@pytest.mark.parametrize("kind", KINDS)
def test_a_valid_rule_of_each_kind_is_accepted(kind: str) -> None:
    rule = parse(kind, VALID[kind])
    assert (rule.id, rule.version, rule.kind, rule.name) == (7, 2, kind, "Lunch deal")
    assert rule.params == PARSED[kind]
    assert rule.conditions == Conditions()
    assert rule.caps == Caps()
    check_against_catalog(rule, FACTS)


def test_conditions_caps_and_stacking_are_read_from_the_spec() -> None:
    spec = {
        **VALID[BASE_EARN],
        "conditions": {
            "stores": ["WAW-01", " WAW-02 "],
            "channels": ["pos", "app"],
            "tiers": ["gold"],
            "excludedSegments": ["mostly_returns"],
            "validFrom": "2026-03-01T00:00:00+01:00",
            "validTo": "2026-04-01T00:00:00+02:00",
            "daysOfWeek": [2, 4],
            "timeFrom": "11:00",
            "timeTo": "14:00",
        },
        "caps": {"period": "day", "maxAwards": 1, "maxPoints": 50, "budget": 100_000},
    }
    rule = parse(BASE_EARN, spec, priority=5, message="Thanks!")
    assert rule.conditions == Conditions(
        stores=frozenset({"WAW-01", "WAW-02"}),
        channels=frozenset({"pos", "app"}),
        tiers=frozenset({"gold"}),
        excluded_segments=frozenset({"mostly_returns"}),
        valid_from=datetime(2026, 2, 28, 23, tzinfo=UTC),
        valid_to=datetime(2026, 3, 31, 22, tzinfo=UTC),
        days_of_week=frozenset({2, 4}),
        start_minute=11 * 60,
        end_minute=14 * 60,
    )
    assert rule.caps == Caps(period="day", max_awards=1, max_points=50, budget=100_000)
    assert (rule.priority, rule.exclusive, rule.message) == (5, False, "Thanks!")


def test_base_earn_always_stacks() -> None:
    with pytest.raises(ValidationError) as caught:
        parse(BASE_EARN, {"baseEarn": {"mode": "per_unit", "points": 1}}, exclusive=True)
    assert caught.value.field == "exclusive"


def test_a_window_may_run_to_midnight() -> None:
    spec = {**VALID[BASE_EARN], "conditions": {"timeFrom": "18:00", "timeTo": "24:00"}}
    conditions = parse(BASE_EARN, spec).conditions
    assert (conditions.start_minute, conditions.end_minute) == (18 * 60, 24 * 60)


def test_valid_from_may_be_given_as_a_datetime() -> None:
    start = datetime(2026, 3, 1, tzinfo=timezone(timedelta(hours=1)))
    spec = {**VALID[BASE_EARN], "conditions": {"validFrom": start}}
    assert parse(BASE_EARN, spec).conditions.valid_from == start


@pytest.mark.parametrize(
    ("kind", "spec", "field"),
    [
        (SPEND_THRESHOLD, with_params(SPEND_THRESHOLD, threshold=-1), "spendThreshold.threshold"),
        (SPEND_THRESHOLD, with_params(SPEND_THRESHOLD, threshold=0), "spendThreshold.threshold"),
        (SPEND_THRESHOLD, {"spendThreshold": {"threshold": 2000}}, "spendThreshold.points"),
        (BASE_EARN, with_params(BASE_EARN, mode="per_visit"), "baseEarn.mode"),
        (BASE_EARN, with_params(BASE_EARN, points=0), "baseEarn.points"),
        (BASE_EARN, with_params(BASE_EARN, points=True), "baseEarn.points"),
        (BASE_EARN, with_params(BASE_EARN, minSubtotal="5.00"), "baseEarn.minSubtotal"),
        (UPSIZE, with_params(UPSIZE, category="pizza"), "upsize.family"),
        (UPSIZE, with_params(UPSIZE, minSizeRank=0), "upsize.minSizeRank"),
        (ADD_ON, with_params(ADD_ON, trigger={"sku": "A", "category": "b"}), "addOn.trigger"),
        (ADD_ON, with_params(ADD_ON, addOn=None), "addOn.addOn"),
        (BUNDLE, with_params(BUNDLE, items=[{"category": "pizza"}]), "bundle.items"),
        (BUNDLE, with_params(BUNDLE, items=[{"sku": "A"}, {"sku": "A"}]), "bundle.items"),
        (BUNDLE, with_params(BUNDLE, items=[{"sku": "A"}, {"sku": ""}]), "bundle.items[1].sku"),
        (
            PRODUCT_BONUS,
            with_params(PRODUCT_BONUS, multiplierPercent=1001),
            "productBonus.multiplierPercent",
        ),
    ],
)
def test_bad_params_are_refused_naming_the_field(
    kind: str, spec: dict[str, Any], field: str
) -> None:
    assert refused_field(kind, spec) == field


@pytest.mark.parametrize(
    ("conditions", "field"),
    [
        (
            {"validFrom": "2026-04-01T00:00:00+02:00", "validTo": "2026-03-01T00:00:00+01:00"},
            "conditions.validTo",
        ),
        (
            {"validFrom": "2026-03-01T00:00:00+01:00", "validTo": "2026-03-01T00:00:00+01:00"},
            "conditions.validTo",
        ),
        ({"validFrom": "2026-03-01T00:00:00"}, "conditions.validFrom"),
        ({"validTo": "next week"}, "conditions.validTo"),
        ({"channels": ["pos", "kiosk"]}, "conditions.channels"),
        ({"channels": "pos"}, "conditions.channels"),
        ({"daysOfWeek": [0]}, "conditions.daysOfWeek"),
        ({"daysOfWeek": [8]}, "conditions.daysOfWeek"),
        ({"daysOfWeek": ["Tue"]}, "conditions.daysOfWeek"),
        ({"daysOfWeek": 2}, "conditions.daysOfWeek"),
        ({"daysOfWeek": [True]}, "conditions.daysOfWeek"),
        ({"timeFrom": "11:00"}, "conditions.timeTo"),
        ({"timeTo": "14:00"}, "conditions.timeTo"),
        ({"timeFrom": "14:00", "timeTo": "11:00"}, "conditions.timeTo"),
        ({"timeFrom": "11:00", "timeTo": "11:00"}, "conditions.timeTo"),
        ({"timeFrom": "11", "timeTo": "14:00"}, "conditions.timeFrom"),
        ({"timeFrom": "11:00\n", "timeTo": "14:00"}, "conditions.timeFrom"),
        ({"timeFrom": "11:00", "timeTo": "24:30"}, "conditions.timeTo"),
        ({"stores": [""]}, "conditions.stores"),
    ],
)
def test_bad_conditions_are_refused_naming_the_field(
    conditions: dict[str, Any], field: str
) -> None:
    assert refused_field(BASE_EARN, {**VALID[BASE_EARN], "conditions": conditions}) == field


@pytest.mark.parametrize(
    ("caps", "field"),
    [
        ({"period": "week"}, "caps.maxAwards"),
        ({"maxAwards": 1}, "caps.period"),
        ({"maxPoints": 100}, "caps.period"),
        ({"period": "year", "maxAwards": 1}, "caps.period"),
        ({"period": "day", "maxAwards": 0}, "caps.maxAwards"),
        ({"budget": 0}, "caps.budget"),
    ],
)
def test_bad_caps_are_refused_naming_the_field(caps: dict[str, Any], field: str) -> None:
    assert refused_field(BASE_EARN, {**VALID[BASE_EARN], "caps": caps}) == field


@pytest.mark.parametrize(
    ("caps", "expected"),
    [
        ({"period": "week", "maxAwards": 2}, Caps(period="week", max_awards=2)),
        ({"period": "month", "maxPoints": 500}, Caps(period="month", max_points=500)),
        ({"budget": 10_000}, Caps(budget=10_000)),
    ],
)
def test_a_period_with_either_limit_or_a_budget_alone_is_accepted(
    caps: dict[str, Any], expected: Caps
) -> None:
    assert parse(BASE_EARN, {**VALID[BASE_EARN], "caps": caps}).caps == expected


@pytest.mark.parametrize("kind", KINDS)
def test_params_of_another_kind_are_refused(kind: str) -> None:
    other = KINDS[(KINDS.index(kind) + 1) % len(KINDS)]
    spec = {**VALID[kind], **VALID[other]}
    assert refused_field(kind, spec) == next(iter(VALID[other]))


@pytest.mark.parametrize("kind", KINDS)
def test_missing_params_are_refused(kind: str) -> None:
    assert refused_field(kind, {}) == next(iter(VALID[kind]))


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"kind": "CASHBACK"}, "kind"),
        ({"name": "  "}, "name"),
        ({"priority": 1001}, "priority"),
        ({"message": "x" * 301}, "message"),
    ],
)
def test_bad_rule_attributes_are_refused(options: dict[str, Any], field: str) -> None:
    arguments: dict[str, Any] = {"kind": BASE_EARN, "name": "Base", **options}
    with pytest.raises(ValidationError) as refused:
        parse_rule(rule_id=1, version=1, spec=VALID[BASE_EARN], **arguments)
    assert refused.value.field == field


@pytest.mark.parametrize(
    ("kind", "spec", "field"),
    [
        (
            ADD_ON,
            with_params(ADD_ON, addOn={"category": "salads"}),
            "addOn.addOn.category",
        ),
        (
            ADD_ON,
            with_params(ADD_ON, trigger={"category": "pasta"}),
            "addOn.trigger.category",
        ),
        (ADD_ON, with_params(ADD_ON, addOn={"sku": "CHEESECAKE"}), "addOn.addOn.sku"),
        (
            BUNDLE,
            with_params(BUNDLE, items=[{"category": "pizza"}, {"sku": "FANTA"}]),
            "bundle.items[1].sku",
        ),
        (
            PRODUCT_BONUS,
            with_params(PRODUCT_BONUS, target={"category": "salads"}),
            "productBonus.target.category",
        ),
        (
            PRODUCT_BONUS,
            with_params(PRODUCT_BONUS, target={"sku": "NOPE"}),
            "productBonus.target.sku",
        ),
        (UPSIZE, with_params(UPSIZE, family="cola", minSizeRank=3), "upsize.family"),
        (UPSIZE, with_params(UPSIZE, family="calzone"), "upsize.family"),
        (UPSIZE, with_params(UPSIZE, minSizeRank=1), "upsize.minSizeRank"),
        (
            UPSIZE,
            {"upsize": {"category": "salads", "minSizeRank": 2, "points": 5}},
            "upsize.category",
        ),
    ],
)
def test_the_catalog_check_refuses_what_the_catalog_lacks(
    kind: str, spec: dict[str, Any], field: str
) -> None:
    rule = parse(kind, spec)
    with pytest.raises(ValidationError) as refused:
        check_against_catalog(rule, FACTS)
    assert refused.value.field == field


def test_an_upsize_may_start_at_any_size_above_the_smallest() -> None:
    check_against_catalog(parse(UPSIZE, with_params(UPSIZE, minSizeRank=2)), FACTS)
    by_category = {"upsize": {"category": "Pizza", "minSizeRank": 2, "points": 5}}
    rule = parse(UPSIZE, by_category)
    assert rule.params == Upsize(min_size_rank=2, points=5, category="pizza")
    check_against_catalog(rule, FACTS)


def test_rules_name_only_tiers_and_segments_the_program_has() -> None:
    gold = parse(BASE_EARN, {**VALID[BASE_EARN], "conditions": {"tiers": ["gold"]}})
    check_against_catalog(gold, FACTS)
    platinum = parse(BASE_EARN, {**VALID[BASE_EARN], "conditions": {"tiers": ["platinum"]}})
    with pytest.raises(ValidationError) as caught:
        check_against_catalog(platinum, FACTS)
    assert caught.value.field == "conditions.tiers"
    spec = {**VALID[BASE_EARN], "conditions": {"excludedSegments": ["students"]}}
    assert refused_field(BASE_EARN, spec) == "conditions.excludedSegments"


def test_an_upsize_by_category_needs_sizes_below_and_at_its_rank() -> None:
    drinks = parse(UPSIZE, {"upsize": {"category": "drink", "minSizeRank": 2, "points": 5}})
    with pytest.raises(ValidationError) as caught:
        check_against_catalog(drinks, FACTS)
    assert caught.value.field == "upsize.minSizeRank"
    small = parse(UPSIZE, {"upsize": {"category": "pizza", "minSizeRank": 1, "points": 5}})
    with pytest.raises(ValidationError):
        check_against_catalog(small, FACTS)


def test_a_bundle_item_may_not_fill_another_items_slot() -> None:
    spec = {"bundle": {"items": [{"category": "pizza"}, {"sku": "MARG-L"}], "points": 9}}
    with pytest.raises(ValidationError) as caught:
        check_against_catalog(parse(BUNDLE, spec), FACTS)
    assert caught.value.field == "bundle.items[1]"
