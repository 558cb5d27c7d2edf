"""A purchase as the POS posts it, and the limits that keep it sane."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from loyalty.errors import ValidationError

CHANNELS = ("pos", "app", "web")
MAX_LINES = 500
MAX_QUANTITY = 10_000
MAX_UNIT_PRICE = 100_000_000  # 1,000,000.00 in minor units: no till rings more than that
MAX_ID_LENGTH = 128
MAX_SUBTOTAL = 1_000_000_000  # 10,000,000.00: keeps every amount a 32-bit GraphQL Int
MAX_AGE = timedelta(days=400)  # a POS catching up after a long outage, not a typo in the year
MAX_AHEAD = timedelta(days=1)  # clock skew between tills


@dataclass(frozen=True)
class CartLine:
    sku: str
    quantity: int
    unit_price: int

    @property
    def amount(self) -> int:
        return self.quantity * self.unit_price


@dataclass(frozen=True)
class PurchaseRequest:
    customer_id: str
    store_id: str
    transaction_id: str
    channel: str
    occurred_at: datetime
    lines: tuple[CartLine, ...]
    rebate_code: str | None = None
    accepted_nudge_ids: tuple[str, ...] = ()

    def fingerprint(self) -> bytes:
        """A digest of everything that makes this purchase this purchase."""
        content = {
            "customer": self.customer_id,
            "channel": self.channel,
            "at": self.occurred_at.astimezone(UTC).isoformat(),
            "lines": [[line.sku, line.quantity, line.unit_price] for line in self.lines],
            "rebate": self.rebate_code,
            "nudges": sorted(self.accepted_nudge_ids),
        }
        return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).digest()


def validate_identifier(field: str, value: str) -> str:
    value = value.strip()
    if not value:
        raise ValidationError(field, f"{field} must not be empty")
    if len(value) > MAX_ID_LENGTH:
        raise ValidationError(field, f"{field} is longer than {MAX_ID_LENGTH} characters")
    if not value.isprintable():
        raise ValidationError(field, f"{field} contains control characters")
    return value


def validate_purchase(request: PurchaseRequest, now: datetime) -> PurchaseRequest:
    """Return the request with identifiers trimmed, or raise naming the first bad field."""
    validate_channel(request.channel)
    validate_time("occurredAt", request.occurred_at, now)
    return PurchaseRequest(
        customer_id=validate_identifier("customerId", request.customer_id),
        store_id=validate_identifier("storeId", request.store_id),
        transaction_id=validate_identifier("transactionId", request.transaction_id),
        channel=request.channel,
        occurred_at=request.occurred_at,
        lines=validate_lines(request.lines),
        rebate_code=request.rebate_code,
        accepted_nudge_ids=_validate_nudge_ids(request.accepted_nudge_ids),
    )


def _validate_nudge_ids(ids: tuple[str, ...]) -> tuple[str, ...]:
    if len(ids) > 10:
        raise ValidationError("acceptedNudgeIds", "a purchase accepts at most 10 nudges")
    return tuple(dict.fromkeys(validate_identifier("acceptedNudgeIds", i) for i in ids))


def validate_channel(channel: str) -> None:
    if channel not in CHANNELS:
        raise ValidationError("channel", f"channel must be one of {', '.join(CHANNELS)}")


def validate_time(field: str, at: datetime, now: datetime) -> None:
    if at.tzinfo is None:
        raise ValidationError(field, f"{field} must include a timezone offset")
    try:
        in_range = now - MAX_AGE <= at <= now + MAX_AHEAD
    except OverflowError:  # an offset that pushes year 1 or 9999 off the calendar
        in_range = False
    if not in_range:
        raise ValidationError(
            field, f"{field} must be within {MAX_AGE.days} days before now and 1 day after"
        )


def validate_lines(lines: tuple[CartLine, ...]) -> tuple[CartLine, ...]:
    if not lines:
        raise ValidationError("lines", "a cart needs at least one line")
    if len(lines) > MAX_LINES:
        raise ValidationError("lines", f"a cart has at most {MAX_LINES} lines")
    checked = tuple(_validate_line(index, line) for index, line in enumerate(lines))
    if sum(line.amount for line in checked) > MAX_SUBTOTAL:
        raise ValidationError("lines", f"a cart totals at most {MAX_SUBTOTAL} minor units")
    return checked


def _validate_line(index: int, line: CartLine) -> CartLine:
    field = f"lines[{index}]"
    sku = validate_identifier(f"{field}.sku", line.sku)
    if not 0 < line.quantity <= MAX_QUANTITY:
        raise ValidationError(f"{field}.quantity", f"quantity must be between 1 and {MAX_QUANTITY}")
    if not 0 <= line.unit_price <= MAX_UNIT_PRICE:
        raise ValidationError(
            f"{field}.unitPrice",
            f"unitPrice must be between 0 and {MAX_UNIT_PRICE} minor units",
        )
    return CartLine(sku=sku, quantity=line.quantity, unit_price=line.unit_price)
