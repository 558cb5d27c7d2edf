from datetime import UTC, datetime, timedelta, timezone

import pytest

from loyalty.domain.cart import CartLine, PurchaseRequest, validate_purchase
from loyalty.errors import ValidationError

AT = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
NOW = AT + timedelta(hours=1)


def request(*lines: CartLine, **overrides: object) -> PurchaseRequest:
    fields: dict[str, object] = {
        "customer_id": "c1",
        "store_id": "S1",
        "transaction_id": "T1",
        "channel": "pos",
        "occurred_at": AT,
        "lines": lines,
    }
    fields.update(overrides)
    return PurchaseRequest(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("purchase", "field"),
    [
        (request(), "lines"),
        (request(CartLine("A", 0, 100)), "lines[0].quantity"),
        (request(CartLine("A", -2, 100)), "lines[0].quantity"),
        (request(CartLine("A", 1, -1)), "lines[0].unitPrice"),
        (request(CartLine("A", 1, 10**15)), "lines[0].unitPrice"),
        (request(CartLine("A", 1, 1), CartLine(" ", 1, 1)), "lines[1].sku"),
        (request(CartLine("A", 1, 1), customer_id=""), "customerId"),
        (request(*[CartLine("A", 10_000, 100_000_000)] * 2), "lines"),
        (request(CartLine("A", 1, 1), transaction_id="x" * 129), "transactionId"),
        (request(CartLine("A", 1, 1), channel="fax"), "channel"),
        (request(CartLine("A", 1, 1), occurred_at=datetime(2026, 1, 1)), "occurredAt"),
        (request(CartLine("A", 1, 1), occurred_at=NOW + timedelta(days=2)), "occurredAt"),
        (request(CartLine("A", 1, 1), occurred_at=NOW - timedelta(days=401)), "occurredAt"),
        (
            request(
                CartLine("A", 1, 1),
                occurred_at=datetime.fromisoformat("0001-01-01T00:00:00+14:00"),
            ),
            "occurredAt",
        ),
    ],
)
def test_bad_purchases_name_the_field(purchase: PurchaseRequest, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        validate_purchase(purchase, NOW)
    assert caught.value.field == field


def test_identifiers_are_trimmed_and_fingerprint_ignores_the_key() -> None:
    clean = validate_purchase(request(CartLine(" A ", 1, 1), customer_id=" c1 "), NOW)
    assert clean.customer_id == "c1"
    assert clean.lines[0].sku == "A"
    assert clean.fingerprint() == request(CartLine("A", 1, 1), transaction_id="T2").fingerprint()
    assert clean.fingerprint() != request(CartLine("A", 2, 1)).fingerprint()


def test_the_same_instant_in_another_offset_is_the_same_purchase() -> None:
    warsaw = AT.astimezone(timezone(timedelta(hours=1)))
    assert request(CartLine("A", 1, 1)).fingerprint() == (
        request(CartLine("A", 1, 1), occurred_at=warsaw).fingerprint()
    )
