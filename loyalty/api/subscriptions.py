"""Live updates over graphql-transport-ws: pointsChanged, a customer's own, an admin's any."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

import strawberry
from strawberry.scalars import JSON

from loyalty.api.auth import _RolePermission
from loyalty.api.context import Context, Info
from loyalty.api.scalars import BigInt
from loyalty.domain.access import Role
from loyalty.errors import ValidationError
from loyalty.service.live import EventRow, LiveHub


@dataclass
class LiveContext(Context):
    """The context with the live hub, and what a websocket's connection_init carried."""

    live: LiveHub | None = None
    connection_params: dict[str, Any] = field(default_factory=dict)


@strawberry.enum(description="What happened to the customer's points, tier or codes.")
class PointsChangeKind(Enum):
    POINTS_EARNED = "POINTS_EARNED"
    POINTS_REVERSED = "POINTS_REVERSED"
    POINTS_REDEEMED = "POINTS_REDEEMED"
    POINTS_ADJUSTED = "POINTS_ADJUSTED"
    POINTS_EXPIRED = "POINTS_EXPIRED"
    TIER_CHANGED = "TIER_CHANGED"
    CODE_ISSUED = "CODE_ISSUED"
    CODE_REVOKED = "CODE_REVOKED"


# How each kind moves the balance: the outbox stores the points taken as a positive amount.
_SIGN = {
    PointsChangeKind.POINTS_EARNED: 1,
    PointsChangeKind.POINTS_ADJUSTED: 1,
    PointsChangeKind.POINTS_REVERSED: -1,
    PointsChangeKind.POINTS_REDEEMED: -1,
    PointsChangeKind.POINTS_EXPIRED: -1,
}


@strawberry.type(description="One committed change to a customer's points, tier or codes.")
class PointsChange:
    event_id: BigInt = strawberry.field(
        description="Grows with every change of the customer: pass the last one seen as "
        "afterEventId to resume without missing any."
    )
    kind: PointsChangeKind
    customer_id: str
    points: BigInt | None = strawberry.field(
        description="How the balance moved (negative when points were taken); null when it "
        "did not (a tier or a code)."
    )
    balance: BigInt | None = strawberry.field(
        description="The balance after the change; null when it did not move."
    )
    at: datetime = strawberry.field(description="When the change was made.")
    payload: JSON = strawberry.field(
        description="The change's details: purchaseId, returnId, code, from/to tier..."
    )

    @classmethod
    def of(cls, row: EventRow) -> PointsChange:
        kind = PointsChangeKind(row.kind)
        sign = _SIGN.get(kind)
        moved = row.payload.get("points") if sign is not None else None
        balance = row.payload.get("balance") if sign is not None else None
        return cls(
            event_id=BigInt(row.id),
            kind=kind,
            customer_id=row.customer_id,
            points=BigInt(sign * moved) if sign is not None and moved is not None else None,
            balance=BigInt(balance) if balance is not None else None,
            at=row.created_at,
            payload=JSON(row.payload),
        )


class IsCustomerOrAdmin(_RolePermission):
    roles = frozenset({Role.CUSTOMER, Role.ADMIN})
    what = "this needs a customer token or an admin API key"


@strawberry.type
class Subscription:
    @strawberry.subscription(
        permission_classes=[IsCustomerOrAdmin],
        description="Each change to a customer's points, tier or codes, moments after it "
        "commits, in order. A customer gets their own (customerId is ignored); an admin names "
        "the customer. With afterEventId, the changes after that one come first.",
    )
    async def points_changed(
        self,
        info: Info,
        customer_id: str | None = None,
        after_event_id: BigInt | None = None,
    ) -> AsyncGenerator[PointsChange, None]:
        context = info.context
        principal = context.principal
        assert principal is not None, "the permission class lets no anonymous caller through"
        if principal.role is Role.CUSTOMER:
            assert principal.customer_id is not None
            subject = principal.customer_id
        elif customer_id is None:
            raise ValidationError("customerId", "an admin names the customer to follow")
        else:
            subject = customer_id
        if after_event_id is not None and after_event_id < 0:
            raise ValidationError("afterEventId", "afterEventId is an event id, 0 or more")
        assert isinstance(context, LiveContext) and context.live is not None
        async with context.live.subscribe(subject, after_event_id) as feed:
            while True:
                yield PointsChange.of(await feed.next())
