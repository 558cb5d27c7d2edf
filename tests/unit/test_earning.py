from hypothesis import given
from hypothesis import strategies as st

from loyalty.domain.cart import CartLine
from loyalty.domain.earning import (
    BaseEarnRule,
    allocate_largest_remainder,
    evaluate_base_earn,
    parse_base_earn,
)
from loyalty.errors import ValidationError

ONE_PER_UNIT = BaseEarnRule(1, "1 per 1.00", "per_unit", points=1, unit=100)


def test_per_unit_floors_partial_units() -> None:
    earning = evaluate_base_earn([CartLine("A", 1, 1999)], [ONE_PER_UNIT])
    assert earning.points == 19


def test_per_unit_counts_the_whole_cart_not_each_line() -> None:
    # 0.60 + 0.60 earns 1 point: the floor applies to the subtotal, once.
    earning = evaluate_base_earn([CartLine("A", 1, 60), CartLine("B", 1, 60)], [ONE_PER_UNIT])
    assert earning.points == 1
    assert earning.line_points(2) == (1, 0)


def test_per_order_pays_flat_points_from_the_minimum() -> None:
    rule = BaseEarnRule(2, "10 per order of 5.00+", "per_order", points=10, min_subtotal=500)
    assert evaluate_base_earn([CartLine("A", 1, 499)], [rule]).points == 0
    assert evaluate_base_earn([CartLine("A", 1, 500)], [rule]).points == 10
    assert evaluate_base_earn([CartLine("A", 5, 10_000)], [rule]).points == 10


def test_each_rule_is_listed_with_its_points() -> None:
    flat = BaseEarnRule(2, "flat", "per_order", points=10, min_subtotal=0)
    earning = evaluate_base_earn([CartLine("A", 2, 750)], [flat, ONE_PER_UNIT])
    assert [(a.rule_id, a.points) for a in earning.awards] == [(1, 15), (2, 10)]
    assert earning.points == 25


def test_lines_share_points_by_amount() -> None:
    lines = [CartLine("PIZZA", 1, 1399), CartLine("COLA", 2, 249), CartLine("DIP", 1, 99)]
    earning = evaluate_base_earn(lines, [ONE_PER_UNIT])
    assert earning.points == 19
    assert sum(earning.line_points(3)) == 19
    assert earning.line_points(3) == (13, 5, 1)


def test_parse_refuses_bad_config_naming_the_field() -> None:
    for config, field in [
        ({"mode": "per_visit", "points": 1}, "config.mode"),
        ({"mode": "per_unit", "points": -1}, "config.points"),
        ({"mode": "per_unit", "points": 1, "unit": 0}, "config.unit"),
        ({"mode": "per_order", "points": 10, "min_subtotal": "5"}, "config.min_subtotal"),
    ]:
        try:
            parse_base_earn(1, "r", config)
        except ValidationError as error:
            assert error.field == field
        else:
            raise AssertionError(f"{config} was accepted")


def test_largest_remainder_gives_leftovers_to_largest_fractions() -> None:
    assert allocate_largest_remainder(10, [1, 1, 1]) == (4, 3, 3)
    assert allocate_largest_remainder(100, [50, 30, 20]) == (50, 30, 20)
    assert allocate_largest_remainder(7, [0, 0]) == (7, 0)
    assert allocate_largest_remainder(5, [2, 3, 5]) == (1, 2, 2)  # tie: earliest wins


@given(
    st.integers(min_value=0, max_value=10**9),
    st.lists(st.integers(min_value=0, max_value=10**8), min_size=1, max_size=40),
)
def test_largest_remainder_is_exact_and_fair(total: int, weights: list[int]) -> None:
    parts = allocate_largest_remainder(total, weights)
    assert sum(parts) == total
    assert all(part >= 0 for part in parts)
    weight_sum = sum(weights)
    if weight_sum:
        for part, weight in zip(parts, weights, strict=True):
            exact = total * weight / weight_sum
            assert exact - 1 < part < exact + 1
    assert parts == allocate_largest_remainder(total, weights)


@given(st.lists(st.integers(min_value=1, max_value=100_000), min_size=1, max_size=20))
def test_adding_a_line_never_lowers_base_points(prices: list[int]) -> None:
    lines = [CartLine(f"S{i}", 1, p) for i, p in enumerate(prices)]
    before = evaluate_base_earn(lines[:-1], [ONE_PER_UNIT]).points
    after = evaluate_base_earn(lines, [ONE_PER_UNIT]).points
    assert after >= before >= 0
