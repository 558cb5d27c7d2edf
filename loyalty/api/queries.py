"""Read operations for apps, POS and admins."""

from __future__ import annotations

from typing import Annotated

import strawberry

from loyalty import errors as domain
from loyalty import service
from loyalty.api import errors
from loyalty.api.analytics import AnalyticsQuery
from loyalty.api.auth import IsAnyone, IsCustomer, IsStaff
from loyalty.api.carts import CartInput, QuoteResult, asks_for_reasons, cart_of
from loyalty.api.changes import ChangesQuery
from loyalty.api.context import Info
from loyalty.api.lifecycle import LifecycleQuery
from loyalty.api.types import Customer, Nudge, Product, Quote, RebateCode, Reward, Rule
from loyalty.api.webhooks import WebhooksQuery
from loyalty.domain.access import Role


@strawberry.type
class NudgeList:
    nudges: list[Nudge]


NudgesResult = Annotated[NudgeList | errors.InvalidInputError, strawberry.union("NudgesResult")]

RebateCodeResult = Annotated[
    RebateCode
    | errors.InvalidInputError
    | errors.RebateCodeNotFoundError
    | errors.TooManyAttemptsError,
    strawberry.union("RebateCodeResult"),
]


@strawberry.type
class Query(LifecycleQuery, ChangesQuery, AnalyticsQuery, WebhooksQuery):
    @strawberry.field(
        permission_classes=[IsCustomer],
        description="The signed-in customer's account (customer token).",
    )
    async def me(self, info: Info) -> Customer:
        principal = info.context.principal
        assert principal is not None and principal.customer_id is not None
        row = await info.context.loaders.accounts.load(principal.customer_id)
        return Customer.from_row(row) if row else Customer.newcomer(principal.customer_id)

    @strawberry.field(
        permission_classes=[IsStaff],
        description="A customer's account by the merchant's id; null if never seen.",
    )
    async def customer(self, info: Info, id: str) -> Customer | None:
        row = await info.context.loaders.accounts.load(id)
        return Customer.from_row(row) if row else None

    @strawberry.field(permission_classes=[IsAnyone], description="The catalog, by sku.")
    async def products(
        self,
        info: Info,
        first: int = 50,
        after: str | None = None,
        category: str | None = None,
    ) -> list[Product]:
        rows = await service.list_products(info.context.pool, first, after, category)
        return [Product.from_row(row) for row in rows]

    @strawberry.field(
        permission_classes=[IsAnyone],
        description="What a cart would earn now, by rule, and why other rules would not pay.",
    )
    async def quote(self, info: Info, cart: CartInput) -> QuoteResult:
        try:
            outcome = await service.quote(
                info.context.pool,
                info.context.rulebook,
                cart_of(info, cart),
                reasons=asks_for_reasons(info),
            )
        except domain.ValidationError as error:
            return errors.invalid_input(error)
        return Quote.from_outcome(outcome)

    @strawberry.field(
        permission_classes=[IsAnyone],
        description="Check a rebate code without using it; give a subtotal to check its minimum.",
    )
    async def rebate_code(
        self,
        info: Info,
        code: str,
        customer_id: str | None = None,
        subtotal: int | None = None,
    ) -> RebateCodeResult:
        context = info.context
        principal = context.principal
        if principal is not None and principal.role is Role.CUSTOMER:
            customer_id = principal.customer_id
        try:
            rebate, refusal = await service.guarded(
                context.throttle,
                context.caller,
                lambda: service.check_rebate_code(context.pool, code, customer_id, subtotal),
            )
        except domain.ValidationError as error:
            return errors.invalid_input(error)
        except (domain.RebateCodeNotFoundError, domain.TooManyAttemptsError) as error:
            result = errors.rebate_error(error)
            assert isinstance(result, errors.RebateCodeNotFoundError | errors.TooManyAttemptsError)
            return result
        return RebateCode.from_rebate(rebate, refusal)

    @strawberry.field(
        permission_classes=[IsAnyone],
        description="The best nudge for a cart (or up to `limit`), recorded as shown.",
    )
    async def nudges(self, info: Info, cart: CartInput, limit: int = 1) -> NudgesResult:
        try:
            rows = await service.nudges_for(
                info.context.pool, info.context.rulebook, cart_of(info, cart), limit
            )
        except domain.ValidationError as error:
            return errors.invalid_input(error)
        return NudgeList(nudges=[Nudge.from_row(row) for row in rows])

    @strawberry.field(
        permission_classes=[IsAnyone], description="Rewards on offer, cheapest first."
    )
    async def rewards(self, info: Info) -> list[Reward]:
        return [Reward.from_row(row) for row in await service.list_rewards(info.context.pool)]

    @strawberry.field(permission_classes=[IsStaff], description="Rules, oldest first.")
    async def rules(self, info: Info, include_archived: bool = False) -> list[Rule]:
        rows = await service.list_rules(info.context.pool, include_archived)
        return [Rule.from_row(row) for row in rows]

    @strawberry.field(permission_classes=[IsStaff])
    async def rule(self, info: Info, id: strawberry.ID) -> Rule | None:
        try:
            rule_id = errors.rule_id(id)
        except service.RuleNotFoundError:
            return None
        row = await service.get_rule(info.context.pool, rule_id)
        return Rule.from_row(row) if row else None
