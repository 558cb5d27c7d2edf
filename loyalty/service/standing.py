"""What a customer holds: points spendable and pending, what expires when, and the tier."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from loyalty.domain.lifecycle import (
    Tier,
    TierProgress,
    local_day,
    points_in_window,
    progress,
)
from loyalty.service.rulebook import RuleBook
from loyalty.service.tiers import held_tier, months_counting
from loyalty.store import lots
from loyalty.store.database import Pool, connection
from loyalty.store.lots import ExpiringRow

MAX_EXPIRING = 24


@dataclass(frozen=True)
class TierStatus:
    tier: Tier | None
    qualifying_points: int
    progress: TierProgress
    kept_through: date | None


async def unspendable_by_ids(
    pool: Pool, customer_ids: Sequence[str], now: datetime | None = None
) -> list[tuple[int, int]]:
    """(pending, past their last day) per customer: the batch a request's loader makes."""
    async with connection(pool) as conn:
        found = await lots.unspendable(conn, customer_ids, now or datetime.now(UTC))
    return [found.get(customer_id, (0, 0)) for customer_id in customer_ids]


async def expiring_of(
    pool: Pool, customer_id: str, first: int, now: datetime | None = None
) -> list[ExpiringRow]:
    first = min(max(first, 1), MAX_EXPIRING)  # a list field: a bad count is clamped, not fatal
    async with connection(pool) as conn:
        return await lots.expiring(conn, customer_id, now or datetime.now(UTC), first)


async def tier_status(
    pool: Pool,
    book: RuleBook,
    customer_id: str,
    held: str | None,
    kept_through: date | None,
    now: datetime | None = None,
) -> TierStatus | None:
    """The tier, its multiplier, and how far the next one is; None without tiers."""
    compiled = await book.current()
    if not compiled.tiers:
        return None
    today = local_day(now or datetime.now(UTC), compiled.timezone)
    async with connection(pool) as conn:
        months = await months_counting(conn, compiled, customer_id, today)
    points = points_in_window(months, compiled.tier_policy, today)
    tier = held_tier(compiled, held)
    return TierStatus(
        tier=tier,
        qualifying_points=points,
        progress=progress(compiled.tiers, compiled.tier_policy, tier, points, today),
        kept_through=kept_through if tier is not None and tier.name == held else None,
    )
