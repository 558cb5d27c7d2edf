"""Which lines a return takes back, and the points that go back with them.

Each line gives back its points in proportion to the units returned, rounded down, counted
over all of the line's returns together: a line returned in several parts gives back exactly
what it earned once the last unit is back, and never more before.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from loyalty.errors import ValidationError


@dataclass(frozen=True)
class SoldLine:
    line_no: int
    sku: str
    quantity: int
    unit_price: int
    points: int
    returned_quantity: int
    reversed_points: int


@dataclass(frozen=True)
class LineBack:
    line_no: int
    sku: str
    quantity: int
    amount: int
    points: int


def plan_return(lines: Sequence[SoldLine], wanted: Sequence[tuple[str, int]]) -> list[LineBack]:
    """The units to take back, line by line in order; refuses more than is left to return."""
    left = {line.line_no: line.quantity - line.returned_quantity for line in lines}
    taking: dict[int, int] = {}
    for index, (sku, quantity) in enumerate(wanted):
        matching = [line for line in lines if line.sku == sku]
        if not matching:
            raise ValidationError(f"lines[{index}].sku", f"{sku} is not in this purchase")
        still = quantity
        for line in matching:
            take = min(still, left[line.line_no])
            if take:
                taking[line.line_no] = taking.get(line.line_no, 0) + take
                left[line.line_no] -= take
                still -= take
        if still:
            returnable = quantity - still
            raise ValidationError(
                f"lines[{index}].quantity",
                f"only {returnable} more of {sku} can be returned from this purchase",
            )
    back = []
    for line in lines:
        quantity = taking.get(line.line_no, 0)
        if quantity:
            returned = line.returned_quantity + quantity
            owed = line.points * returned // line.quantity
            back.append(
                LineBack(
                    line.line_no,
                    line.sku,
                    quantity,
                    quantity * line.unit_price,
                    owed - line.reversed_points,
                )
            )
    return back
