import itertools
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from loyalty.domain.cart import CHANNELS
from loyalty.domain.engine import (
    Award,
    CustomerState,
    Evaluation,
    Item,
    Occasion,
    Reason,
    Usage,
    cut_award,
    evaluate,
    money,
    period_start,
)
from loyalty.domain.rules import (
    ADD_ON,
    BASE_EARN,
    BUNDLE,
    PARAMS_KEY,
    PRODUCT_BONUS,
    SPEND_THRESHOLD,
    UPSIZE,
    Rule,
    parse_rule,
)

WARSAW = ZoneInfo("Europe/Warsaw")
# 2026-03-29 is the spring change in Warsaw: these Tuesdays sit either side of it.
WINTER_TUESDAY = date(2026, 3, 24)  # UTC+1
SUMMER_TUESDAY = date(2026, 3, 31)  # UTC+2
NOON = datetime(2026, 3, 24, 11, tzinfo=UTC)  # 12:00 in Warsaw, a Tuesday

MARG_S = Item("MARG-S", 1, 1099, "pizza", "margherita", 1)
MARG_M = Item("MARG-M", 1, 1499, "pizza", "margherita", 2)
MARG_L = Item("MARG-L", 1, 1899, "pizza", "margherita", 3)
COLA = Item("COLA-05", 2, 249, "drink", "cola", 2)
DIP = Item("DIP", 1, 99, "sides")
LAVA = Item("LAVA", 1, 499, "dessert")
WINGS = Item("WINGS-6", 3, 699, "sides", "wings", 1)

ONE_PER_UNIT = {"mode": "per_unit", "points": 1}
TEN_PER_ORDER = {"mode": "per_order", "points": 10, "minSubtotal": 500}


def rule(
    kind: str,
    params: Mapping[str, Any],
    *,
    rule_id: int = 1,
    priority: int = 0,
    exclusive: bool = False,
    conditions: Mapping[str, Any] | None = None,
    caps: Mapping[str, Any] | None = None,
) -> Rule:
    spec = {PARAMS_KEY[kind]: params, "conditions": conditions, "caps": caps}
    return parse_rule(
        rule_id=rule_id,
        version=1,
        kind=kind,
        name=f"rule {rule_id}",
        spec=spec,
        priority=priority,
        exclusive=exclusive,
    )


def run(
    items: Sequence[Item],
    rules: Sequence[Rule],
    *,
    at: datetime = NOON,
    store: str = "WAW-01",
    channel: str = "pos",
    customer: CustomerState | None = None,
    budgets: Mapping[int, int] | None = None,
) -> Evaluation:
    occasion = Occasion(store, channel, at, WARSAW)
    evaluation = evaluate(items, occasion, customer or CustomerState(), rules, budgets)
    for award in evaluation.awards:
        assert len(award.line_points) == len(items)
        assert sum(award.line_points) == award.points
        assert min(award.line_points, default=0) >= 0
    return evaluation


def paid(evaluation: Evaluation) -> dict[int, int]:
    return {award.rule_id: award.points for award in evaluation.awards}


def award_of(evaluation: Evaluation, rule_id: int) -> Award:
    (award,) = [a for a in evaluation.awards if a.rule_id == rule_id]
    return award


def reason_of(evaluation: Evaluation, rule_id: int = 1) -> Reason:
    (reason,) = [r for r in evaluation.reasons if r.rule_id == rule_id]
    return reason


def local(day: date, hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=WARSAW)


# Conditions, one at a time.


def test_a_store_condition_pays_only_at_its_stores() -> None:
    at_warsaw = rule(BASE_EARN, ONE_PER_UNIT, conditions={"stores": ["WAW-01", "WAW-02"]})
    assert paid(run([MARG_S], [at_warsaw], store="WAW-02")) == {1: 10}
    elsewhere = run([MARG_S], [at_warsaw], store="KRK-01")
    assert elsewhere.awards == ()
    assert reason_of(elsewhere) == Reason(1, "rule 1", BASE_EARN, "STORE", "only at WAW-01, WAW-02")


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_channel_condition_pays_only_on_its_channels(channel: str) -> None:
    digital = rule(BASE_EARN, ONE_PER_UNIT, conditions={"channels": ["app", "web"]})
    evaluation = run([MARG_S], [digital], channel=channel)
    if channel == "pos":
        assert evaluation.awards == ()
        assert reason_of(evaluation).code == "CHANNEL"
        assert reason_of(evaluation).message == "only on app, web"
    else:
        assert paid(evaluation) == {1: 10}
        assert evaluation.reasons == ()


