"""Purchases, and what a cart would earn: the same evaluation, written or not."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from loyalty.domain.cart import (
    CartLine,
    PurchaseRequest,
    validate_channel,
    validate_identifier,
    validate_lines,
    validate_purchase,
    validate_time,
)
from loyalty.domain.engine import (
    Award,
    CustomerState,
    Evaluation,
    Item,
    Occasion,
    Reason,
    Usage,
    evaluate,
    period_start,
)
from loyalty.domain.lifecycle import Tier, TierChange, TierMove
from loyalty.domain.rules import BASE_EARN, PERIODS, Rule
from loyalty.errors import ValidationError
from loyalty.service import budgets
from loyalty.service import lots as lot_service
from loyalty.service import rebates as rebate_service
from loyalty.service import tiers as tier_service
from loyalty.service.claims import ClaimOutcome, settle_claims
from loyalty.service.idempotency import claim_or_replay, save_result
from loyalty.service.rulebook import Compiled, RuleBook
from loyalty.service.rules import RuleDraft, check_draft
from loyalty.store import accounts, catalog, ledger, outbox, purchases, rules, stats
from loyalty.store import rebates as rebate_store
from loyalty.store.accounts import AccountRow
from loyalty.store.database import Connection, Pool, connection, transaction
from loyalty.store.purchases import LineRow, PurchaseRow

PURCHASE_SCOPE = "purchase"
POINTS_EARNED = "POINTS_EARNED"
MAX_DRAFTS = 20


@dataclass(frozen=True)
class Cart:
    store_id: str
    channel: str
    at: datetime
    lines: tuple[CartLine, ...]
    customer_id: str | None = None


@dataclass(frozen=True)
class PurchaseOutcome:
    purchase: PurchaseRow
    lines: list[LineRow]
    awards: list[Award]
    reasons: list[Reason]
    balance: int
    unknown_skus: list[str]
    replayed: bool
    claims: ClaimOutcome
    tier_change: TierChange | None = None

    @property
    def points(self) -> int:
        return self.purchase.points


@dataclass(frozen=True)
class QuoteOutcome:
    evaluation: Evaluation
    subtotal: int
    unknown_skus: list[str]


async def record_purchase(
    pool: Pool, book: RuleBook, request: PurchaseRequest, now: datetime | None = None
) -> PurchaseOutcome:
    now = now or datetime.now(UTC)
    request = validate_purchase(request, now)
    if request.rebate_code is not None:
        request = replace(request, rebate_code=rebate_service.read_code(request.rebate_code))
    compiled = await book.current()
    key = f"{request.store_id}\x1f{request.transaction_id}"
    async with transaction(pool) as conn:
        stored = await claim_or_replay(
            conn,
            PURCHASE_SCOPE,
            key,
            request.customer_id,
            request.fingerprint(),
            shown_key=request.transaction_id,
        )
        if stored is not None:
            return await _replayed(conn, request.customer_id, stored)
        return await _record(conn, compiled, request, key, now)


async def _record(
    conn: Connection, compiled: Compiled, request: PurchaseRequest, key: str, now: datetime
) -> PurchaseOutcome:
    customer_id = request.customer_id
    # The account row lock orders this customer's purchases, so caps read below hold.
    account = await accounts.lock_or_open_account(conn, customer_id)
    items, unknown = await items_of(conn, request.lines)
    subtotal = sum(item.amount for item in items)
    # The code is locked before any budget is: a purchase that loses a race for a code
    # holds nothing other purchases wait for.
    rebate = None
    if request.rebate_code is not None:
        rebate = await rebate_service.redeem_in_purchase(
            conn, request.rebate_code, customer_id, subtotal, request.occurred_at
        )
    discount = rebate.discount_on(subtotal) if rebate else 0
    occasion = Occasion(request.store_id, request.channel, request.occurred_at, compiled.timezone)
    tier = tier_service.held_tier(compiled, account.tier)
    state = await customer_state(conn, customer_id, occasion, compiled.rules, tier)
    # Stacking sees what budgets have left, as a quote does; the reservation below settles it.
    left = await budgets.budgets_left(conn, compiled)
    # Every rule, not the index: the reasons are kept for a retry, which may ask for them.
    evaluation = evaluate(items, occasion, state, compiled.rules, left)
    evaluation = await budgets.reserve_budgets(conn, compiled, evaluation, customer_id)
    purchase = await purchases.insert_purchase(
        conn,
        customer_id=customer_id,
        store_id=request.store_id,
        transaction_id=request.transaction_id,
        channel=request.channel,
        occurred_at=request.occurred_at,
        subtotal=subtotal,
        points=evaluation.points,
        discount=discount,
        rebate_code=rebate.code if rebate else None,
    )
    if rebate is not None:
        await rebate_store.mark_redeemed(conn, rebate.code, customer_id, purchase.id, discount)
    line_points = evaluation.line_points(len(items))
    lines = [
        LineRow(n, line.sku, line.quantity, line.unit_price, line.sku not in unknown, points)
        for n, (line, points) in enumerate(zip(request.lines, line_points, strict=True))
    ]
    await purchases.insert_lines(conn, customer_id, purchase.id, lines)
    balance, move = await _book_points(conn, compiled, request, account, purchase, evaluation, now)
    await _count_usage(conn, customer_id, compiled, evaluation.awards)
    claims = await settle_claims(
        conn,
        customer_id,
        purchase.id,
        items,
        request.accepted_nudge_ids,
        compiled.by_id,
        {award.rule_id for award in evaluation.awards if award.points > 0},
    )
    result = {
        "purchase_id": purchase.id,
        "balance": balance,
        "awards": [_award_json(award) for award in evaluation.awards],
        # Rows, not objects: a program of 200 rules gives most carts about 190 reasons.
        "reasons": [list(reason) for reason in evaluation.reasons],
        "unknown_skus": unknown,
        "accepted_nudges": claims.accepted,
        "rejected_nudges": claims.rejected,
        "rebate_codes": [code.code for code in claims.codes],
        "tier_change": tier_service.change_json(move.change) if move else None,
    }
    await save_result(conn, PURCHASE_SCOPE, key, result)
    return PurchaseOutcome(
        purchase,
        lines,
        list(evaluation.awards),
        list(evaluation.reasons),
        balance,
        unknown,
        replayed=False,
        claims=claims,
        tier_change=move.change if move else None,
    )


async def _book_points(
    conn: Connection,
    compiled: Compiled,
    request: PurchaseRequest,
    account: AccountRow,
    purchase: PurchaseRow,
    evaluation: Evaluation,
    now: datetime,
) -> tuple[int, TierMove | None]:
    """What the purchase earned, written down: the balance, entries, its lot, its event and
    its tier move; returns the new balance and the move."""
    customer_id = account.customer_id
    entries = [
        ledger.NewEntry(
            "earn" if award.kind == BASE_EARN else "bonus",
            award.points,
            purchase.id,
            award.rule_id,
            award.name,
            rule_version=award.rule_version,
        )
        for award in evaluation.awards
    ]
    balance = await accounts.credit_account(conn, customer_id, evaluation.points)
    if entries:
        await ledger.insert_entries(conn, customer_id, entries, balance)
    await lot_service.credit(
        conn,
        compiled,
        customer_id,
        points=evaluation.points,
        balance_before=account.balance,
        earned_at=request.occurred_at,
        pending=True,
        purchase_id=purchase.id,
    )
    event = {
        "purchaseId": purchase.id,
        "storeId": request.store_id,
        "transactionId": request.transaction_id,
        "points": evaluation.points,
        "balance": balance,
    }
    await outbox.add_events(conn, customer_id, [(POINTS_EARNED, event)])
    move = await tier_service.qualify(
        conn, compiled, customer_id, account.tier, request.occurred_at, evaluation.points, now
    )
    return balance, move


def _award_json(award: Award) -> dict[str, Any]:
    fields = award._asdict()
    fields["line_points"] = list(award.line_points)
    fields["period_start"] = award.period_start.isoformat() if award.period_start else None
    return fields


def _award_from_json(fields: dict[str, Any]) -> Award:
    start = fields["period_start"]
    return Award(
        **{
            **fields,
            "line_points": tuple(fields["line_points"]),
            "period_start": datetime.fromisoformat(start).date() if start else None,
        }
    )


async def _replayed(conn: Connection, customer_id: str, stored: dict[str, Any]) -> PurchaseOutcome:
    purchase = await purchases.get_purchase(conn, customer_id, stored["purchase_id"])
    assert purchase is not None, "an idempotency key points at a missing purchase"
    return PurchaseOutcome(
        purchase=purchase,
        lines=await purchases.get_lines(conn, customer_id, purchase.id),
        awards=[_award_from_json(award) for award in stored["awards"]],
        reasons=[Reason(*reason) for reason in stored["reasons"]],
        balance=stored["balance"],
        unknown_skus=stored["unknown_skus"],
        replayed=True,
        claims=ClaimOutcome(
            stored["accepted_nudges"],
            [(nudge_id, why) for nudge_id, why in stored["rejected_nudges"]],
            [
                code
                for c in stored["rebate_codes"]
                if (code := await rebate_store.get_code(conn, c))
            ],
        ),
        tier_change=tier_service.change_from_json(change)
        if (change := stored.get("tier_change"))
        else None,
    )


async def items_of(conn: Connection, lines: Sequence[CartLine]) -> tuple[list[Item], list[str]]:
    products = await catalog.get_products(conn, sorted({line.sku for line in lines}))
    items = []
    for line in lines:
        product = products.get(line.sku)
        items.append(
            Item(
                line.sku,
                line.quantity,
                line.unit_price,
                product.category if product else None,
                product.family if product else None,
                product.size_rank if product else None,
            )
        )
    return items, sorted({line.sku for line in lines} - products.keys())


async def customer_state(
    conn: Connection,
    customer_id: str | None,
    occasion: Occasion,
    active: Sequence[Rule],
    tier: Tier | None,
) -> CustomerState:
    if customer_id is None:
        return CustomerState()
    segments = frozenset(await stats.segments_of(conn, customer_id))
    held = CustomerState(
        tier=tier.name if tier else None,
        tier_multiplier_percent=tier.multiplier_percent if tier else 100,
        segments=segments,
    )
    capped = {rule.id: rule.caps.period for rule in active if rule.caps.period}
    if not capped:
        return held
    day = occasion.at.astimezone(occasion.timezone).date()
    since = min(period_start(period, day) for period in PERIODS)
    rows = await rules.get_usage(conn, customer_id, since)
    usage = {
        (row.rule_id, row.period_start): Usage(row.awards, row.points)
        for row in rows
        if capped.get(row.rule_id) == row.period
    }
    return replace(held, usage=usage)


async def tier_of(conn: Connection, compiled: Compiled, customer_id: str | None) -> Tier | None:
    """The tier a cart is priced at: none for an anonymous cart."""
    if customer_id is None or not compiled.tiers:
        return None
    found = await accounts.get_accounts(conn, [customer_id])
    return tier_service.held_tier(compiled, found[customer_id].tier if found else None)


async def _count_usage(
    conn: Connection, customer_id: str, compiled: Compiled, awards: Sequence[Award]
) -> None:
    rows = [
        rules.UsageRow(award.rule_id, period, award.period_start, 1, award.points)
        for award in awards
        if award.period_start is not None and (period := compiled.by_id[award.rule_id].caps.period)
    ]
    if rows:
        await rules.add_usage(conn, customer_id, rows)


def check_cart(cart: Cart, now: datetime) -> Cart:
    validate_channel(cart.channel)
    validate_time("at", cart.at, now)
    return Cart(
        store_id=validate_identifier("storeId", cart.store_id),
        channel=cart.channel,
        at=cart.at,
        lines=validate_lines(cart.lines),
        customer_id=validate_identifier("customerId", cart.customer_id)
        if cart.customer_id is not None
        else None,
    )


async def quote(
    pool: Pool, book: RuleBook, cart: Cart, now: datetime | None = None, *, reasons: bool = True
) -> QuoteOutcome:
    """What the cart would earn by rule and, if asked, why the others would not; writes nothing."""
    cart = check_cart(cart, now or datetime.now(UTC))
    return await _evaluate_cart(pool, await book.current(), cart, reasons)


async def simulate(
    pool: Pool,
    book: RuleBook,
    cart: Cart,
    drafts: Sequence[RuleDraft],
    *,
    replace_active: bool = False,
    now: datetime | None = None,
    reasons: bool = True,
) -> QuoteOutcome:
    """quote() with unsaved draft rules (ids -1, -2, ...) beside, or instead of, the live ones."""
    if len(drafts) > MAX_DRAFTS:
        raise ValidationError("rules", f"simulate at most {MAX_DRAFTS} draft rules at once")
    cart = check_cart(cart, now or datetime.now(UTC))
    compiled = await book.current()
    async with connection(pool) as conn:
        trial = [await check_draft(conn, draft, -n) for n, draft in enumerate(drafts, 1)]
    live = () if replace_active else compiled.rules
    return await _evaluate_cart(pool, replace(compiled, rules=(*live, *trial)), cart, reasons)


async def _evaluate_cart(pool: Pool, compiled: Compiled, cart: Cart, reasons: bool) -> QuoteOutcome:
    occasion = Occasion(cart.store_id, cart.channel, cart.at, compiled.timezone)
    async with connection(pool) as conn:
        items, unknown = await items_of(conn, cart.lines)
        tier = await tier_of(conn, compiled, cart.customer_id)
        state = await customer_state(conn, cart.customer_id, occasion, compiled.rules, tier)
        left = await budgets.budgets_left(conn, compiled)
    if reasons:
        evaluation = evaluate(items, occasion, state, compiled.rules, left)
    else:
        evaluation = compiled.index.evaluate(items, occasion, state, left)
    return QuoteOutcome(evaluation, sum(item.amount for item in items), unknown)
