"""Nudges: the one change to a cart that a rule would reward, with its exact cost and points.

A nudge is found by trying each change a rule suggests (a larger size of a line, an add-on,
the missing item of a bundle, a little more spend) and evaluating the changed cart with the
same engine that pays purchases, so the points it promises are the points it pays.

Guardrails: nothing for customers in an excluded segment, nor a nudge they declined three
times lately; an add-on costs less than the item it goes with and at most a tenth of the
cart; a spend nudge only when the gap is small; no nudge a rule would not pay for. An
upsize is offered before anything else; the rest are ranked by the points a customer can
expect, which weighs each rule's acceptance rate so far and what customers buy together.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from loyalty.domain.engine import CustomerState, Evaluation, Item, Occasion, money
from loyalty.domain.ruleindex import RuleIndex
from loyalty.domain.rules import (
    ADD_ON,
    BUNDLE,
    SPEND_THRESHOLD,
    UPSIZE,
    AddOn,
    Bundle,
    Rule,
    SpendThreshold,
    Upsize,
)

EXCLUDED_SEGMENTS = frozenset({"mostly_returns", "discount_only"})
KIND_ORDER = {UPSIZE: 0, BUNDLE: 1, ADD_ON: 1, SPEND_THRESHOLD: 1}
PRIOR_ACCEPTANCE = 0.2  # what a rule with no history is assumed to convert
PRIOR_WEIGHT = 20  # how many showings that assumption is worth


@dataclass(frozen=True)
class Product:
    sku: str
    name: str
    category: str
    price: int
    family: str | None = None
    size_rank: int | None = None


@dataclass(frozen=True)
class NudgeSettings:
    max_add_on_percent: int = 10  # of the cart's subtotal
    max_gap_percent: int = 15  # of a spend threshold
    max_declines: int = 3


DEFAULT_SETTINGS = NudgeSettings()


@dataclass(frozen=True)
class Shelf:
    """What the catalog offers for this cart, fed by the store."""

    sizes: Mapping[str, Sequence[Product]] = field(default_factory=dict)  # family -> sizes
    extras: Sequence[Product] = ()  # add-ons, bundle items and fillers worth suggesting
    together: Mapping[str, float] = field(default_factory=dict)  # sku -> bought-with-cart score
    acceptance: Mapping[int, tuple[int, int]] = field(default_factory=dict)  # rule -> shown, taken
    declined: Mapping[tuple[int, str], int] = field(default_factory=dict)  # (rule, change) -> n


@dataclass(frozen=True)
class Change:
    """Replace a line's sku with a larger size, or add a product."""

    add_sku: str
    replace_sku: str | None = None
    quantity: int = 1

    @property
    def key(self) -> str:
        return f"{self.replace_sku or ''}>{self.add_sku}"


@dataclass(frozen=True)
class Nudge:
    kind: str
    rule_id: int
    rule_version: int
    change: Change
    extra_cost: int
    points: int
    message: str
    expected: float = 0.0


def acceptance_rate(shown: int, taken: int) -> float:
    """Taken over shown, pulled towards a prior while a rule has little history."""
    return (taken + PRIOR_ACCEPTANCE * PRIOR_WEIGHT) / (shown + PRIOR_WEIGHT)


def find_nudges(
    items: Sequence[Item],
    occasion: Occasion,
    customer: CustomerState,
    index: RuleIndex,
    shelf: Shelf,
    settings: NudgeSettings = DEFAULT_SETTINGS,
    budgets: Mapping[int, int] | None = None,
    limit: int = 1,
) -> list[Nudge]:
    """The best nudges for the cart, best first; none when the guardrails say so."""
    if customer.segments & EXCLUDED_SEGMENTS or not items:
        return []
    # Reasons are not shown with a nudge, so every cart is priced over the rules that could pay.
    now = index.evaluate(items, occasion, customer, budgets)
    found: dict[str, Nudge] = {}
    # Each changed cart is priced once, whichever rules suggest it (thirty upsize rules
    # suggest the same larger pizza).
    priced: dict[tuple[str, str | None, int], Evaluation] = {}
    nudging = sorted(
        (r for r in index.rules if r.kind in KIND_ORDER), key=lambda r: KIND_ORDER[r.kind]
    )
    for position, rule in enumerate(nudging):
        rank = KIND_ORDER[rule.kind]
        if position and rank != KIND_ORDER[nudging[position - 1].kind] and len(found) >= limit:
            break  # every nudge of a later kind ranks below the ones already found
        for change, product, cost in _changes(rule, items, shelf, settings):
            if shelf.declined.get((rule.id, change.key), 0) >= settings.max_declines:
                continue
            cart = (change.add_sku, change.replace_sku, change.quantity)
            after = priced.get(cart)
            if after is None:
                changed = apply(items, change, product)
                after = priced[cart] = index.evaluate(changed, occasion, customer, budgets)
            nudge = _priced(rule, change, product, cost, now, after, _gap(rule, items, cost))
            if nudge is None:
                continue
            rate = acceptance_rate(*shelf.acceptance.get(rule.id, (0, 0)))
            bonus = 1.0 + shelf.together.get(change.add_sku, 0.0)
            nudge = replace(nudge, expected=nudge.points * rate * bonus)
            best = found.get(change.key)
            if best is None or _rank(nudge) < _rank(best):
                found[change.key] = nudge
    return sorted(found.values(), key=_rank)[:limit]