@pytest.mark.parametrize(("tier", "pays"), [("gold", True), ("silver", False), (None, False)])
def test_a_tier_condition_pays_only_those_tiers(tier: str | None, pays: bool) -> None:
    gold_only = rule(BASE_EARN, ONE_PER_UNIT, conditions={"tiers": ["gold"]})
    evaluation = run([MARG_S], [gold_only], customer=CustomerState(tier=tier))
    assert evaluation.points == (10 if pays else 0)
    if not pays:
        assert reason_of(evaluation).code == "TIER"


def test_an_excluded_segment_does_not_earn() -> None:
    no_returners = rule(
        UPSIZE,
        {"family": "margherita", "minSizeRank": 3, "points": 20},
        conditions={"excludedSegments": ["mostly_returns", "discount_only"]},
    )
    returner = CustomerState(segments=frozenset({"mostly_returns", "student"}))
    evaluation = run([MARG_L], [no_returners], customer=returner)
    assert evaluation.awards == ()
    assert reason_of(evaluation).code == "SEGMENT"
    assert reason_of(evaluation).message == "not for customers in mostly_returns"
    student = CustomerState(segments=frozenset({"student"}))
    assert paid(run([MARG_L], [no_returners], customer=student)) == {1: 20}


MARCH = {"validFrom": "2026-03-01T00:00:00+01:00", "validTo": "2026-04-01T00:00:00+02:00"}
MARCH_START = datetime(2026, 2, 28, 23, tzinfo=UTC)
MARCH_END = datetime(2026, 3, 31, 22, tzinfo=UTC)
TICK = timedelta(microseconds=1)


@pytest.mark.parametrize(
    ("at", "code"),
    [
        (MARCH_START - TICK, "NOT_STARTED"),
        (MARCH_START, None),
        (MARCH_END - TICK, None),
        (MARCH_END, "ENDED"),
    ],
)
def test_validity_includes_its_start_and_excludes_its_end(at: datetime, code: str | None) -> None:
    evaluation = run([MARG_S], [rule(BASE_EARN, ONE_PER_UNIT, conditions=MARCH)], at=at)
    if code is None:
        assert paid(evaluation) == {1: 10}
    else:
        assert evaluation.awards == ()
        assert reason_of(evaluation).code == code


def test_validity_reasons_give_the_local_time() -> None:
    march = rule(BASE_EARN, ONE_PER_UNIT, conditions=MARCH)
    before = run([MARG_S], [march], at=MARCH_START - TICK)
    assert reason_of(before).message == "starts 2026-03-01 00:00 (Europe/Warsaw)"
    after = run([MARG_S], [march], at=MARCH_END)
    assert reason_of(after).message == "ended 2026-04-01 00:00 (Europe/Warsaw)"


TUESDAY_LUNCH = {"daysOfWeek": [2], "timeFrom": "11:00", "timeTo": "14:00"}


@pytest.mark.parametrize(
    ("at", "pays"),
    [
        # Winter, UTC+1.
        (local(WINTER_TUESDAY, 10, 59), False),
        (local(WINTER_TUESDAY, 11, 0), True),
        (local(WINTER_TUESDAY, 13, 59, 59), True),
        (local(WINTER_TUESDAY, 14, 0), False),
        (datetime(2026, 3, 24, 12, 30, tzinfo=UTC), True),  # 13:30 local
        # Summer, UTC+2: the same local window is an hour earlier in UTC.
        (local(SUMMER_TUESDAY, 10, 59), False),
        (local(SUMMER_TUESDAY, 11, 0), True),
        (local(SUMMER_TUESDAY, 13, 59), True),
        (local(SUMMER_TUESDAY, 14, 0), False),
        (datetime(2026, 3, 31, 9, 0, tzinfo=UTC), True),  # 11:00 local
        (datetime(2026, 3, 31, 11, 59, tzinfo=UTC), True),  # 13:59 local
        (datetime(2026, 3, 31, 12, 0, tzinfo=UTC), False),  # 14:00 local
    ],
)
def test_days_and_hours_are_read_in_the_program_timezone(at: datetime, pays: bool) -> None:
    lunch = rule(BASE_EARN, ONE_PER_UNIT, conditions=TUESDAY_LUNCH)
    evaluation = run([MARG_S], [lunch], at=at)
    assert evaluation.points == (10 if pays else 0)
    if not pays:
        assert reason_of(evaluation).code == "HOURS"


