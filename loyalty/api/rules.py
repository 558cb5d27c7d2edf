"""Rule inputs as admins send them, and their translation into a rule spec."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from enum import Enum
from typing import Any

import strawberry

from loyalty.api.scalars import BigInt
from loyalty.api.types import Channel, RuleKind
from loyalty.service import RuleDraft

TOP_LEVEL = ("kind", "name", "priority", "exclusive", "message")


@strawberry.input(description="One sku, or any product of one category.")
class ItemMatchInput:
    sku: str | None = None
    category: str | None = None


@strawberry.enum
class CapPeriod(Enum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


@strawberry.enum
class EarnMode(Enum):
    PER_UNIT = "per_unit"
    PER_ORDER = "per_order"


@strawberry.input(description="Every condition given must hold; an empty list means any.")
class RuleConditionsInput:
    stores: list[str] | None = None
    channels: list[Channel] | None = None
    tiers: list[str] | None = None
    excluded_segments: list[str] | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = strawberry.field(default=None, description="Exclusive.")
    days_of_week: list[int] | None = strawberry.field(
        default=None, description="ISO days, 1 is Monday, in the program's timezone."
    )
    time_from: str | None = strawberry.field(default=None, description="HH:MM local, inclusive.")
    time_to: str | None = strawberry.field(default=None, description="HH:MM local, exclusive.")


@strawberry.input
class RuleCapsInput:
    period: CapPeriod | None = None
    max_awards: int | None = strawberry.field(
        default=None, description="Times the rule may pay one customer per period."
    )
    max_points: int | None = strawberry.field(
        default=None, description="Points the rule may pay one customer per period."
    )
    budget: BigInt | None = strawberry.field(
        default=None, description="Points the rule may pay in all, to everyone."
    )


@strawberry.input
class BaseEarnInput:
    mode: EarnMode
    points: int = strawberry.field(description="Per unit of currency, or per order.")
    unit: int | None = strawberry.field(default=None, description="Minor units; default 100.")
    min_subtotal: int | None = None


@strawberry.input
class UpsizeInput:
    min_size_rank: int = strawberry.field(description="Pays for lines at this size or larger.")
    points: int = strawberry.field(description="Per unit of a qualifying line.")
    family: str | None = None
    category: str | None = None


@strawberry.input
class AddOnInput:
    trigger: ItemMatchInput
    add_on: ItemMatchInput
    points: int


@strawberry.input
class SpendThresholdInput:
    threshold: int = strawberry.field(description="Subtotal in minor units.")
    points: int | None = None
    multiplier_percent: int | None = strawberry.field(
        default=None, description="200 doubles the base points."
    )


@strawberry.input
class BundleInput:
    items: list[ItemMatchInput]
    points: int = strawberry.field(description="Per complete set.")


@strawberry.input
class ProductBonusInput:
    target: ItemMatchInput
    points: int | None = strawberry.field(default=None, description="Per matching unit.")
    multiplier_percent: int | None = None


@strawberry.input(description="The thank-you code an accepted nudge of this rule gives.")
class RebateInput:
    amount_off: int | None = None
    percent_off: int | None = None
    min_spend: int | None = None
    days_valid: int | None = None


@strawberry.input(description="A rule; give the parameters object that matches its kind.")
class RuleInput:
    kind: RuleKind
    name: str
    priority: int = 0
    exclusive: bool = strawberry.field(
        default=False, description="Exclusive rules compete: only the most valuable one pays."
    )
    message: str = ""
    conditions: RuleConditionsInput | None = None
    caps: RuleCapsInput | None = None
    base_earn: BaseEarnInput | None = None
    upsize: UpsizeInput | None = None
    add_on: AddOnInput | None = None
    spend_threshold: SpendThresholdInput | None = None
    bundle: BundleInput | None = None
    product_bonus: ProductBonusInput | None = None
    rebate: RebateInput | None = None

    def draft(self) -> RuleDraft:
        spec = {
            camel(f.name): plain(getattr(self, f.name))
            for f in dataclasses.fields(self)
            if f.name not in TOP_LEVEL and getattr(self, f.name) is not None
        }
        return RuleDraft(
            kind=self.kind.value,
            name=self.name,
            spec=spec,
            priority=self.priority,
            exclusive=self.exclusive,
            message=self.message,
        )


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def plain(value: Any) -> Any:
    """An input value as JSON: objects with camelCase keys and no nulls."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            camel(f.name): plain(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if getattr(value, f.name) is not None
        }
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    return value
