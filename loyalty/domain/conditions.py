"""When a rule applies: the stores, channels, tiers, segments, dates, days and hours it names."""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import TYPE_CHECKING

from loyalty.domain.rules import Conditions

if TYPE_CHECKING:
    from loyalty.domain.engine import CustomerState, Occasion

DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def unmet_condition(
    c: Conditions, occasion: Occasion, at: datetime, local: datetime, customer: CustomerState
) -> tuple[str, str] | None:
    """The code and the words of the first condition that does not hold; None when all hold."""
    if c.stores and occasion.store_id not in c.stores:
        return "STORE", f"only at {', '.join(sorted(c.stores))}"
    if c.channels and occasion.channel not in c.channels:
        return "CHANNEL", f"only on {', '.join(sorted(c.channels))}"
    if c.tiers and customer.tier not in c.tiers:
        return "TIER", f"only for tiers {', '.join(sorted(c.tiers))}"
    if excluded := c.excluded_segments & customer.segments:
        return "SEGMENT", f"not for customers in {', '.join(sorted(excluded))}"
    if c.valid_from is not None and at < c.valid_from:
        return "NOT_STARTED", f"starts {_local_text(c.valid_from, occasion.timezone)}"
    if c.valid_to is not None and at >= c.valid_to:
        return "ENDED", f"ended {_local_text(c.valid_to, occasion.timezone)}"
    if c.days_of_week and local.isoweekday() not in c.days_of_week:
        days = ", ".join(DAY_NAMES[d - 1] for d in sorted(c.days_of_week))
        return "DAY", f"only on {days}; it is {DAY_NAMES[local.weekday()]}"
    if c.start_minute is not None and c.end_minute is not None:
        minute = local.hour * 60 + local.minute
        if not c.start_minute <= minute < c.end_minute:
            window = f"{_clock(c.start_minute)}-{_clock(c.end_minute)}"
            return "HOURS", f"only {window}; it is {local:%H:%M} ({occasion.timezone})"
    return None


def _clock(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _local_text(instant: datetime, zone: tzinfo) -> str:
    return f"{instant.astimezone(zone):%Y-%m-%d %H:%M} ({zone})"