def test_half_past_twelve_utc_is_past_the_window_in_summer() -> None:
    lunch = rule(BASE_EARN, ONE_PER_UNIT, conditions=TUESDAY_LUNCH)
    evaluation = run([MARG_S], [lunch], at=datetime(2026, 3, 31, 12, 30, tzinfo=UTC))
    assert evaluation.awards == ()
    assert reason_of(evaluation).message == "only 11:00-14:00; it is 14:30 (Europe/Warsaw)"


@pytest.mark.parametrize(
    ("at", "pays"),
    [
        (datetime(2026, 3, 30, 22, 30, tzinfo=UTC), True),  # Monday in UTC, Tuesday 00:30 local
        (datetime(2026, 3, 31, 21, 59, tzinfo=UTC), True),  # Tuesday 23:59 local
        (datetime(2026, 3, 31, 22, 0, tzinfo=UTC), False),  # Tuesday in UTC, Wednesday local
    ],
)
def test_the_day_of_week_is_the_local_day(at: datetime, pays: bool) -> None:
    tuesdays = rule(BASE_EARN, ONE_PER_UNIT, conditions={"daysOfWeek": [2]})
    evaluation = run([MARG_S], [tuesdays], at=at)
    assert evaluation.points == (10 if pays else 0)
    if not pays:
        assert reason_of(evaluation) == Reason(
            1, "rule 1", BASE_EARN, "DAY", "only on Tue; it is Wed"
        )


# Each kind: what it pays, how the points split over the lines, and why it does not pay.


def test_base_earn_per_unit_floors_the_subtotal_and_splits_by_amount() -> None:
    cart = [replace(MARG_M, unit_price=1399), COLA, DIP]  # 19.96
    evaluation = run(cart, [rule(BASE_EARN, ONE_PER_UNIT)])
    assert evaluation.points == 19
    assert award_of(evaluation, 1).line_points == (13, 5, 1)


def test_base_earn_per_unit_counts_whole_units() -> None:
    five_per_ten = rule(BASE_EARN, {"mode": "per_unit", "points": 5, "unit": 1000})
    assert run([replace(MARG_S, unit_price=1999)], [five_per_ten]).points == 9


def test_base_earn_per_order_pays_flat_points_from_the_minimum() -> None:
    flat = rule(BASE_EARN, TEN_PER_ORDER)
    below = run([replace(LAVA, unit_price=499)], [flat])
    assert reason_of(below).code == "BELOW_MINIMUM"
    assert reason_of(below).message == "subtotal 4.99 is 0.01 below 5.00"
    assert run([replace(LAVA, unit_price=500)], [flat]).points == 10
    large = run([MARG_L, COLA, LAVA], [flat])
    assert large.points == 10
    assert award_of(large, 1).line_points == (6, 2, 2)


def test_base_earn_below_one_point_says_so() -> None:
    evaluation = run([DIP], [rule(BASE_EARN, ONE_PER_UNIT)])
    assert reason_of(evaluation).code == "TOO_SMALL"
    assert reason_of(evaluation).message == "subtotal 0.99 earns less than one point"


def test_an_empty_cart_earns_nothing() -> None:
    evaluation = run([], [rule(BASE_EARN, {"mode": "per_order", "points": 10})])
    assert evaluation.awards == ()
    assert reason_of(evaluation).code == "EMPTY_CART"


