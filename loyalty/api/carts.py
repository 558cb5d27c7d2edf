"""Carts sent to quote and simulate."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated

import strawberry
from strawberry.types.nodes import SelectedField, Selection

from loyalty import service
from loyalty.api import errors
from loyalty.api.context import Info
from loyalty.api.types import Channel, Quote
from loyalty.domain.access import Role


@strawberry.input
class PurchaseLineInput:
    sku: str
    quantity: int
    unit_price: int = strawberry.field(description="Price of one unit, in minor units.")


@strawberry.input
class CartInput:
    store_id: str
    lines: list[PurchaseLineInput]
    channel: Channel = Channel.POS
    customer_id: str | None = strawberry.field(
        default=None, description="Whose caps apply; a customer token always means its own."
    )
    at: datetime | None = strawberry.field(default=None, description="Default: now.")


QuoteResult = Annotated[Quote | errors.InvalidInputError, strawberry.union("QuoteResult")]


def cart_of(info: Info, cart: CartInput) -> service.Cart:
    principal = info.context.principal
    customer_id = cart.customer_id
    if principal is not None and principal.role is Role.CUSTOMER:
        customer_id = principal.customer_id
    return service.Cart(
        store_id=cart.store_id,
        channel=cart.channel.value,
        at=cart.at or datetime.now(UTC),
        lines=tuple(service.CartLine(li.sku, li.quantity, li.unit_price) for li in cart.lines),
        customer_id=customer_id,
    )


def asks_for_reasons(info: Info) -> bool:
    """Whether the query selects the quote's reasons: without them, rules that cannot pay for
    the cart are not evaluated."""

    def selects(selections: Sequence[Selection]) -> bool:
        return any(
            s.name == "reasons" if isinstance(s, SelectedField) else selects(s.selections)
            for s in selections
        )

    return any(selects(field.selections) for field in info.selected_fields)
