"""Nudges for a cart, recorded as shown; and settling them when the purchase comes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from loyalty.domain.access import SYSTEM, Actor
from loyalty.domain.engine import Item, Occasion
from loyalty.domain.nudges import NudgeSettings, Product, Shelf, find_nudges
from loyalty.domain.rules import NUDGING_KINDS, AddOn, Bundle, Rule, SpendThreshold
from loyalty.errors import ValidationError
from loyalty.service.budgets import budgets_left
from loyalty.service.changes import record_change
from loyalty.service.purchases import (
    Cart,
    check_cart,
    customer_state,
    items_of,
    tier_of,
)
from loyalty.service.rulebook import RuleBook
from loyalty.store import catalog, rules, stats
from loyalty.store import nudges as nudge_store
from loyalty.store.database import Connection, Pool, transaction
from loyalty.store.nudges import NewNudge, NudgeRow

NUDGE_LIFETIME = timedelta(minutes=15)
DECLINE_WINDOW = timedelta(days=14)
MAX_NUDGES = 3
CANDIDATES_PER_CATEGORY = 10


async def nudges_for(
    pool: Pool,
    book: RuleBook,
    cart: Cart,
    limit: int = 1,
    now: datetime | None = None,
) -> list[NudgeRow]:
    """The best nudges for the cart, each recorded as shown; nothing touches the ledger."""
    now = now or datetime.now(UTC)
    cart = check_cart(cart, now)
    if cart.customer_id is None:
        raise ValidationError("customerId", "nudges are for a known customer: give customerId")
    if not 1 <= limit <= MAX_NUDGES:
        raise ValidationError("limit", f"limit must be 1 to {MAX_NUDGES}")
    compiled = await book.current()
    occasion = Occasion(cart.store_id, cart.channel, cart.at, compiled.timezone)
    async with transaction(pool) as conn:
        items, _ = await items_of(conn, cart.lines)
        tier = await tier_of(conn, compiled, cart.customer_id)
        state = await customer_state(conn, cart.customer_id, occasion, compiled.rules, tier)
        budgets = await budgets_left(conn, compiled)
        shelf = await _shelf(conn, cart.customer_id, compiled.rules, items, now, compiled.nudging)
        found = find_nudges(
            items, occasion, state, compiled.index, shelf, compiled.nudging, budgets, limit
        )
        if not found:
            return []
        await nudge_store.relax_durability(conn, cart.customer_id)
        # Asking again for the same cart shows the same nudge, not a second one: a customer
        # is offered (and may decline, or be thanked for) a change once per visit.
        live = {
            (row.rule_id, row.replace_sku, row.add_sku, row.quantity): row
            for row in await nudge_store.open_nudges(conn, cart.customer_id, now)
        }
        fresh = [
            NewNudge(
                n.rule_id,
                n.rule_version,
                n.kind,
                n.change.add_sku,
                n.change.replace_sku,
                n.change.quantity,
                n.extra_cost,
                n.points,
                n.message,
            )
            for n in found
            if (n.rule_id, n.change.replace_sku, n.change.add_sku, n.change.quantity) not in live
        ]
        inserted = iter(
            await nudge_store.insert_nudges(
                conn, cart.customer_id, cart.store_id, cart.channel, now + NUDGE_LIFETIME, fresh
            )
            if fresh
            else []
        )
        return [
            live.get((n.rule_id, n.change.replace_sku, n.change.add_sku, n.change.quantity))
            or next(inserted)
            for n in found
        ]


async def _shelf(
    conn: Connection,
    customer_id: str,
    rules: Sequence[Rule],
    items: Sequence[Item],
    now: datetime,
    settings: NudgeSettings,
) -> Shelf:
    """What the catalog can offer this cart: larger sizes, add-ons, bundle items, top-ups."""
    families = sorted({item.family for item in items if item.family})
    skus: set[str] = set()
    categories: set[str] = set()
    subtotal = sum(item.amount for item in items)
    gaps = []
    for rule in rules:
        p = rule.params
        matches = (
            [p.add_on] if isinstance(p, AddOn) else list(p.items) if isinstance(p, Bundle) else []
        )
        for match in matches:
            if match.sku:
                skus.add(match.sku)
            elif match.category:
                categories.add(match.category)
        if isinstance(p, SpendThreshold):
            gap = p.threshold - subtotal
            if 0 < gap <= p.threshold * settings.max_gap_percent // 100:  # else never offered
                gaps.append(gap)
    rows = await nudge_store.shelf_products(
        conn, families, sorted(skus), sorted(categories), CANDIDATES_PER_CATEGORY
    )
    for gap in sorted(set(gaps)):
        if (row := await nudge_store.cheapest_at_least(conn, gap)) is not None:
            rows.append({**row, "sized": False})
    sizes: dict[str, list[Product]] = {}
    extras_by_sku: dict[str, Product] = {}
    for row in rows:
        sized = row.pop("sized")
        product = Product(**row)  # type: ignore[arg-type]
        if sized:
            sizes.setdefault(str(product.family), []).append(product)
        else:
            extras_by_sku[product.sku] = product
    extras = list(extras_by_sku.values())
    declined = await nudge_store.declined_counts(conn, customer_id, now - DECLINE_WINDOW)
    shared = await stats.bought_with(
        conn, sorted({item.sku for item in items}), [product.sku for product in extras]
    )
    most = max(shared.values(), default=1)
    nudging = [rule.id for rule in rules if rule.kind in NUDGING_KINDS and rule.id > 0]
    return Shelf(
        sizes=sizes,
        extras=extras,
        together={sku: count / most for sku, count in shared.items()},
        acceptance=await stats.nudge_rates(conn, nudging),
        declined=declined,
    )


async def set_nudge_limits(
    pool: Pool,
    book: RuleBook | None,
    add_on_percent: int,
    gap_percent: int,
    actor: Actor = SYSTEM,
) -> None:
    """Tune the guardrails: an add-on's most share of the cart, a spend gap's most share of its
    threshold (both percentages); every process picks them up with the rules."""
    for field, value in (("addOnMaxPercent", add_on_percent), ("spendGapMaxPercent", gap_percent)):
        if not 1 <= value <= 100:
            raise ValidationError(field, f"{field} must be 1 to 100")
    async with transaction(pool) as conn:
        program = await catalog.lock_program(conn)
        if program is None:
            raise ValidationError("program", "the program is not set up yet")
        await catalog.set_nudge_limits(conn, add_on_percent, gap_percent)
        before = {
            "addOnMaxPercent": program.nudge_add_on_max_percent,
            "spendGapMaxPercent": program.nudge_gap_max_percent,
        }
        after = {"addOnMaxPercent": add_on_percent, "spendGapMaxPercent": gap_percent}
        await record_change(conn, actor, "setNudgeLimits", ("program", ""), before, after)
        await rules.notify_rules_changed(conn)
    if book is not None:
        book.invalidate()