@pytest.mark.parametrize(
    ("params", "percent", "points"),
    [
        (ONE_PER_UNIT, 150, 28),  # 19 * 1.5 = 28.5
        (ONE_PER_UNIT, 100, 19),
        (TEN_PER_ORDER, 125, 12),  # 10 * 1.25 = 12.5
        (TEN_PER_ORDER, 200, 20),
    ],
)
def test_the_tier_multiplier_applies_to_base_earn_rounded_down(
    params: Mapping[str, Any], percent: int, points: int
) -> None:
    gold = CustomerState(tier="gold", tier_multiplier_percent=percent)
    cart = [replace(MARG_M, unit_price=1399), COLA, DIP]
    assert run(cart, [rule(BASE_EARN, params)], customer=gold).points == points


def test_the_tier_multiplier_does_not_touch_bonus_kinds() -> None:
    gold = CustomerState(tier="gold", tier_multiplier_percent=200)
    upsize = rule(UPSIZE, {"family": "margherita", "minSizeRank": 3, "points": 20})
    assert run([MARG_L], [upsize], customer=gold).points == 20


def test_upsize_pays_per_unit_at_or_above_the_size_in_the_family() -> None:
    upsize = rule(UPSIZE, {"family": "margherita", "minSizeRank": 2, "points": 20})
    cart = [MARG_S, replace(MARG_L, quantity=2), MARG_M, COLA]
    evaluation = run(cart, [upsize])
    assert evaluation.points == 60
    assert award_of(evaluation, 1).line_points == (0, 40, 20, 0)


def test_upsize_by_category() -> None:
    large_drinks = rule(UPSIZE, {"category": "drink", "minSizeRank": 2, "points": 5})
    evaluation = run([MARG_L, COLA, replace(COLA, sku="COLA-03", size_rank=1)], [large_drinks])
    assert award_of(evaluation, 1).line_points == (0, 10, 0)


def test_upsize_without_a_large_enough_item_says_so() -> None:
    upsize = rule(UPSIZE, {"family": "margherita", "minSizeRank": 3, "points": 20})
    evaluation = run([MARG_S, MARG_M, replace(COLA, size_rank=4)], [upsize])
    assert reason_of(evaluation).code == "NO_MATCH"
    assert reason_of(evaluation).message == "no family margherita item of size 3 or larger"


ADD_LAVA = {"trigger": {"category": "pizza"}, "addOn": {"sku": "LAVA"}, "points": 15}


def test_add_on_pays_once_on_the_add_on_line() -> None:
    evaluation = run([MARG_L, COLA, replace(LAVA, quantity=2), LAVA], [rule(ADD_ON, ADD_LAVA)])
    assert evaluation.points == 15
    assert award_of(evaluation, 1).line_points == (0, 0, 15, 0)


def test_add_on_needs_the_trigger_and_the_add_on() -> None:
    no_pizza = run([LAVA, COLA], [rule(ADD_ON, ADD_LAVA)])
    assert reason_of(no_pizza).code == "NO_TRIGGER"
    assert reason_of(no_pizza).message == "needs category pizza in the cart"
    no_lava = run([MARG_L, COLA], [rule(ADD_ON, ADD_LAVA)])
    assert reason_of(no_lava).code == "NO_ADD_ON"
    assert reason_of(no_lava).message == "add sku LAVA to earn 15 points"


def test_spend_threshold_bonus_from_the_threshold() -> None:
    bonus = rule(SPEND_THRESHOLD, {"threshold": 2000, "points": 50})
    cart = [replace(MARG_M, unit_price=1502), COLA]  # exactly 20.00
    evaluation = run(cart, [bonus])
    assert evaluation.points == 50
    assert award_of(evaluation, 1).line_points == (38, 12)


def test_spend_threshold_below_says_how_much_is_missing() -> None:
    bonus = rule(SPEND_THRESHOLD, {"threshold": 2000, "points": 50})
    evaluation = run([replace(MARG_M, unit_price=1342), COLA], [bonus])  # 18.40
    assert evaluation.awards == ()
    assert reason_of(evaluation).code == "BELOW_THRESHOLD"
    assert reason_of(evaluation).message == "subtotal 18.40 is 1.60 below 20.00"


