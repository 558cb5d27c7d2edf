from hypothesis import given
from hypothesis import strategies as st

from loyalty.domain.returns import SoldLine, plan_return
from loyalty.errors import ValidationError


def sold(points: int, quantity: int, returned: int = 0, reversed_: int = 0) -> SoldLine:
    return SoldLine(0, "PIZZA", quantity, 1000, points, returned, reversed_)


def test_a_partial_return_rounds_down_and_the_last_unit_settles_it() -> None:
    line = sold(points=10, quantity=3)
    [first] = plan_return([line], [("PIZZA", 1)])
    assert first.points == 3  # 10/3 rounded down
    after = sold(10, 3, returned=1, reversed_=3)
    [second] = plan_return([after], [("PIZZA", 2)])
    assert second.points == 7  # exactly what is left


@given(
    st.integers(0, 10_000),
    st.integers(1, 50),
    st.lists(st.integers(1, 5), min_size=1, max_size=20),
)
def test_returning_everything_in_parts_gives_back_exactly_what_was_earned(
    points: int, quantity: int, parts: list[int]
) -> None:
    line = sold(points, quantity)
    given_back = 0
    for part in parts:
        remaining = line.quantity - line.returned_quantity
        if remaining == 0:
            break
        [back] = plan_return([line], [("PIZZA", min(part, remaining))])
        given_back += back.points
        assert 0 <= given_back <= points  # never more than was earned
        line = sold(
            points,
            quantity,
            line.returned_quantity + back.quantity,
            line.reversed_points + back.points,
        )
    if line.returned_quantity < quantity:
        [back] = plan_return([line], [("PIZZA", quantity - line.returned_quantity)])
        given_back += back.points
    assert given_back == points


def test_more_than_was_bought_is_refused_naming_the_line() -> None:
    try:
        plan_return([sold(10, 2, returned=1)], [("PIZZA", 2)])
    except ValidationError as error:
        assert error.field == "lines[0].quantity"
        assert "only 1 more of PIZZA" in error.message
    else:
        raise AssertionError("returned more than was bought")
    try:
        plan_return([sold(10, 2)], [("COLA", 1)])
    except ValidationError as error:
        assert error.field == "lines[0].sku"
    else:
        raise AssertionError("returned what was not bought")
