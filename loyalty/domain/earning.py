"""How a cart earns points under the program's BASE_EARN rules."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from loyalty.domain.cart import CartLine
from loyalty.errors import ValidationError

BASE_EARN = "BASE_EARN"
PER_UNIT = "per_unit"
PER_ORDER = "per_order"
MAX_POINTS_PER_UNIT = 10_000


@dataclass(frozen=True)
class BaseEarnRule:
    """Points per currency unit (floored), or flat points per order at a minimum subtotal."""

    rule_id: int
    name: str
    mode: str
    points: int
    unit: int = 100
    min_subtotal: int = 0

    def points_for(self, subtotal: int) -> int:
        if subtotal < self.min_subtotal:
            return 0
        if self.mode == PER_UNIT:
            return (subtotal * self.points) // self.unit  # floor: a partial unit earns nothing
        return self.points


@dataclass(frozen=True)
class Award:
    rule_id: int
    rule_name: str
    kind: str
    points: int
    line_points: tuple[int, ...]


@dataclass(frozen=True)
class Earning:
    awards: tuple[Award, ...]

    @property
    def points(self) -> int:
        return sum(award.points for award in self.awards)

    def line_points(self, line_count: int) -> tuple[int, ...]:
        totals = [0] * line_count
        for award in self.awards:
            for index, points in enumerate(award.line_points):
                totals[index] += points
        return tuple(totals)


def parse_base_earn(rule_id: int, name: str, config: Mapping[str, Any]) -> BaseEarnRule:
    mode = config.get("mode")
    if mode not in (PER_UNIT, PER_ORDER):
        raise ValidationError("config.mode", f"mode must be {PER_UNIT} or {PER_ORDER}")
    points = _int_field(config, "points", 1, MAX_POINTS_PER_UNIT)
    unit = _int_field(config, "unit", 1, 1_000_000, default=100)
    min_subtotal = _int_field(config, "min_subtotal", 0, 10**12, default=0)
    return BaseEarnRule(rule_id, name, mode, points, unit, min_subtotal)


def _int_field(
    config: Mapping[str, Any], key: str, low: int, high: int, default: int | None = None
) -> int:
    value = config.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ValidationError(f"config.{key}", f"{key} must be a whole number from {low} to {high}")
    return value


def evaluate_base_earn(lines: Sequence[CartLine], rules: Sequence[BaseEarnRule]) -> Earning:
    amounts = [line.amount for line in lines]
    subtotal = sum(amounts)
    awards = []
    for rule in sorted(rules, key=lambda r: r.rule_id):
        points = rule.points_for(subtotal)
        if points > 0:
            split = allocate_largest_remainder(points, amounts)
            awards.append(Award(rule.rule_id, rule.name, BASE_EARN, points, split))
    return Earning(tuple(awards))


def allocate_largest_remainder(total: int, weights: Sequence[int]) -> tuple[int, ...]:
    """Split total across weights in proportion; the parts are whole and add up to total.

    Each part gets the floor of its exact share; the units left over go to the largest
    remainders, ties to the earliest position, so the split is deterministic.
    """
    if total < 0 or any(w < 0 for w in weights):
        raise ValueError("total and weights must not be negative")
    weight_sum = sum(weights)
    if weight_sum == 0:
        if total and not weights:
            raise ValueError("cannot split a non-zero total across nothing")
        return tuple([total] + [0] * (len(weights) - 1)) if weights else ()
    shares = [divmod(total * w, weight_sum) for w in weights]
    parts = [quotient for quotient, _ in shares]
    left = total - sum(parts)
    order = sorted(range(len(weights)), key=lambda i: (-shares[i][1], i))
    for index in order[:left]:
        parts[index] += 1
    return tuple(parts)