def test_spend_threshold_multiplier_200_doubles_base_points() -> None:
    base = rule(BASE_EARN, ONE_PER_UNIT, rule_id=1)
    double = rule(SPEND_THRESHOLD, {"threshold": 2000, "multiplierPercent": 200}, rule_id=2)
    cart = [replace(MARG_M, unit_price=2002), COLA]  # 25.00
    evaluation = run(cart, [double, base])
    assert paid(evaluation) == {1: 25, 2: 25}
    assert award_of(evaluation, 2).line_points == award_of(evaluation, 1).line_points
    assert evaluation.line_points(2) == (40, 10)


def test_spend_threshold_multiplies_tier_multiplied_base_points() -> None:
    base = rule(BASE_EARN, ONE_PER_UNIT, rule_id=1)
    boost = rule(
        SPEND_THRESHOLD, {"threshold": 2000, "points": 10, "multiplierPercent": 150}, rule_id=2
    )
    gold = CustomerState(tier="gold", tier_multiplier_percent=120)
    evaluation = run([replace(MARG_M, unit_price=2500)], [base, boost], customer=gold)
    assert paid(evaluation) == {1: 30, 2: 10 + 15}


def test_a_spend_threshold_multiplier_without_base_points_says_so() -> None:
    double = rule(SPEND_THRESHOLD, {"threshold": 2000, "multiplierPercent": 200})
    evaluation = run([replace(MARG_M, unit_price=2500)], [double])
    assert reason_of(evaluation).code == "NO_BASE"


MEAL_DEAL = {"items": [{"category": "pizza"}, {"category": "drink"}], "points": 25}


def test_bundle_pays_per_complete_set_on_the_bundled_lines() -> None:
    cart = [replace(MARG_S, quantity=2), LAVA, replace(COLA, quantity=3)]
    evaluation = run(cart, [rule(BUNDLE, MEAL_DEAL)])
    assert evaluation.points == 50
    assert award_of(evaluation, 1).line_points == (37, 0, 13)


def test_a_bundle_of_free_items_still_pays_on_the_bundled_lines() -> None:
    cart = [LAVA, replace(MARG_S, unit_price=0), replace(COLA, quantity=1, unit_price=0)]
    evaluation = run(cart, [rule(BUNDLE, MEAL_DEAL)])
    assert award_of(evaluation, 1).line_points == (0, 13, 12)


def test_an_incomplete_bundle_names_what_is_missing() -> None:
    evaluation = run([MARG_S, LAVA], [rule(BUNDLE, MEAL_DEAL)])
    assert reason_of(evaluation).code == "INCOMPLETE"
    assert reason_of(evaluation).message == "missing category drink"


def test_product_bonus_points_per_matching_unit() -> None:
    wings = rule(PRODUCT_BONUS, {"target": {"sku": "WINGS-6"}, "points": 5})
    evaluation = run([MARG_S, WINGS], [wings])
    assert evaluation.points == 15
    assert award_of(evaluation, 1).line_points == (0, 15)


def test_product_bonus_multiplier_applies_to_matching_lines_only() -> None:
    base = rule(BASE_EARN, ONE_PER_UNIT, rule_id=1)
    triple_sides = rule(
        PRODUCT_BONUS, {"target": {"category": "sides"}, "multiplierPercent": 300}, rule_id=2
    )
    evaluation = run([MARG_S, WINGS, DIP], [base, triple_sides])  # 32.95
    assert award_of(evaluation, 1).line_points == (11, 20, 1)
    assert award_of(evaluation, 2).line_points == (0, 40, 2)
    assert evaluation.line_points(3) == (11, 60, 3)


def test_product_bonus_without_a_match_or_base_says_so() -> None:
    wings = rule(PRODUCT_BONUS, {"target": {"sku": "WINGS-6"}, "points": 5})
    no_wings = run([MARG_S], [wings])
    assert reason_of(no_wings).code == "NO_MATCH"
    assert reason_of(no_wings).message == "no sku WINGS-6 in the cart"
    double = rule(PRODUCT_BONUS, {"target": {"sku": "WINGS-6"}, "multiplierPercent": 200})
    assert reason_of(run([WINGS], [double])).code == "NO_BASE"


