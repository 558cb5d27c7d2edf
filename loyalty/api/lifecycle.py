"""Tiers, expiry and pending points in the schema: the program's policies and how to set them."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import Annotated

import strawberry
from strawberry import UNSET

from loyalty import errors as domain
from loyalty import service
from loyalty.api import errors
from loyalty.api.auth import IsAdmin, IsAnyone
from loyalty.api.context import Info
from loyalty.api.scalars import BigInt


@strawberry.enum(description="Which qualifying points count toward a tier.")
class TierWindow(Enum):
    ROLLING_12_MONTHS = "rolling_12_months"
    CALENDAR_YEAR = "calendar_year"


@strawberry.type
class Tier:
    name: str
    qualifying_points: BigInt = strawberry.field(description="Points in the window to reach it.")
    multiplier_percent: int = strawberry.field(
        description="Base earn times this, in %: 150 = 1.5x."
    )
    benefits: str

    @classmethod
    def of(cls, tier: service.Tier) -> Tier:
        return cls(
            name=tier.name,
            qualifying_points=BigInt(tier.qualifying_points),
            multiplier_percent=tier.multiplier_percent,
            benefits=tier.benefits,
        )


@strawberry.type
class TierStatus:
    tier: Tier | None = strawberry.field(description="Null below the lowest tier.")
    qualifying_points: BigInt = strawberry.field(description="Points counting in the window now.")
    next_tier: Tier | None
    points_to_next: BigInt = strawberry.field(description="0 at the top, or when already reached.")
    by: date = strawberry.field(description="The last day before points start leaving the window.")
    progress: str = strawberry.field(description='e.g. "120 points to Gold, by 2027-03-31".')
    kept_through: date | None = strawberry.field(
        description="The tier is kept through this day (then a grace period) without qualifying."
    )

    @classmethod
    def of(cls, status: service.TierStatus) -> TierStatus:
        progress = status.progress
        return cls(
            tier=Tier.of(status.tier) if status.tier else None,
            qualifying_points=BigInt(status.qualifying_points),
            next_tier=Tier.of(progress.next_tier) if progress.next_tier else None,
            points_to_next=BigInt(progress.points_to_next),
            by=progress.by,
            progress=progress.message,
            kept_through=status.kept_through,
        )


@strawberry.type
class TierChange:
    from_tier: str | None
    to_tier: str | None
    kept_through: date | None

    @classmethod
    def of(cls, change: service.TierChange) -> TierChange:
        return cls(from_tier=change.before, to_tier=change.after, kept_through=change.kept_through)


@strawberry.type
class ExpiringPoints:
    points: BigInt
    expires_at: datetime = strawberry.field(description="The first instant they are gone.")
    last_day: date = strawberry.field(description="The last local day they can be spent.")


@strawberry.type
class Program:
    name: str
    currency: str
    timezone: str
    tier_window: TierWindow
    tier_grace_days: int
    expiry_months: int | None = strawberry.field(description="Null: points never expire.")
    pending_days: int = strawberry.field(
        description="Points of a purchase are spendable this many days later (the return window)."
    )

    @classmethod
    def of(cls, row: service.ProgramRow) -> Program:
        return cls(
            name=row.name,
            currency=row.currency,
            timezone=row.timezone,
            tier_window=TierWindow(row.tier_window),
            tier_grace_days=row.tier_grace_days,
            expiry_months=row.expiry_months,
            pending_days=row.pending_days,
        )


@strawberry.input
class TierInput:
    name: str
    qualifying_points: BigInt
    multiplier_percent: int = 100
    benefits: str = ""


@strawberry.type
class TiersSet:
    tiers: list[Tier]


@strawberry.type
class PointsPolicySet:
    program: Program


SetTiersResult = Annotated[TiersSet | errors.InvalidInputError, strawberry.union("SetTiersResult")]
PointsPolicyResult = Annotated[
    PointsPolicySet | errors.InvalidInputError, strawberry.union("PointsPolicyResult")
]


@strawberry.type
class LifecycleQuery:
    @strawberry.field(permission_classes=[IsAnyone], description="The tiers, lowest first.")
    async def tiers(self, info: Info) -> list[Tier]:
        return [Tier.of(tier) for tier in await service.list_tiers(info.context.pool)]

    @strawberry.field(permission_classes=[IsAnyone], description="The program and its policies.")
    async def program(self, info: Info) -> Program | None:
        row = await service.get_program(info.context.pool)
        return Program.of(row) if row else None


@strawberry.type
class LifecycleMutation:
    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Replace the tiers; window and graceDays stay as they are unless given.",
    )
    async def set_tiers(
        self,
        info: Info,
        tiers: list[TierInput],
        window: TierWindow | None = None,
        grace_days: int | None = None,
    ) -> SetTiersResult:
        defined = [
            service.Tier(t.name, int(t.qualifying_points), t.multiplier_percent, t.benefits)
            for t in tiers
        ]
        policy = None
        if window is not None or grace_days is not None:
            current = (await info.context.rulebook.current()).tier_policy
            policy = service.TierPolicy(
                window.value if window else current.window,
                current.grace_days if grace_days is None else grace_days,
            )
        try:
            saved = await service.set_tiers(
                info.context.pool, info.context.rulebook, defined, policy, info.context.actor
            )
        except domain.ValidationError as error:
            return errors.invalid_input(error)
        return TiersSet(tiers=[Tier.of(tier) for tier in saved])

    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="When points expire (expiryMonths: null means never) and how many days "
        "they stay pending; a setting left out stays as it is. Points already earned keep "
        "the dates they were given.",
    )
    async def set_points_policy(
        self,
        info: Info,
        expiry_months: int | None = UNSET,
        pending_days: int | None = UNSET,
    ) -> PointsPolicyResult:
        current = (await info.context.rulebook.current()).points
        policy = service.PointsPolicy(
            current.expiry_months if expiry_months is UNSET else expiry_months,
            current.pending_days if pending_days in (UNSET, None) else pending_days,
        )
        try:
            await service.set_points_policy(
                info.context.pool, info.context.rulebook, policy, info.context.actor
            )
        except domain.ValidationError as error:
            return errors.invalid_input(error)
        row = await service.get_program(info.context.pool)
        assert row is not None
        return PointsPolicySet(program=Program.of(row))
