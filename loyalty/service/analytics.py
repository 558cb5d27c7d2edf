"""Whether nudges work: acceptance, revenue and points per rule and day, order values,
points liability and customers per tier, all summed from the raw facts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

from loyalty.errors import ValidationError
from loyalty.store import analytics, catalog
from loyalty.store.analytics import OrdersRow, RuleDayRow, TierRow
from loyalty.store.database import Pool, transaction

MAX_ANALYTICS_DAYS = 366
MAX_POINT_VALUE = 1_000_000  # minor units per 100 points: 10,000.00 a point is no program


@dataclass(frozen=True)
class NudgeTotals:
    """What a rule's nudges, bonuses and thank-you codes did over some days."""

    shown: int = 0
    accepted: int = 0
    declined: int = 0
    revenue_added: int = 0
    bonus_points: int = 0
    codes_issued: int = 0
    codes_redeemed: int = 0
    rebate_discount: int = 0

    def __add__(self, other: NudgeTotals) -> NudgeTotals:
        return NudgeTotals(
            *(getattr(self, name) + getattr(other, name) for name in self.__dataclass_fields__)
        )

    @classmethod
    def of(cls, row: RuleDayRow) -> NudgeTotals:
        return cls(
            row.shown,
            row.accepted,
            row.declined,
            row.revenue_added,
            row.bonus_points,
            row.codes_issued,
            row.codes_redeemed,
            row.rebate_discount,
        )


@dataclass(frozen=True)
class RuleFigures:
    rule_id: int
    name: str
    kind: str
    total: NudgeTotals
    days: list[tuple[date, NudgeTotals]]


@dataclass(frozen=True)
class OrderTotals:
    orders: int
    revenue: int

    @property
    def average(self) -> int | None:
        """The average order value in minor units, rounded down; None without orders."""
        return self.revenue // self.orders if self.orders else None


@dataclass(frozen=True)
class AnalyticsReport:
    start: date
    end: date
    timezone: str
    currency: str | None
    rules: list[RuleFigures]
    nudged: OrderTotals
    not_nudged: OrderTotals
    tiers: list[TierRow]
    point_value_minor: int | None

    @property
    def outstanding_points(self) -> int:
        return sum(tier.outstanding_points for tier in self.tiers)

    @property
    def debt_points(self) -> int:
        return sum(tier.debt_points for tier in self.tiers)

    @property
    def liability_value(self) -> int | None:
        """Outstanding points in minor units at the given value, rounded down."""
        if self.point_value_minor is None:
            return None
        return self.outstanding_points * self.point_value_minor // 100


def per_mille(part: int, whole: int) -> int | None:
    """part/whole in thousandths, rounded down; None when whole is 0."""
    return part * 1000 // whole if whole else None


def check_window(start: date, end: date) -> None:
    if end < start:
        raise ValidationError("to", "to must not be before from")
    if (end - start).days + 1 > MAX_ANALYTICS_DAYS:
        raise ValidationError("to", f"a report covers at most {MAX_ANALYTICS_DAYS} days")


def local_midnight(day: date, zone: tzinfo) -> datetime:
    return datetime.combine(day, time(), zone).astimezone(UTC)


def by_rule(rows: list[RuleDayRow]) -> list[RuleFigures]:
    days: dict[int, list[RuleDayRow]] = {}
    for row in rows:
        days.setdefault(row.rule_id, []).append(row)
    return [
        RuleFigures(
            rule_id,
            own[0].rule_name,
            own[0].rule_kind,
            sum((NudgeTotals.of(row) for row in own), NudgeTotals()),
            [(row.day, NudgeTotals.of(row)) for row in own],
        )
        for rule_id, own in days.items()
    ]


async def analytics_report(
    pool: Pool, start: date, end: date, point_value_minor: int | None = None
) -> AnalyticsReport:
    """The program's figures for the local days start..end, both included."""
    check_window(start, end)
    if point_value_minor is not None and not 0 <= point_value_minor <= MAX_POINT_VALUE:
        raise ValidationError(
            "pointValueMinor", f"pointValueMinor must be between 0 and {MAX_POINT_VALUE}"
        )
    # One snapshot, so the figures agree with each other even while purchases come in.
    async with transaction(pool) as conn:
        await analytics.read_only_snapshot(conn)
        program = await catalog.get_program(conn)
        timezone = program.timezone if program else "UTC"
        zone = ZoneInfo(timezone)
        lo = local_midnight(start, zone)
        hi = local_midnight(end + timedelta(days=1), zone)
        rows = await analytics.rule_days(conn, lo, hi, timezone)
        orders = await analytics.order_values(conn, lo, hi)
        tiers = await analytics.tier_standing(conn)
    none = OrdersRow(0, 0)
    nudged, not_nudged = orders.get(True, none), orders.get(False, none)
    return AnalyticsReport(
        start=start,
        end=end,
        timezone=timezone,
        currency=program.currency if program else None,
        rules=by_rule(rows),
        nudged=OrderTotals(nudged.orders, nudged.revenue),
        not_nudged=OrderTotals(not_nudged.orders, not_nudged.revenue),
        tiers=tiers,
        point_value_minor=point_value_minor,
    )