# Per-customer caps and budgets.


@pytest.mark.parametrize(
    ("period", "day", "start"),
    [
        ("day", date(2026, 3, 29), date(2026, 3, 29)),
        ("week", date(2026, 3, 29), date(2026, 3, 23)),  # a Sunday: its week began Monday
        ("week", date(2026, 3, 30), date(2026, 3, 30)),
        ("month", date(2026, 3, 31), date(2026, 3, 1)),
        ("month", date(2026, 4, 1), date(2026, 4, 1)),
    ],
)
def test_period_start(period: str, day: date, start: date) -> None:
    assert period_start(period, day) == start


def one_per(period: str, rule_id: int = 1) -> Rule:
    caps = {"period": period, "maxAwards": 1}
    return rule(BASE_EARN, TEN_PER_ORDER, rule_id=rule_id, caps=caps)


def used(rule_id: int, start: date, awards: int = 1, points: int = 10) -> CustomerState:
    return CustomerState(usage={(rule_id, start): Usage(awards, points)})


def test_one_earning_order_per_day() -> None:
    daily = one_per("day")
    first = run([MARG_S], [daily])
    assert award_of(first, 1).period_start == WINTER_TUESDAY
    second = run([MARG_S], [daily], customer=used(1, WINTER_TUESDAY))
    assert second.awards == ()
    assert reason_of(second) == Reason(
        1, "rule 1", BASE_EARN, "CAP_REACHED", "already paid 1 time(s) this day"
    )
    yesterday = run([MARG_S], [daily], customer=used(1, WINTER_TUESDAY - timedelta(days=1)))
    assert paid(yesterday) == {1: 10}


def test_the_day_turns_at_local_midnight() -> None:
    late = datetime(2026, 3, 24, 23, 30, tzinfo=UTC)  # Wednesday 00:30 in Warsaw
    evaluation = run([MARG_S], [one_per("day")], at=late, customer=used(1, WINTER_TUESDAY))
    assert award_of(evaluation, 1).period_start == date(2026, 3, 25)


def test_the_week_turns_at_local_monday_midnight() -> None:
    sunday_night = datetime(2026, 3, 22, 23, 30, tzinfo=UTC)  # Monday 00:30 in Warsaw
    last_week = used(1, date(2026, 3, 16))
    evaluation = run([MARG_S], [one_per("week")], at=sunday_night, customer=last_week)
    assert award_of(evaluation, 1).period_start == date(2026, 3, 23)
    this_week = used(1, date(2026, 3, 23))
    capped = run([MARG_S], [one_per("week")], at=sunday_night, customer=this_week)
    assert reason_of(capped).code == "CAP_REACHED"


def test_the_month_turns_at_local_midnight() -> None:
    april_first = datetime(2026, 3, 31, 22, 30, tzinfo=UTC)  # 00:30 on 1 April in Warsaw
    march_used = used(1, date(2026, 3, 1))
    evaluation = run([MARG_S], [one_per("month")], at=april_first, customer=march_used)
    assert award_of(evaluation, 1).period_start == date(2026, 4, 1)


def test_max_awards_counts_awards_in_the_period() -> None:
    twice = rule(BASE_EARN, TEN_PER_ORDER, caps={"period": "week", "maxAwards": 2})
    week = date(2026, 3, 23)
    assert paid(run([MARG_S], [twice], customer=used(1, week, awards=1))) == {1: 10}
    capped = run([MARG_S], [twice], customer=used(1, week, awards=2))
    assert reason_of(capped).message == "already paid 2 time(s) this week"


def test_max_points_pays_what_is_left_of_the_period() -> None:
    capped = rule(BASE_EARN, ONE_PER_UNIT, caps={"period": "week", "maxPoints": 30})
    cart = [replace(MARG_M, unit_price=1399), COLA, DIP]  # earns 19
    week = date(2026, 3, 23)
    assert run(cart, [capped], customer=used(1, week, points=11)).points == 19
    partly = run(cart, [capped], customer=used(1, week, points=25))
    assert award_of(partly, 1).points == 5
    assert award_of(partly, 1).line_points == (4, 1, 0)
    spent = run(cart, [capped], customer=used(1, week, points=30))
    assert reason_of(spent).code == "CAP_REACHED"
    assert reason_of(spent).message == "30 points this week paid"


