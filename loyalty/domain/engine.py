"""The rule engine: a cart, a customer's state and the compiled rules in; awards and reasons out.

Stacking: every stackable rule that pays, pays. Exclusive rules compete and at most one of
them pays: the one worth most to the customer; on a tie the higher priority, then the
older rule (lower id). BASE_EARN rules always stack and are evaluated first, because
multipliers of other kinds apply to base points: SPEND_THRESHOLD multiplies the base
points the cart earned, PRODUCT_BONUS the base rate on the matching lines' amount (so that
adding an item never lowers what a cart earns).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import NamedTuple

from loyalty.domain.conditions import unmet_condition
from loyalty.domain.rounding import allocate_largest_remainder
from loyalty.domain.rules import (
    BASE_EARN,
    PER_UNIT,
    AddOn,
    BaseEarn,
    Bundle,
    ItemMatch,
    ProductBonus,
    Rule,
    SpendThreshold,
    Upsize,
)


@dataclass(frozen=True)
class Item:
    """A cart line with what the catalog knows of its product (nothing, for an unknown sku)."""

    sku: str
    quantity: int
    unit_price: int
    category: str | None = None
    family: str | None = None
    size_rank: int | None = None

    @property
    def amount(self) -> int:
        return self.quantity * self.unit_price

    def matches(self, match: ItemMatch) -> bool:
        if match.sku is not None:
            return self.sku == match.sku
        return self.category is not None and self.category == match.category


@dataclass(frozen=True)
class Occasion:
    store_id: str
    channel: str
    at: datetime
    timezone: tzinfo


@dataclass(frozen=True)
class Usage:
    awards: int = 0
    points: int = 0


@dataclass(frozen=True)
class CustomerState:
    tier: str | None = None
    tier_multiplier_percent: int = 100
    segments: frozenset[str] = frozenset()
    usage: Mapping[tuple[int, date], Usage] = field(default_factory=dict)


class Award(NamedTuple):
    rule_id: int
    rule_version: int
    kind: str
    name: str
    points: int
    line_points: tuple[int, ...]
    period_start: date | None = None


class Reason(NamedTuple):
    """Why a rule did not pay, in words a cashier can read."""

    rule_id: int
    name: str
    kind: str
    code: str
    message: str


@dataclass(frozen=True)
class Evaluation:
    awards: tuple[Award, ...]
    reasons: tuple[Reason, ...]

    @property
    def points(self) -> int:
        return sum(award.points for award in self.awards)

    def line_points(self, line_count: int) -> tuple[int, ...]:
        totals = [0] * line_count
        for award in self.awards:
            for index, points in enumerate(award.line_points):
                totals[index] += points
        return tuple(totals)


class _Cart:
    """The lines with the sums and lookups every rule needs, worked out once per evaluation."""

    def __init__(self, items: Sequence[Item]) -> None:
        self.items = items
        self.amounts = [item.amount for item in items]
        self.subtotal = sum(self.amounts)
        self._by_sku: dict[str, list[int]] = {}
        self._by_category: dict[str, list[int]] = {}
        self._by_family: dict[str, list[int]] = {}
        for index, item in enumerate(items):
            self._by_sku.setdefault(item.sku, []).append(index)
            if item.category is not None:
                self._by_category.setdefault(item.category, []).append(index)
            if item.family is not None:
                self._by_family.setdefault(item.family, []).append(index)

    def lines(self, match: ItemMatch) -> list[int]:
        """The positions of the lines matching, in cart order (as Item.matches decides)."""
        if match.sku is not None:
            return self._by_sku.get(match.sku, [])
        return self._by_category.get(match.category, []) if match.category else []

    def upsized(self, p: Upsize) -> list[int]:
        """The lines of the family (or category) at the upsize's size or larger."""
        group = (
            self._by_family.get(p.family) if p.family else self._by_category.get(p.category or "")
        )
        return [i for i in group or () if (self.items[i].size_rank or 0) >= p.min_size_rank]

    def spread(self, points: int, lines: Sequence[int], weights: Sequence[int]) -> tuple[int, ...]:
        """Points split over some lines by weight (at least one positive); the rest get 0."""
        parts = [0] * len(self.items)
        shares = (points,) if len(lines) == 1 else allocate_largest_remainder(points, weights)
        for index, share in zip(lines, shares, strict=True):
            parts[index] = share
        return tuple(parts)


