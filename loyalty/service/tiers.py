"""Tiers: defining them, moving up on the purchase that crosses, moving down on review."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from loyalty.domain.access import SYSTEM, Actor
from loyalty.domain.lifecycle import (
    Tier,
    TierChange,
    TierMove,
    TierPolicy,
    check_policy,
    check_tiers,
    find_tier,
    local_day,
    move_up,
    points_in_window,
    review,
    review_due,
    tier_for,
    window_months,
)
from loyalty.errors import ValidationError
from loyalty.service.changes import record_change
from loyalty.service.rulebook import Compiled, RuleBook, compile_rows
from loyalty.store import accounts, catalog, outbox, rules, tiers
from loyalty.store.database import Connection, Pool, connection, transaction

log = logging.getLogger("loyalty.tiers")
TIER_CHANGED = "TIER_CHANGED"
REVIEW_BATCH = 500


def held_tier(compiled: Compiled, name: str | None) -> Tier | None:
    """The tier a customer is in: the one held, or the lowest when it asks for no points."""
    held = find_tier(compiled.tiers, name)
    return held if held is not None else tier_for(compiled.tiers, 0)


async def set_tiers(
    pool: Pool,
    book: RuleBook | None,
    defined: Sequence[Tier],
    policy: TierPolicy | None,
    actor: Actor = SYSTEM,
) -> tuple[Tier, ...]:
    """Replace the program's tiers; customers in a tier that is gone move to the highest
    tier at or below its qualifying points."""
    checked = check_tiers(defined)
    names = {tier.name for tier in checked}
    async with transaction(pool) as conn:
        await tiers.lock_tiers(conn)
        for rule in compile_rows(await rules.list_rules(conn, include_archived=False)):
            if missing := sorted(rule.conditions.tiers - names):
                raise ValidationError(
                    "tiers",
                    f"rule {rule.id} ({rule.name}) is limited to tier {missing[0]!r}: "
                    "change the rule before removing the tier",
                )
        program = await catalog.lock_program(conn)
        before = await tiers.list_tiers(conn)
        await tiers.replace_tiers(conn, checked)
        lowest = tier_for(checked, 0)
        for gone in (tier for tier in before if tier.name not in names):
            successor = tier_for(checked, gone.qualifying_points)
            name = successor.name if successor else None
            event = {"from": gone.name, "to": name, "keptThrough": None}
            for customer_id in await tiers.move_holders(conn, gone.name, name, successor == lowest):
                await outbox.add_events(conn, customer_id, [(TIER_CHANGED, event)])
        if policy is not None:
            policy = check_policy(policy)
            if not await catalog.set_tier_policy(conn, policy.window, policy.grace_days):
                raise ValidationError("program", "the program is not set up yet")
        kept = (program.tier_window, program.tier_grace_days) if program else (None, None)
        given = (policy.window, policy.grace_days) if policy else kept
        await record_change(
            conn,
            actor,
            "setTiers",
            ("tiers", ""),
            _tier_settings(before, *kept),
            _tier_settings(checked, *given),
        )
        await rules.notify_rules_changed(conn)
    if book is not None:
        book.invalidate()
    return checked


def _tier_settings(
    defined: Sequence[Tier], window: str | None, grace_days: int | None
) -> dict[str, Any]:
    return {"tiers": list(defined), "window": window, "graceDays": grace_days}


async def list_tiers(pool: Pool) -> list[Tier]:
    async with connection(pool) as conn:
        return await tiers.list_tiers(conn)


async def months_counting(
    conn: Connection, compiled: Compiled, customer_id: str, *days: date
) -> dict[date, int]:
    since = min(window_months(compiled.tier_policy, day)[0] for day in days)
    return await tiers.qualifying_months(conn, customer_id, since)


async def qualify(
    conn: Connection,
    compiled: Compiled,
    customer_id: str,
    held: str | None,
    earned_at: datetime,
    points: int,
    now: datetime,
) -> TierMove | None:
    """Count a purchase's qualifying points and move the customer up if they now reach a
    higher tier. The account is locked by the caller."""
    if points <= 0:
        return None
    tz = compiled.timezone
    # Counted with or without tiers, so tiers defined later see the history.
    await tiers.add_qualifying(conn, customer_id, local_day(earned_at, tz).replace(day=1), points)
    if not compiled.tiers:
        return None
    today = local_day(now, tz)
    months = await months_counting(conn, compiled, customer_id, today)
    reached = points_in_window(months, compiled.tier_policy, today)
    move = move_up(compiled.tiers, compiled.tier_policy, held_tier(compiled, held), reached, today)
    if move is None:
        return None
    await tiers.set_held_tier(
        conn, customer_id, move.after.name if move.after else None, move.kept_through
    )
    await outbox.add_events(conn, customer_id, [(TIER_CHANGED, move_event(move))])
    return move


async def unqualify(
    conn: Connection, compiled: Compiled, customer_id: str, earned_at: datetime, points: int
) -> None:
    """Take back the qualifying points of a return; the tier itself waits for its review."""
    if points > 0:
        month = local_day(earned_at, compiled.timezone).replace(day=1)
        await tiers.take_qualifying(conn, customer_id, month, points)


def move_event(move: TierMove) -> dict[str, Any]:
    return change_json(move.change)


def change_json(change: TierChange) -> dict[str, Any]:
    return {
        "from": change.before,
        "to": change.after,
        "keptThrough": change.kept_through.isoformat() if change.kept_through else None,
    }


def change_from_json(fields: dict[str, Any]) -> TierChange:
    kept = fields["keptThrough"]
    return TierChange(fields["from"], fields["to"], date.fromisoformat(kept) if kept else None)


@dataclass(frozen=True)
class Reviewed:
    reviewed: int
    moved: int


async def review_tiers(pool: Pool, book: RuleBook, now: datetime | None = None) -> Reviewed:
    """Review every tier whose period and grace are over: keep it, or move down.

    Running it again reviews nothing twice: a reviewed tier is kept through a later day.
    """
    compiled = await book.current()
    today = local_day(now or datetime.now(UTC), compiled.timezone)
    policy = compiled.tier_policy
    last_kept = today - timedelta(days=policy.grace_days + 1)
    reviewed = moved = 0
    while True:
        async with connection(pool) as conn:
            due = await tiers.customers_due_for_review(conn, last_kept, REVIEW_BATCH)
        for customer_id in due:
            async with transaction(pool) as conn:
                move = await _review_one(conn, compiled, customer_id, today)
            reviewed += move is not None
            moved += move is not None and move.changed
        if len(due) < REVIEW_BATCH:
            return Reviewed(reviewed, moved)


async def _review_one(
    conn: Connection, compiled: Compiled, customer_id: str, today: date
) -> TierMove | None:
    account = await accounts.lock_account(conn, customer_id)
    kept = account.tier_kept_through if account else None
    if account is None or kept is None or not review_due(kept, compiled.tier_policy, today):
        return None
    months = await months_counting(conn, compiled, customer_id, kept, today)
    held = find_tier(compiled.tiers, account.tier)
    move = review(compiled.tiers, compiled.tier_policy, held, kept, months, today)
    await tiers.set_held_tier(
        conn, customer_id, move.after.name if move.after else None, move.kept_through
    )
    if move.changed:
        await outbox.add_events(conn, customer_id, [(TIER_CHANGED, move_event(move))])
    return move
