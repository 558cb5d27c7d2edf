"""Custom scalars: points and balances are 64-bit in the ledger, so not GraphQL's 32-bit Int."""

from __future__ import annotations

from typing import Any, NewType

import strawberry
from strawberry.types.scalar import ScalarDefinition

BigInt = NewType("BigInt", int)

INT64 = 2**63


def _parse_big_int(value: Any) -> int:
    number = int(value) if isinstance(value, int | str) and not isinstance(value, bool) else None
    if number is None or not -INT64 <= number < INT64:
        raise ValueError("BigInt must be a whole number within 64 bits")
    return number


SCALARS: dict[object, ScalarDefinition] = {
    BigInt: strawberry.scalar(
        name="BigInt",
        description="A whole number of up to 64 bits (points and balances), sent as a number.",
        serialize=int,
        parse_value=_parse_big_int,
    )
}