class _Base:
    """The base points paid so far, and the per-unit rates that paid them."""

    def __init__(self, tier_multiplier_percent: int) -> None:
        self.tier = tier_multiplier_percent
        self.total = 0
        self.rates: list[tuple[int, int]] = []

    def paid(self, rule: BaseEarn, points: int) -> None:
        self.total += points
        if rule.mode == PER_UNIT:
            self.rates.append((rule.points, rule.unit))

    def on(self, amount: int) -> int:
        """Base points an amount earns at the rates that paid, before any cap."""
        return sum(amount * points // unit for points, unit in self.rates) * self.tier // 100


class _NoPay(NamedTuple):
    """Why a rule does not pay; returned, not raised, since most rules in a program don't."""

    code: str
    message: str


def money(minor: int) -> str:
    return f"{minor // 100}.{minor % 100:02d}"


def period_start(period: str, day: date) -> date:
    if period == "day":
        return day
    if period == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def evaluate(
    items: Sequence[Item],
    occasion: Occasion,
    customer: CustomerState,
    rules: Sequence[Rule],
    budgets: Mapping[int, int] | None = None,
    *,
    reasons: bool = True,
) -> Evaluation:
    """What the cart earns now; budgets hold the points left to budgeted rules (by rule id).

    Without reasons, a rule that does not pay leaves no trace, so a caller may leave out
    rules that cannot pay (RuleIndex does) and get the same awards.
    """
    budgets = budgets or {}
    local = occasion.at.astimezone(occasion.timezone)
    at = occasion.at.astimezone(UTC)  # rule instants are kept in UTC; same-zone compares are fast
    day = local.date()
    cart = _Cart(items)
    base = _Base(customer.tier_multiplier_percent)
    candidates: list[tuple[Rule, Award]] = []
    unpaid: list[Reason] | None = [] if reasons else None
    for rule in sorted(rules, key=_evaluation_order):
        unmet = unmet_condition(rule.conditions, occasion, at, local, customer)
        outcome = _NoPay(*unmet) if unmet else _award(rule, cart, base, customer, day, budgets)
        if isinstance(outcome, _NoPay):
            if unpaid is not None:
                unpaid.append(Reason(rule.id, rule.name, rule.kind, outcome.code, outcome.message))
            continue
        award = outcome
        if isinstance(rule.params, BaseEarn):
            base.paid(rule.params, award.points)
        candidates.append((rule, award))
    return _stack(candidates, unpaid)


def _award(
    rule: Rule,
    cart: _Cart,
    base: _Base,
    customer: CustomerState,
    day: date,
    budgets: Mapping[int, int],
) -> Award | _NoPay:
    raw = _raw_points(rule, cart, base, customer)
    if isinstance(raw, _NoPay):
        return raw
    return _capped(rule, *raw, customer, day, budgets)


def _stack(candidates: list[tuple[Rule, Award]], unpaid: list[Reason] | None) -> Evaluation:
    exclusive = [(rule, award) for rule, award in candidates if rule.exclusive]
    winner = max(exclusive, key=lambda c: (c[1].points, c[0].priority, -c[0].id), default=None)
    awards = []
    for rule, award in candidates:
        if rule.exclusive and winner is not None and rule is not winner[0]:
            if unpaid is not None:
                message = f"exclusive: {winner[0].name!r} pays instead ({winner[1].points} points)"
                unpaid.append(Reason(rule.id, rule.name, rule.kind, "OUTRANKED", message))
        else:
            awards.append(award)
    return Evaluation(tuple(awards), tuple(unpaid or ()))


def _evaluation_order(rule: Rule) -> tuple[bool, int, int]:
    return rule.kind != BASE_EARN, -rule.priority, rule.id


def _raw_points(
    rule: Rule, cart: _Cart, base: _Base, customer: CustomerState
) -> tuple[int, tuple[int, ...]] | _NoPay:
    p = rule.params
    items, amounts, subtotal = cart.items, cart.amounts, cart.subtotal
    if isinstance(p, BaseEarn):
        if not items:
            return _NoPay("EMPTY_CART", "the cart is empty")
        if short := _require_spend(subtotal, p.min_subtotal, "BELOW_MINIMUM"):
            return short
        points = (subtotal * p.points) // p.unit if p.mode == PER_UNIT else p.points
        points = points * customer.tier_multiplier_percent // 100
        if points == 0:
            return _NoPay("TOO_SMALL", f"subtotal {money(subtotal)} earns less than one point")
        return points, allocate_largest_remainder(points, amounts)
    if isinstance(p, Upsize):
        upsized = cart.upsized(p)
        if not upsized:
            where = f"family {p.family}" if p.family else f"category {p.category}"
            return _NoPay("NO_MATCH", f"no {where} item of size {p.min_size_rank} or larger")
        parts = [0] * len(items)
        for index in upsized:
            parts[index] = items[index].quantity * p.points
        return sum(parts), tuple(parts)
    if isinstance(p, AddOn):
        triggers = cart.lines(p.trigger)
        if not triggers:
            return _NoPay("NO_TRIGGER", f"needs {p.trigger.describe()} in the cart")
        # The add-on must be another unit than the one it complements.
        add_on = [
            i
            for i in cart.lines(p.add_on)
            if items[i].quantity > 1 or any(j != i for j in triggers)
        ]
        if not add_on:
            return _NoPay("NO_ADD_ON", f"add {p.add_on.describe()} to earn {p.points} points")
        return p.points, cart.spread(p.points, add_on[:1], [1])
    if isinstance(p, SpendThreshold):
        if short := _require_spend(subtotal, p.threshold, "BELOW_THRESHOLD"):
            return short
        points = p.points + base.total * (p.multiplier_percent - 100) // 100
        if points == 0:
            return _NoPay("NO_BASE", "no base points to multiply")
        return points, allocate_largest_remainder(points, amounts)
    if isinstance(p, Bundle):
        return _bundle_points(p, cart)
    assert isinstance(p, ProductBonus)
    return _product_bonus_points(p, cart, base)


def _require_spend(subtotal: int, minimum: int, code: str) -> _NoPay | None:
    if subtotal < minimum:
        gap = minimum - subtotal
        return _NoPay(code, f"subtotal {money(subtotal)} is {money(gap)} below {money(minimum)}")
    return None


def _bundle_points(p: Bundle, cart: _Cart) -> tuple[int, tuple[int, ...]] | _NoPay:
    matched = [cart.lines(m) for m in p.items]
    counts = [sum(cart.items[i].quantity for i in lines) for lines in matched]
    missing = [m.describe() for m, count in zip(p.items, counts, strict=True) if count == 0]
    if missing:
        return _NoPay("INCOMPLETE", f"missing {', '.join(missing)}")
    points = min(counts) * p.points
    bundled = sorted(set().union(*matched))
    weights = [cart.amounts[i] for i in bundled]
    if not any(weights):  # all free: split by units, not onto line 0 whatever it holds
        weights = [cart.items[i].quantity for i in bundled]
    return points, cart.spread(points, bundled, weights)


def _product_bonus_points(
    p: ProductBonus, cart: _Cart, base: _Base
) -> tuple[int, tuple[int, ...]] | _NoPay:
    matched = cart.lines(p.target)
    if not matched:
        return _NoPay("NO_MATCH", f"no {p.target.describe()} in the cart")
    extra = p.multiplier_percent - 100
    units = sum(cart.items[i].quantity for i in matched)
    amount = sum(cart.amounts[i] for i in matched)
    points = units * p.points + base.on(amount) * extra // 100
    weights = [cart.items[i].quantity * p.points * 100 + cart.amounts[i] * extra for i in matched]
    if points == 0:
        return _NoPay("NO_BASE", "no base points to multiply")
    return points, cart.spread(points, matched, weights)


def _capped(
    rule: Rule,
    points: int,
    lines: tuple[int, ...],
    customer: CustomerState,
    local_day: date,
    budgets: Mapping[int, int],
) -> Award | _NoPay:
    caps = rule.caps
    start = period_start(caps.period, local_day) if caps.period else None
    allowed = points
    if start is not None:
        used = customer.usage.get((rule.id, start), Usage())
        if caps.max_awards is not None and used.awards >= caps.max_awards:
            return _NoPay("CAP_REACHED", f"already paid {used.awards} time(s) this {caps.period}")
        if caps.max_points is not None:
            allowed = min(allowed, caps.max_points - used.points)
            if allowed <= 0:
                return _NoPay("CAP_REACHED", f"{caps.max_points} points this {caps.period} paid")
    if caps.budget is not None and rule.id in budgets:
        # What is left pays, the last award perhaps in part: a cart that earns more never
        # gets less for it.
        allowed = min(allowed, budgets[rule.id])
        if allowed <= 0:
            return _NoPay("BUDGET_SPENT", "the rule's points budget is spent")
    if allowed < points:
        lines = allocate_largest_remainder(allowed, lines)
    award = Award(rule.id, rule.version, rule.kind, rule.name, allowed, lines, start)
    return award


def cut_award(award: Award, points: int) -> Award:
    """The award reduced to points, when less budget could be reserved than it hoped for."""
    lines = allocate_largest_remainder(points, award.line_points)
    return award._replace(points=points, line_points=lines)
