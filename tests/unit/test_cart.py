from datetime import UTC, datetime

import pytest

from loyalty.domain.cart import CartLine, PurchaseRequest, validate_purchase
from loyalty.errors import ValidationError

AT = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


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
    ],
)
def test_bad_purchases_name_the_field(purchase: PurchaseRequest, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        validate_purchase(purchase)
    assert caught.value.field == field


def test_identifiers_are_trimmed_and_fingerprint_ignores_the_key() -> None:
    clean = validate_purchase(request(CartLine(" A ", 1, 1), customer_id=" c1 "))
    assert clean.customer_id == "c1"
    assert clean.lines[0].sku == "A"
    assert (
        clean.fingerprint()
        == validate_purchase(request(CartLine("A", 1, 1), transaction_id="T2")).fingerprint()
    )
    assert clean.fingerprint() != validate_purchase(request(CartLine("A", 2, 1))).fingerprint()
