from hypothesis import given
from hypothesis import strategies as st

from loyalty.domain.rounding import allocate_largest_remainder


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
