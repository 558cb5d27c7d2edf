"""Write operations: each returns a union of its success and the errors a client can act on."""

from __future__ import annotations

from typing import Annotated

import strawberry

from loyalty import errors as domain
from loyalty import service
from loyalty.api import errors
from loyalty.api.auth import IsAdmin, IsAnyone, IsStaff, bound_elsewhere
from loyalty.api.carts import CartInput, QuoteResult, asks_for_reasons, cart_of
from loyalty.api.context import Info
from loyalty.api.lifecycle import LifecycleMutation
from loyalty.api.purchases import PurchaseMutation
from loyalty.api.rules import RuleInput
from loyalty.api.scalars import BigInt
from loyalty.api.types import (
    LedgerEntry,
    Quote,
    RebateCode,
    Reward,
    Rule,
    Voucher,
)
from loyalty.api.webhooks import WebhooksMutation
from loyalty.domain.access import Role
from loyalty.domain.codes import parse_code


@strawberry.input(description="A goodwill code; give amountOff or percentOff.")
class IssueRebateCodeInput:
    customer_id: str
    idempotency_key: str
    amount_off: int | None = None
    percent_off: int | None = None
    min_spend: int = 0
    days_valid: int = 30
    bound_to_customer: bool = True


@strawberry.type
class RebateCodeIssued:
    rebate_code: RebateCode
    replayed: bool


IssueRebateCodeResult = Annotated[
    RebateCodeIssued | errors.InvalidInputError | errors.IdempotencyConflictError,
    strawberry.union("IssueRebateCodeResult"),
]


@strawberry.input
class ProductInput:
    sku: str
    name: str
    category: str
    price: int = strawberry.field(description="List price in minor units.")
    family: str | None = None
    size_rank: int | None = strawberry.field(
        default=None, description="Larger is bigger within a family: S=1, M=2, L=3, XL=4."
    )


@strawberry.type
class ProductsUpserted:
    count: int


UpsertProductsResult = Annotated[
    ProductsUpserted | errors.InvalidInputError, strawberry.union("UpsertProductsResult")
]


@strawberry.input
class AdjustPointsInput:
    customer_id: str
    points: int = strawberry.field(description="Positive to add, negative to take.")
    reason: str
    idempotency_key: str
    allow_negative_balance: bool = False


@strawberry.type
class PointsAdjusted:
    entry: LedgerEntry
    balance: BigInt
    replayed: bool


AdjustPointsResult = Annotated[
    PointsAdjusted
    | errors.InvalidInputError
    | errors.IdempotencyConflictError
    | errors.InsufficientPointsError,
    strawberry.union("AdjustPointsResult"),
]


@strawberry.input
class ReturnLineInput:
    sku: str
    quantity: int


@strawberry.input
class ReturnInput:
    store_id: str
    transaction_id: str = strawberry.field(description="The purchase's, as the POS posted it.")
    return_id: str = strawberry.field(description="The POS's own id for the return.")
    lines: list[ReturnLineInput]


@strawberry.type
class ReturnRecorded:
    customer_id: str
    amount: int = strawberry.field(description="What the returned lines cost, minor units.")
    points_reversed: BigInt
    balance: BigInt
    in_debt: bool = strawberry.field(
        description="The points were spent already: the balance is below zero."
    )
    revoked_rebate_codes: list[str] = strawberry.field(
        description="Unused thank-you codes the returned items had earned."
    )
    replayed: bool


RecordReturnResult = Annotated[
    ReturnRecorded
    | errors.InvalidInputError
    | errors.PurchaseNotFoundError
    | errors.IdempotencyConflictError
    | errors.StoreNotAllowedError,
    strawberry.union("RecordReturnResult"),
]


@strawberry.type
class RewardCreated:
    reward: Reward


CreateRewardResult = Annotated[
    RewardCreated | errors.InvalidInputError, strawberry.union("CreateRewardResult")
]


@strawberry.type
class RewardRedeemed:
    voucher: Voucher
    balance: BigInt
    replayed: bool


RedeemRewardResult = Annotated[
    RewardRedeemed
    | errors.InsufficientPointsError
    | errors.RewardNotFoundError
    | errors.InvalidInputError
    | errors.IdempotencyConflictError,
    strawberry.union("RedeemRewardResult"),
]


@strawberry.type
class VoucherUsed:
    voucher: Voucher


UseVoucherResult = Annotated[
    VoucherUsed | errors.VoucherUnusableError | errors.InvalidInputError,
    strawberry.union("UseVoucherResult"),
]


@strawberry.type
class NudgeLimits:
    add_on_max_percent: int
    spend_gap_max_percent: int


