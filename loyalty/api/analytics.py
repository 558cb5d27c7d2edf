"""Analytics for admins: whether nudges work, what points are owed, who holds which tier."""

from __future__ import annotations

from datetime import date
from typing import Annotated, TypedDict

import strawberry

from loyalty import errors as domain
from loyalty import service
from loyalty.api import errors
from loyalty.api.auth import IsAdmin
from loyalty.api.context import Info
from loyalty.api.scalars import BigInt


class _Counts(TypedDict):
    shown: int
    accepted: int
    declined: int
    acceptance_per_mille: int | None
    revenue_added: BigInt
    bonus_points: BigInt
    rebate_codes_issued: int
    rebate_codes_redeemed: int
    rebate_discount: BigInt


@strawberry.type(description="What a rule's nudges, bonuses and thank-you codes did.")
class NudgeFigures:
    shown: int = strawberry.field(description="Nudges shown (on the day they were shown).")
    accepted: int = strawberry.field(
        description="Of those, taken by a purchase that really made the change."
    )
    declined: int = strawberry.field(
        description="Of those, passed over by the customer's next purchase. Nudges that "
        "expired unanswered are neither: shown - accepted - declined."
    )
    acceptance_per_mille: int | None = strawberry.field(
        description="accepted / shown in thousandths, rounded down; null when none was shown."
    )
    revenue_added: BigInt = strawberry.field(
        description="The extra cost of the accepted nudges, in minor units: what they added."
    )
    bonus_points: BigInt = strawberry.field(
        description="Bonus points the rule paid (on the day they were credited)."
    )
    rebate_codes_issued: int = strawberry.field(
        description="Thank-you codes the rule issued (on the day of issue)."
    )
    rebate_codes_redeemed: int = strawberry.field(
        description="The rule's thank-you codes redeemed (on the day of redemption)."
    )
    rebate_discount: BigInt = strawberry.field(
        description="What those redemptions took off, in minor units."
    )

    @classmethod
    def of(cls, figures: service.NudgeTotals) -> NudgeFigures:
        return cls(**cls.fields_of(figures))

    @staticmethod
    def fields_of(f: service.NudgeTotals) -> _Counts:
        return {
            "shown": f.shown,
            "accepted": f.accepted,
            "declined": f.declined,
            "acceptance_per_mille": service.per_mille(f.accepted, f.shown),
            "revenue_added": BigInt(f.revenue_added),
            "bonus_points": BigInt(f.bonus_points),
            "rebate_codes_issued": f.codes_issued,
            "rebate_codes_redeemed": f.codes_redeemed,
            "rebate_discount": BigInt(f.rebate_discount),
        }


@strawberry.type(description="A rule's figures on one local day of the program.")
class DayFigures(NudgeFigures):
    day: date


@strawberry.type(description="A rule over the report's days; only days with a fact are listed.")
class RuleAnalytics:
    rule_id: strawberry.ID
    name: str
    kind: str
    total: NudgeFigures
    days: list[DayFigures]

    @classmethod
    def of(cls, rule: service.RuleFigures) -> RuleAnalytics:
        return cls(
            rule_id=strawberry.ID(str(rule.rule_id)),
            name=rule.name,
            kind=rule.kind,
            total=NudgeFigures.of(rule.total),
            days=[DayFigures(day=day, **NudgeFigures.fields_of(f)) for day, f in rule.days],
        )


@strawberry.type(description="Purchases of the report's days (by when they happened).")
class OrderValue:
    orders: int
    revenue: BigInt = strawberry.field(description="Their subtotals, in minor units.")
    average: BigInt | None = strawberry.field(
        description="revenue / orders in minor units, rounded down; null without orders."
    )

    @classmethod
    def of(cls, orders: service.OrderTotals) -> OrderValue:
        average = orders.average
        return cls(
            orders=orders.orders,
            revenue=BigInt(orders.revenue),
            average=BigInt(average) if average is not None else None,
        )


@strawberry.type(description="Points customers hold now: what the program owes.")
class PointsLiability:
    outstanding_points: BigInt = strawberry.field(
        description="The sum of positive balances (pending points included)."
    )
    debt_points: BigInt = strawberry.field(
        description="The sum of negative balances: points customers owe after returns."
    )
    value: BigInt | None = strawberry.field(
        description="outstandingPoints at the pointValueMinor asked for, in minor units, "
        "rounded down; null when no value was given."
    )


@strawberry.type(description="Customers holding a tier now.")
class TierCustomers:
    tier: str | None = strawberry.field(description="Null: customers without a tier.")
    customers: int
    outstanding_points: BigInt


@strawberry.type(description="The program's figures over local days from..to, both included.")
class Analytics:
    from_: date = strawberry.field(name="from")
    to: date
    timezone: str = strawberry.field(description="The program's timezone the days are in.")
    currency: str | None
    rules: list[RuleAnalytics] = strawberry.field(
        description="Rules with any nudge, bonus or thank-you code in the window."
    )
    nudged_orders: OrderValue = strawberry.field(
        description="Purchases that took at least one nudge."
    )
    not_nudged_orders: OrderValue = strawberry.field(description="All other purchases.")
    liability: PointsLiability
    tiers: list[TierCustomers] = strawberry.field(
        description="No tier first, then every tier from the lowest."
    )

    @classmethod
    def of(cls, report: service.AnalyticsReport) -> Analytics:
        return cls(
            from_=report.start,
            to=report.end,
            timezone=report.timezone,
            currency=report.currency,
            rules=[RuleAnalytics.of(rule) for rule in report.rules],
            nudged_orders=OrderValue.of(report.nudged),
            not_nudged_orders=OrderValue.of(report.not_nudged),
            liability=PointsLiability(
                outstanding_points=BigInt(report.outstanding_points),
                debt_points=BigInt(report.debt_points),
                value=BigInt(v) if (v := report.liability_value) is not None else None,
            ),
            tiers=[
                TierCustomers(
                    tier=t.tier,
                    customers=t.customers,
                    outstanding_points=BigInt(t.outstanding_points),
                )
                for t in report.tiers
            ],
        )


AnalyticsResult = Annotated[
    Analytics | errors.InvalidInputError, strawberry.union("AnalyticsResult")
]


@strawberry.type
class AnalyticsQuery:
    @strawberry.field(
        permission_classes=[IsAdmin],
        description=f"Nudge, points and tier figures over local days from..to (both included, "
        f"at most {service.MAX_ANALYTICS_DAYS}).",
    )
    async def analytics(
        self,
        info: Info,
        from_: Annotated[date, strawberry.argument(name="from")],
        to: date,
        point_value_minor: Annotated[
            int | None,
            strawberry.argument(
                description="What 100 points are worth, in minor units, to value the liability."
            ),
        ] = None,
    ) -> AnalyticsResult:
        try:
            report = await service.analytics_report(info.context.pool, from_, to, point_value_minor)
        except domain.ValidationError as error:
            return errors.invalid_input(error)
        return Analytics.of(report)