def test_usage_of_another_rule_does_not_count() -> None:
    assert paid(run([MARG_S], [one_per("day")], customer=used(2, WINTER_TUESDAY))) == {1: 10}


def test_a_budget_limits_the_award_to_what_is_left() -> None:
    budgeted = rule(
        UPSIZE, {"family": "margherita", "minSizeRank": 2, "points": 20}, caps={"budget": 10_000}
    )
    cart = [MARG_M, replace(MARG_L, quantity=2)]
    assert run(cart, [budgeted], budgets={1: 1000}).points == 60
    partly = run(cart, [budgeted], budgets={1: 7})
    assert award_of(partly, 1).points == 7
    assert award_of(partly, 1).line_points == (2, 5)
    spent = run(cart, [budgeted], budgets={1: 0})
    assert spent.awards == ()
    assert reason_of(spent).code == "BUDGET_SPENT"


def test_cut_award_keeps_the_lines_adding_up() -> None:
    budgeted = rule(UPSIZE, {"family": "margherita", "minSizeRank": 2, "points": 20})
    award = award_of(run([MARG_M, replace(MARG_L, quantity=2)], [budgeted]), 1)
    cut = cut_award(award, 13)
    assert (cut.points, sum(cut.line_points)) == (13, 13)
    assert cut.line_points == (4, 9)


def test_budget_and_customer_cap_together_pay_the_smaller() -> None:
    both = rule(
        UPSIZE,
        {"family": "margherita", "minSizeRank": 2, "points": 20},
        caps={"period": "day", "maxPoints": 50, "budget": 10_000},
    )
    cart = [MARG_M, replace(MARG_L, quantity=2)]
    customer = used(1, WINTER_TUESDAY, points=20)
    assert run(cart, [both], customer=customer, budgets={1: 100}).points == 30
    assert run(cart, [both], customer=customer, budgets={1: 12}).points == 12


def test_money_reads_minor_units() -> None:
    assert [money(0), money(5), money(160), money(1840)] == ["0.00", "0.05", "1.60", "18.40"]


# Stacking.

UPSIZE_20 = {"family": "margherita", "minSizeRank": 3, "points": 20}  # 20 on MARG_L
CART = [MARG_L, COLA, LAVA]


def test_of_two_exclusive_rules_the_more_valuable_pays() -> None:
    upsize = rule(UPSIZE, UPSIZE_20, rule_id=1, exclusive=True)
    add_on = rule(ADD_ON, ADD_LAVA, rule_id=2, exclusive=True, priority=100)
    evaluation = run(CART, [upsize, add_on])
    assert paid(evaluation) == {1: 20}
    assert reason_of(evaluation, 2) == Reason(
        2, "rule 2", ADD_ON, "OUTRANKED", "exclusive: 'rule 1' pays instead (20 points)"
    )


def test_an_exclusive_tie_on_points_goes_to_the_higher_priority() -> None:
    low = rule(UPSIZE, UPSIZE_20, rule_id=1, exclusive=True, priority=1)
    high = rule(ADD_ON, {**ADD_LAVA, "points": 20}, rule_id=2, exclusive=True, priority=2)
    evaluation = run(CART, [low, high])
    assert paid(evaluation) == {2: 20}
    assert reason_of(evaluation, 1).code == "OUTRANKED"


def test_an_exclusive_tie_on_points_and_priority_goes_to_the_older_rule() -> None:
    newer = rule(UPSIZE, UPSIZE_20, rule_id=9, exclusive=True)
    older = rule(ADD_ON, {**ADD_LAVA, "points": 20}, rule_id=4, exclusive=True)
    evaluation = run(CART, [newer, older])
    assert paid(evaluation) == {4: 20}
    assert reason_of(evaluation, 9).code == "OUTRANKED"