NudgeLimitsResult = Annotated[
    NudgeLimits | errors.InvalidInputError, strawberry.union("NudgeLimitsResult")
]


@strawberry.type
class RuleSaved:
    rule: Rule


RuleResult = Annotated[
    RuleSaved | errors.InvalidInputError | errors.RuleNotFoundError,
    strawberry.union("RuleResult"),
]


@strawberry.type
class Mutation(PurchaseMutation, LifecycleMutation, WebhooksMutation):
    @strawberry.mutation(
        permission_classes=[IsStaff],
        description="Take back lines of a purchase; their points go back, in proportion.",
    )
    async def record_return(self, info: Info, input: ReturnInput) -> RecordReturnResult:
        if bound_elsewhere(info, input.store_id):
            return errors.store_not_allowed(input.store_id)
        request = service.ReturnRequest(
            store_id=input.store_id,
            transaction_id=input.transaction_id,
            return_id=input.return_id,
            lines=tuple((line.sku, line.quantity) for line in input.lines),
        )
        try:
            outcome = await service.record_return(info.context.pool, info.context.rulebook, request)
        except domain.ValidationError as error:
            return errors.invalid_input(error)
        except domain.PurchaseNotFoundError as error:
            return errors.purchase_not_found(error)
        except domain.IdempotencyConflictError as error:
            return errors.idempotency_conflict(error)
        return ReturnRecorded(
            customer_id=outcome.customer_id,
            amount=outcome.amount,
            points_reversed=BigInt(outcome.points),
            balance=BigInt(outcome.balance),
            in_debt=outcome.in_debt,
            revoked_rebate_codes=[str(parse_code(code)) for code in outcome.revoked_codes],
            replayed=outcome.replayed,
        )

    @strawberry.mutation(permission_classes=[IsAdmin], description="Add a reward to the catalog.")
    async def create_reward(
        self,
        info: Info,
        name: str,
        points_cost: int,
        description: str = "",
        days_valid: int = 30,
    ) -> CreateRewardResult:
        try:
            row = await service.create_reward(
                info.context.pool, name, description, points_cost, days_valid, info.context.actor
            )
        except domain.ValidationError as error:
            return errors.invalid_input(error)
        return RewardCreated(reward=Reward.from_row(row))

    @strawberry.mutation(
        permission_classes=[IsAnyone],
        description="Spend points on a reward; a customer token spends its own points.",
    )
    async def redeem_reward(
        self,
        info: Info,
        reward_id: strawberry.ID,
        idempotency_key: str,
        customer_id: str | None = None,
    ) -> RedeemRewardResult:
        principal = info.context.principal
        if principal is not None and principal.role is Role.CUSTOMER:
            customer_id = principal.customer_id
        try:
            if customer_id is None:
                raise domain.ValidationError("customerId", "say whose points to spend")
            try:
                reward_number = int(reward_id)
            except ValueError as error:
                raise domain.RewardNotFoundError(str(reward_id)) from error
            done = await service.redeem_reward(
                info.context.pool,
                info.context.rulebook,
                customer_id,
                reward_number,
                idempotency_key,
            )
        except domain.ValidationError as error:
            return errors.invalid_input(error)
        except domain.InsufficientPointsError as error:
            return errors.insufficient_points(error)
        except domain.RewardNotFoundError as error:
            return errors.RewardNotFoundError(
                code=error.code, message=error.message, reward_id=error.reward_id
            )
        except domain.IdempotencyConflictError as error:
            return errors.idempotency_conflict(error)
        return RewardRedeemed(
            voucher=Voucher.from_rows(done.voucher, done.reward),
            balance=BigInt(done.balance),
            replayed=done.replayed,
        )

    @strawberry.mutation(permission_classes=[IsStaff], description="Honour a voucher, once.")
    async def use_voucher(self, info: Info, code: str, store_id: str) -> UseVoucherResult:
        if bound_elsewhere(info, store_id):
            return errors.invalid_input(
                domain.ValidationError("storeId", "this key is bound to another store")
            )
        try:
            voucher, reward = await service.use_voucher(info.context.pool, code, store_id)
        except domain.ValidationError as error:
            return errors.invalid_input(error)
        except domain.VoucherUnusableError as error:
            return errors.VoucherUnusableError(
                code=error.code, message=error.message, voucher_code=error.text, reason=error.reason
            )
        return VoucherUsed(voucher=Voucher.from_rows(voucher, reward))

    @strawberry.mutation(permission_classes=[IsAdmin])
    async def upsert_products(
        self, info: Info, products: list[ProductInput]
    ) -> UpsertProductsResult:
        rows = [
            service.ProductRow(p.sku, p.name, p.category, p.family, p.size_rank, p.price)
            for p in products
        ]
        try:
            count = await service.upsert_products(info.context.pool, rows, info.context.actor)
        except domain.ValidationError as error:
            return errors.invalid_input(error)
        return ProductsUpserted(count=count)

    @strawberry.mutation(permission_classes=[IsAdmin])
    async def adjust_points(self, info: Info, input: AdjustPointsInput) -> AdjustPointsResult:
        try:
            outcome = await service.adjust_points(
                info.context.pool,
                info.context.rulebook,
                customer_id=input.customer_id,
                points=input.points,
                reason=input.reason,
                idempotency_key=input.idempotency_key,
                allow_debt=input.allow_negative_balance,
                actor=info.context.actor,
            )
        except domain.ValidationError as error:
            return errors.invalid_input(error)
        except domain.IdempotencyConflictError as error:
            return errors.idempotency_conflict(error)
        except domain.InsufficientPointsError as error:
            return errors.insufficient_points(error)
        return PointsAdjusted(
            entry=LedgerEntry.from_row(outcome.entry),
            balance=BigInt(outcome.balance),
            replayed=outcome.replayed,
        )

    @strawberry.mutation(permission_classes=[IsAdmin])
    async def issue_rebate_code(
        self, info: Info, input: IssueRebateCodeInput
    ) -> IssueRebateCodeResult:
        offer = service.RebateOffer(
            amount_off=input.amount_off,
            percent_off=input.percent_off,
            min_spend=input.min_spend,
            days_valid=input.days_valid,
            bound=input.bound_to_customer,
        )
        try:
            rebate, replayed = await service.issue_rebate_code(
                info.context.pool,
                input.customer_id,
                offer,
                input.idempotency_key,
                info.context.actor,
            )
        except domain.ValidationError as error:
            return errors.invalid_input(error)
        except domain.IdempotencyConflictError as error:
            return errors.idempotency_conflict(error)
        return RebateCodeIssued(rebate_code=RebateCode.from_rebate(rebate), replayed=replayed)

    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Tune the nudge guardrails: percentages of the cart and of a threshold.",
    )
    async def set_nudge_limits(
        self, info: Info, add_on_max_percent: int = 10, spend_gap_max_percent: int = 15
    ) -> NudgeLimitsResult:
        try:
            await service.set_nudge_limits(
                info.context.pool,
                info.context.rulebook,
                add_on_max_percent,
                spend_gap_max_percent,
                info.context.actor,
            )
        except domain.ValidationError as error:
            return errors.invalid_input(error)
        return NudgeLimits(
            add_on_max_percent=add_on_max_percent, spend_gap_max_percent=spend_gap_max_percent
        )

    @strawberry.mutation(permission_classes=[IsAdmin], description="Create a rule (version 1).")
    async def create_rule(self, info: Info, input: RuleInput) -> RuleResult:
        try:
            row = await service.create_rule(
                info.context.pool, info.context.rulebook, input.draft(), info.context.actor
            )
        except domain.ValidationError as error:
            return errors.invalid_input(error)
        return RuleSaved(rule=Rule.from_row(row))

    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Replace a rule with a new version; past purchases keep the old one.",
    )
    async def update_rule(self, info: Info, id: strawberry.ID, input: RuleInput) -> RuleResult:
        try:
            row = await service.update_rule(
                info.context.pool,
                info.context.rulebook,
                errors.rule_id(id),
                input.draft(),
                info.context.actor,
            )
        except domain.ValidationError as error:
            return errors.invalid_input(error)
        except service.RuleNotFoundError as error:
            return errors.rule_not_found(error)
        return RuleSaved(rule=Rule.from_row(row))

    @strawberry.mutation(permission_classes=[IsAdmin], description="Retire a rule for good.")
    async def archive_rule(self, info: Info, id: strawberry.ID) -> RuleResult:
        try:
            row = await service.archive_rule(
                info.context.pool, info.context.rulebook, errors.rule_id(id), info.context.actor
            )
        except service.RuleNotFoundError as error:
            return errors.rule_not_found(error)
        return RuleSaved(rule=Rule.from_row(row))

    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Quote a cart with draft rules that are not saved (ids -1, -2, ...).",
    )
    async def simulate(
        self,
        info: Info,
        cart: CartInput,
        rules: list[RuleInput],
        replace_active: bool = False,
    ) -> QuoteResult:
        try:
            outcome = await service.simulate(
                info.context.pool,
                info.context.rulebook,
                cart_of(info, cart),
                [rule.draft() for rule in rules],
                replace_active=replace_active,
                reasons=asks_for_reasons(info),
            )
        except domain.ValidationError as error:
            return errors.invalid_input(error)
        return Quote.from_outcome(outcome)
