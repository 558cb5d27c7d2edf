"""The points lifecycle: when points mature and expire, and which tier they hold.

Every date here is a day in the program's timezone. Points expire at the end of the local
day N months after they were earned; a tier is kept through the end of its period and a
grace period after it, and only then moves down.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import NamedTuple

from loyalty.domain.cart import validate_identifier
from loyalty.errors import ValidationError

ROLLING_12_MONTHS = "rolling_12_months"
CALENDAR_YEAR = "calendar_year"
WINDOWS = (ROLLING_12_MONTHS, CALENDAR_YEAR)
MAX_TIERS = 20
MAX_MULTIPLIER_PERCENT = 1000
MAX_GRACE_DAYS = 366
MAX_EXPIRY_MONTHS = 120
MAX_PENDING_DAYS = 365


def add_months(day: date, months: int) -> date:
    """The same day of the month, months later; the month's last day when it is shorter."""
    month_index = day.year * 12 + day.month - 1 + months
    year, month = divmod(month_index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def local_day(at: datetime, tz: tzinfo) -> date:
    return at.astimezone(tz).date()


def end_of_day(day: date, tz: tzinfo) -> datetime:
    """The first instant of the next local day, in UTC.

    Where a clock change skips midnight, the naive midnight resolves with the offset from
    before the change, which is the first instant that exists on the new day.
    """
    return datetime.combine(day + timedelta(days=1), time(0), tz).astimezone(UTC)


def expiry_of(earned_at: datetime, tz: tzinfo, months: int | None) -> datetime | None:
    """When points earned at earned_at expire: None when the program keeps them forever."""
    if months is None:
        return None
    return end_of_day(add_months(local_day(earned_at, tz), months), tz)


def maturity_of(earned_at: datetime, tz: tzinfo, pending_days: int) -> datetime:
    """When points become spendable: at once, or after the last day a return is taken."""
    if pending_days == 0:
        return earned_at
    return end_of_day(local_day(earned_at, tz) + timedelta(days=pending_days), tz)


def month_of(day: date) -> date:
    return day.replace(day=1)


def last_day_of_month(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


@dataclass(frozen=True)
class PointsPolicy:
    expiry_months: int | None = None  # None: points never expire
    pending_days: int = 0  # the return window; 0: spendable at once


@dataclass(frozen=True)
class Tier:
    name: str
    qualifying_points: int
    multiplier_percent: int
    benefits: str = ""


@dataclass(frozen=True)
class TierPolicy:
    window: str = ROLLING_12_MONTHS
    grace_days: int = 30


KEEP_FOREVER = PointsPolicy()
DEFAULT_TIER_POLICY = TierPolicy()


def window_months(policy: TierPolicy, day: date) -> tuple[date, date]:
    """The first and last month whose qualifying points count on day."""
    if policy.window == CALENDAR_YEAR:
        return date(day.year, 1, 1), date(day.year, 12, 1)
    return add_months(month_of(day), -11), month_of(day)


def window_ends(policy: TierPolicy, day: date) -> date:
    """The last day before points start leaving the window that counts on day."""
    if policy.window == CALENDAR_YEAR:
        return date(day.year, 12, 31)
    return last_day_of_month(day)


def kept_through(policy: TierPolicy, day: date) -> date:
    """The last day a tier reached (or kept) on day is held without qualifying again."""
    if policy.window == CALENDAR_YEAR:
        return date(day.year, 12, 31)
    return last_day_of_month(add_months(day, 12))


def renewed_through(policy: TierPolicy, held_through: date) -> date:
    """The last day a tier is kept when the period that ended on held_through earned it again:
    one more period, counted from that period's end and not from the day it was reviewed."""
    if policy.window == CALENDAR_YEAR:
        return date(held_through.year + 1, 12, 31)
    return kept_through(policy, held_through)


def points_in_window(months: Mapping[date, int], policy: TierPolicy, day: date) -> int:
    first, last = window_months(policy, day)
    return sum(points for month, points in months.items() if first <= month <= last)


def tier_for(tiers: Sequence[Tier], points: int) -> Tier | None:
    """The highest tier these qualifying points reach; None below the lowest."""
    reached = [tier for tier in tiers if tier.qualifying_points <= points]
    return max(reached, key=lambda tier: tier.qualifying_points, default=None)


def rank(tier: Tier | None) -> int:
    return -1 if tier is None else tier.qualifying_points


def find_tier(tiers: Sequence[Tier], name: str | None) -> Tier | None:
    return next((tier for tier in tiers if tier.name == name), None)


class TierChange(NamedTuple):
    before: str | None
    after: str | None
    kept_through: date | None


@dataclass(frozen=True)
class TierMove:
    before: Tier | None
    after: Tier | None
    kept_through: date | None

    @property
    def changed(self) -> bool:
        return self.before != self.after

    @property
    def change(self) -> TierChange:
        return TierChange(
            self.before.name if self.before else None,
            self.after.name if self.after else None,
            self.kept_through,
        )


def move_up(
    tiers: Sequence[Tier], policy: TierPolicy, held: Tier | None, points: int, day: date
) -> TierMove | None:
    """The tier these points reach now, if it is above the one held; moving up is immediate."""
    reached = tier_for(tiers, points)
    if rank(reached) <= rank(held):
        return None
    return TierMove(held, reached, kept_through(policy, day))


def review(
    tiers: Sequence[Tier],
    policy: TierPolicy,
    held: Tier | None,
    held_through: date,
    months: Mapping[date, int],
    today: date,
) -> TierMove:
    """A tier whose period and grace are over: kept if either window still reaches it.

    The window that ended with the period and the window counting today are both
    considered, so points earned during the grace period count.
    """
    at_period_end = tier_for(tiers, points_in_window(months, policy, held_through))
    now = tier_for(tiers, points_in_window(months, policy, today))
    after = max(at_period_end, now, key=rank)
    if held is not None and find_tier(tiers, held.name) is None:
        held = None
    if after is None or after == tier_for(tiers, 0):
        return TierMove(held, after, None)
    if rank(at_period_end) >= rank(after):
        return TierMove(held, after, renewed_through(policy, held_through))
    return TierMove(held, after, kept_through(policy, today))


def review_due(held_through: date, policy: TierPolicy, today: date) -> bool:
    return today > held_through + timedelta(days=policy.grace_days)


@dataclass(frozen=True)
class TierProgress:
    points: int
    next_tier: Tier | None
    points_to_next: int
    by: date

    @property
    def message(self) -> str:
        if self.next_tier is None:
            return "the highest tier"
        return f"{self.points_to_next} points to {self.next_tier.name}, by {self.by.isoformat()}"


def progress(
    tiers: Sequence[Tier], policy: TierPolicy, held: Tier | None, points: int, today: date
) -> TierProgress:
    above = [tier for tier in tiers if tier.qualifying_points > rank(held)]
    next_tier = min(above, key=lambda tier: tier.qualifying_points, default=None)
    missing = max(next_tier.qualifying_points - points, 0) if next_tier else 0
    return TierProgress(points, next_tier, missing, window_ends(policy, today))


def check_tiers(tiers: Sequence[Tier]) -> tuple[Tier, ...]:
    """Validate an admin's tier list; return it ordered from the lowest tier up."""
    if len(tiers) > MAX_TIERS:
        raise ValidationError("tiers", f"a program has at most {MAX_TIERS} tiers")
    checked = []
    for index, tier in enumerate(tiers):
        field = f"tiers[{index}]"
        name = validate_identifier(f"{field}.name", tier.name)
        if tier.qualifying_points < 0:
            raise ValidationError(f"{field}.qualifyingPoints", "qualifyingPoints must be 0 or more")
        if not 100 <= tier.multiplier_percent <= MAX_MULTIPLIER_PERCENT:
            raise ValidationError(
                f"{field}.multiplierPercent",
                f"multiplierPercent must be 100 (1x) to {MAX_MULTIPLIER_PERCENT} (10x)",
            )
        if len(tier.benefits) > 500:
            raise ValidationError(f"{field}.benefits", "benefits are at most 500 characters")
        checked.append(Tier(name, tier.qualifying_points, tier.multiplier_percent, tier.benefits))
    names = [tier.name for tier in checked]
    if len(set(names)) != len(names):
        raise ValidationError("tiers", "each tier needs its own name")
    thresholds = [tier.qualifying_points for tier in checked]
    if len(set(thresholds)) != len(thresholds):
        raise ValidationError("tiers", "each tier needs its own qualifyingPoints")
    return tuple(sorted(checked, key=lambda tier: tier.qualifying_points))


def check_policy(policy: TierPolicy) -> TierPolicy:
    if policy.window not in WINDOWS:
        raise ValidationError("window", "window is ROLLING_12_MONTHS or CALENDAR_YEAR")
    if not 0 <= policy.grace_days <= MAX_GRACE_DAYS:
        raise ValidationError("graceDays", f"graceDays must be 0 to {MAX_GRACE_DAYS}")
    return policy


def check_points_policy(policy: PointsPolicy) -> PointsPolicy:
    months = policy.expiry_months
    if months is not None and not 1 <= months <= MAX_EXPIRY_MONTHS:
        raise ValidationError(
            "expiryMonths", f"expiryMonths must be 1 to {MAX_EXPIRY_MONTHS}, or null for never"
        )
    if not 0 <= policy.pending_days <= MAX_PENDING_DAYS:
        raise ValidationError("pendingDays", f"pendingDays must be 0 to {MAX_PENDING_DAYS}")
    return policy