def test_an_exclusive_rule_that_cannot_pay_does_not_compete() -> None:
    capped = rule(
        UPSIZE, UPSIZE_20, rule_id=1, exclusive=True, caps={"period": "day", "maxAwards": 1}
    )
    add_on = rule(ADD_ON, ADD_LAVA, rule_id=2, exclusive=True)
    evaluation = run(CART, [capped, add_on], customer=used(1, WINTER_TUESDAY))
    assert paid(evaluation) == {2: 15}
    assert reason_of(evaluation, 1).code == "CAP_REACHED"


def test_a_capped_exclusive_rule_competes_with_what_it_can_still_pay() -> None:
    capped = rule(
        UPSIZE, UPSIZE_20, rule_id=1, exclusive=True, caps={"period": "day", "maxPoints": 30}
    )
    add_on = rule(ADD_ON, ADD_LAVA, rule_id=2, exclusive=True)
    evaluation = run(CART, [capped, add_on], customer=used(1, WINTER_TUESDAY, points=20))
    assert paid(evaluation) == {2: 15}


def stacking_rules() -> list[Rule]:
    return [
        rule(BASE_EARN, ONE_PER_UNIT, rule_id=1),
        rule(UPSIZE, UPSIZE_20, rule_id=2, exclusive=True),
        rule(ADD_ON, ADD_LAVA, rule_id=3, exclusive=True),
        rule(BUNDLE, MEAL_DEAL, rule_id=4, exclusive=True, priority=-5),
        rule(PRODUCT_BONUS, {"target": {"category": "drink"}, "points": 3}, rule_id=5),
        rule(SPEND_THRESHOLD, {"threshold": 2500, "multiplierPercent": 200}, rule_id=6),
    ]


def test_stackable_rules_all_pay_alongside_the_exclusive_winner() -> None:
    evaluation = run(CART, stacking_rules())  # 28.96, the bundle pays 25
    assert paid(evaluation) == {1: 28, 4: 25, 5: 6, 6: 28}
    assert {(r.rule_id, r.code) for r in evaluation.reasons} == {(2, "OUTRANKED"), (3, "OUTRANKED")}
    assert evaluation.points == 87
    assert sum(evaluation.line_points(3)) == 87


def test_every_rule_that_does_not_pay_says_why_once() -> None:
    evaluation = run([MARG_S], stacking_rules())
    assert paid(evaluation) == {1: 10}
    assert sorted(r.rule_id for r in evaluation.reasons) == [2, 3, 4, 5, 6]


def test_the_result_does_not_depend_on_the_order_of_the_rules() -> None:
    rules = stacking_rules()
    expected = run(CART, rules)
    for order in itertools.permutations(rules):
        assert run(CART, order) == expected


def test_one_unit_is_not_both_the_trigger_and_the_add_on() -> None:
    pizza_with_pizza = rule(
        ADD_ON, {"trigger": {"category": "pizza"}, "addOn": {"sku": "MARG-L"}, "points": 15}
    )
    assert reason_of(run([MARG_L], [pizza_with_pizza])).code == "NO_ADD_ON"
    assert run([replace(MARG_L, quantity=2)], [pizza_with_pizza]).points == 15
    assert run([MARG_S, MARG_L], [pizza_with_pizza]).points == 15


def test_a_product_multiplier_applies_to_the_per_unit_base_rate_only() -> None:
    flat = rule(BASE_EARN, TEN_PER_ORDER, rule_id=1)
    double_wings = rule(
        PRODUCT_BONUS, {"target": {"sku": "WINGS-6"}, "multiplierPercent": 200}, rule_id=2
    )
    evaluation = run([MARG_S, WINGS], [flat, double_wings])
    assert evaluation.points == 10  # a flat order bonus has no rate to multiply
    assert reason_of(evaluation, 2).code == "NO_BASE"
    per_unit = rule(BASE_EARN, ONE_PER_UNIT, rule_id=3)
    both = run([MARG_S, WINGS], [flat, per_unit, double_wings])
    assert award_of(both, 2).points == 20  # 20.97 of wings at 1 point per 1.00, doubled