def _rank(nudge: Nudge) -> tuple[int, float, int, str]:
    return KIND_ORDER[nudge.kind], -nudge.expected, nudge.extra_cost, nudge.change.key


def _changes(
    rule: Rule, items: Sequence[Item], shelf: Shelf, settings: NudgeSettings
) -> list[tuple[Change, Product, int]]:
    """The changes this rule suggests, each with its extra cost in minor units."""
    p = rule.params
    subtotal = sum(item.amount for item in items)
    if isinstance(p, Upsize):
        return _upsizes(p, items, shelf)
    if isinstance(p, AddOn):
        triggers = [item for item in items if item.matches(p.trigger)]
        if not triggers or any(item.matches(p.add_on) for item in items):
            return []
        most = max(item.unit_price for item in triggers)
        ceiling = subtotal * settings.max_add_on_percent // 100
        return [
            (Change(add_sku=product.sku), product, product.price)
            for product in shelf.extras
            if _is(product, p.add_on.sku, p.add_on.category)
            and product.price < most
            and product.price <= ceiling
        ]
    if isinstance(p, Bundle):
        missing = [m for m in p.items if not any(item.matches(m) for item in items)]
        if len(missing) != 1:
            return []
        return [
            (Change(add_sku=product.sku), product, product.price)
            for product in shelf.extras
            if _is(product, missing[0].sku, missing[0].category)
        ]
    if isinstance(p, SpendThreshold):
        gap = p.threshold - subtotal
        if not 0 < gap <= p.threshold * settings.max_gap_percent // 100:
            return []
        fillers = [product for product in shelf.extras if product.price >= gap]
        if not fillers:
            return []
        cheapest = min(fillers, key=lambda product: (product.price, product.sku))
        return [(Change(add_sku=cheapest.sku), cheapest, cheapest.price)]
    return []


def _upsizes(p: Upsize, items: Sequence[Item], shelf: Shelf) -> list[tuple[Change, Product, int]]:
    changes = []
    for item in items:
        if item.family is None or item.size_rank is None or item.size_rank >= p.min_size_rank:
            continue
        if p.family is not None and item.family != p.family:
            continue
        if p.category is not None and item.category != p.category:
            continue
        larger = [
            size
            for size in shelf.sizes.get(item.family, ())
            if size.size_rank is not None and size.size_rank >= p.min_size_rank
        ]
        if larger:
            target = min(larger, key=lambda size: (size.size_rank, size.price))
            extra = (target.price - item.unit_price) * item.quantity
            change = Change(add_sku=target.sku, replace_sku=item.sku, quantity=item.quantity)
            changes.append((change, target, max(extra, 0)))
    return changes


def _is(product: Product, sku: str | None, category: str | None) -> bool:
    return product.sku == sku if sku is not None else product.category == category


def apply(items: Sequence[Item], change: Change, product: Product) -> list[Item]:
    """The cart as it would be with the change made."""
    added = Item(
        product.sku,
        change.quantity,
        product.price,
        product.category,
        product.family,
        product.size_rank,
    )
    if change.replace_sku is None:
        return [*items, added]
    swapped = False
    result = []
    for item in items:
        if not swapped and item.sku == change.replace_sku:
            result.append(replace(added, quantity=item.quantity))
            swapped = True
        else:
            result.append(item)
    return result


def _gap(rule: Rule, items: Sequence[Item], cost: int) -> int:
    if isinstance(rule.params, SpendThreshold):
        return rule.params.threshold - sum(item.amount for item in items)
    return cost


def _priced(
    rule: Rule,
    change: Change,
    product: Product,
    cost: int,
    now: Evaluation,
    after: Evaluation,
    gap: int,
) -> Nudge | None:
    own_before = sum(a.points for a in now.awards if a.rule_id == rule.id)
    own_after = sum(a.points for a in after.awards if a.rule_id == rule.id)
    gained = after.points - now.points
    if own_after <= own_before or gained <= 0:
        return None  # no rule would pay for it
    return Nudge(
        kind=rule.kind,
        rule_id=rule.id,
        rule_version=rule.version,
        change=change,
        extra_cost=cost,
        points=gained,
        message=_message(rule, product, cost, gained, gap),
    )


DEFAULT_MESSAGES = {
    UPSIZE: "Make it a {product} for +{extra} and earn {points} bonus points",
    ADD_ON: "Add a {product} for {extra} and earn {points} bonus points",
    BUNDLE: "Add a {product} to complete the deal: +{points} points",
    SPEND_THRESHOLD: "Add a {product} for {extra} and earn {points} more points",
}


def _message(rule: Rule, product: Product, cost: int, points: int, gap: int) -> str:
    """The rule's own words if it has them, with the exact numbers filled in."""
    template = rule.message or DEFAULT_MESSAGES[rule.kind]
    values = {"product": product.name, "extra": money(cost), "points": points, "gap": money(gap)}
    try:
        return template.format(**values)
    except (KeyError, IndexError, ValueError):
        return DEFAULT_MESSAGES[rule.kind].format(**values)
