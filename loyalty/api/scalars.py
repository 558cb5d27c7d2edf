"""Custom scalars: points and balances are 64-bit in the ledger, so not GraphQL's 32-bit Int."""

from __future__ import annotations

from typing import Any, NewType

import strawberry
from graphql import GraphQLError
from strawberry.types.scalar import ScalarDefinition

BigInt = NewType("BigInt", int)

INT64 = 2**63


def _parse_big_int(value: Any) -> int:
    try:
        whole = isinstance(value, int | str) and not isinstance(value, bool)
        number = int(value) if whole else None
    except ValueError:
        number = None
    if number is None or not -INT64 <= number < INT64:
        # The client's mistake, reported as it is: any other exception here would reach
        # ErrorPolicy as an unexpected one and come back masked as a bug.
        raise GraphQLError("BigInt must be a whole number within 64 bits")
    return number


SCALARS: dict[object, ScalarDefinition] = {
    BigInt: strawberry.scalar(
        name="BigInt",
        description="A whole number of up to 64 bits (points and balances), sent as a number.",
        serialize=int,
        parse_value=_parse_big_int,
    )
}
