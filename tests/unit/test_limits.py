"""What a query could cost, and the per-caller rate limit, without a server."""

import pytest
from graphql import parse

from loyalty.api.limits import LIST_GUESS, expanded_size, query_cost
from loyalty.api.schema import build_schema
from loyalty.service.throttle import RateLimiter

SCHEMA = build_schema()._schema


def cost(query: str, variables: dict[str, object] | None = None) -> int:
    return query_cost(SCHEMA, parse(query), None, variables)


def test_a_plain_object_costs_one_per_field() -> None:
    assert cost("{ me { balance debt } }") == 1 + 2
    assert cost("{ me { __typename balance } }") == 1 + 1  # __typename is free


def test_a_page_argument_sizes_the_list_inside_a_connection() -> None:
    one_page = "{ me { ledger(first: 100) { edges { node { id points } } } } }"
    # me(1) + ledger(1 + edges: 100 x (1 + node(1 + 2)))
    assert cost(one_page) == 1 + 1 + 100 * (1 + 1 + 2)
    with_info = "{ me { ledger(first: 100) { edges { cursor } pageInfo { hasNextPage } } } }"
    assert cost(with_info) == 1 + 1 + 100 * (1 + 1) + (1 + 1)  # pageInfo counts once


def test_a_page_size_comes_from_a_variable_its_default_or_the_field_default() -> None:
    query = "query Q($n: Int! = 7) { me { ledger(first: $n) { edges { cursor } } } }"
    assert cost(query, {"n": 50}) == 2 + 50 * 2
    assert cost(query, {"n": 50.0}) == 2 + 50 * 2  # GraphQL takes 50.0 for an Int
    assert cost(query) == 2 + 7 * 2
    assert cost("{ me { ledger { edges { cursor } } } }") == 2 + 20 * 2


def test_a_list_without_a_page_size_counts_as_a_guess() -> None:
    assert cost("{ rules { id name } }") == LIST_GUESS * (1 + 2)


def test_each_member_of_a_union_counts() -> None:
    query = """{ quote(cart: {storeId: "S1", lines: []}) {
        ... on Quote { pointsEarned awards { points } }
        ... on InvalidInputError { field } } }"""
    assert cost(query) == 1 + 1 + LIST_GUESS * (1 + 1) + 1


def test_aliases_and_fragments_count_every_time_they_are_asked_for() -> None:
    single = cost("{ me { ledger(first: 100) { edges { cursor } } } }")
    aliases = " ".join(
        f"a{n}: me {{ ledger(first: 100) {{ edges {{ cursor }} }} }}" for n in range(3)
    )
    assert cost("{ " + aliases + " }") == 3 * single
    spread = """
    query { me { ...L } }
    fragment L on Customer { ledger(first: 100) { edges { cursor } } }
    """
    assert cost(spread) == single


def test_a_fragment_bomb_is_measured_without_spreading_it() -> None:
    """Forty fragments each spreading the next twice: 2**40 fields, counted in microseconds
    (spreading it out would never finish)."""
    fragments = " ".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(40))
    bomb = parse("query { ...F0 } " + fragments + " fragment F40 on Query { tiers { name } }")
    assert expanded_size(bomb) == 2**40 * 2
    assert expanded_size(parse("{ me { balance ledger { edges { cursor } } } }")) == 5


def test_the_limiter_allows_a_burst_then_the_rate() -> None:
    now = [0.0]
    limiter = RateLimiter(rate=2, burst=3, clock=lambda: now[0])
    assert [limiter.wait_for("key:1") for _ in range(3)] == [0, 0, 0]
    assert limiter.wait_for("key:1") == pytest.approx(0.5)
    assert limiter.wait_for("key:2") == 0  # another caller has its own bucket
    now[0] = 0.5
    assert limiter.wait_for("key:1") == 0  # one token back after 1/rate seconds
    assert limiter.wait_for("key:1") > 0


def test_a_rate_of_zero_turns_the_limit_off() -> None:
    limiter = RateLimiter(rate=0, burst=1)
    assert all(limiter.wait_for("key:1") == 0 for _ in range(1_000))


def test_the_table_keeps_the_callers_seen_last(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("loyalty.service.throttle.MAX_CALLERS", 3)
    now = [0.0]
    limiter = RateLimiter(rate=1, burst=1, clock=lambda: now[0])
    for who in ("a", "b", "c"):
        assert limiter.wait_for(who) == 0
    assert limiter.wait_for("a") == 1  # a is empty, and now the most recently seen
    assert limiter.wait_for("d") == 0
    assert list(limiter.buckets) == ["c", "a", "d"]  # b, seen longest ago, was dropped
    assert limiter.wait_for("a") > 0  # a is still remembered as empty
