"""Purchases from the POS: one as it is rung up, or a batch from a till that was offline."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import strawberry

from loyalty import errors as domain
from loyalty import service
from loyalty.api import errors
from loyalty.api.auth import IsStaff, bound_elsewhere
from loyalty.api.carts import PurchaseLineInput
from loyalty.api.context import Info
from loyalty.api.lifecycle import TierChange
from loyalty.api.scalars import BigInt
from loyalty.api.types import (
    Channel,
    NudgeClaimRejected,
    Purchase,
    PurchaseLine,
    RebateCode,
    RuleAward,
    RuleReason,
)
from loyalty.domain.engine import Reason

MAX_BATCH = 500


@strawberry.input
class PurchaseInput:
    customer_id: str
    store_id: str
    transaction_id: str = strawberry.field(
        description="The POS's own id; with storeId it makes a retry safe."
    )
    occurred_at: datetime
    lines: list[PurchaseLineInput]
    channel: Channel = Channel.POS
    rebate_code: str | None = strawberry.field(
        default=None, description="Redeemed with the purchase, or the purchase is refused."
    )
    accepted_nudge_ids: list[strawberry.ID] = strawberry.field(
        default_factory=list, description="Nudges the customer took; each claim is checked."
    )


@strawberry.type
class PurchaseRecorded:
    purchase: Purchase
    points_earned: BigInt
    awards: list[RuleAward] = strawberry.field(description="Every rule that paid, and how much.")
    raw_reasons: strawberry.Private[list[Reason]]
    balance: BigInt = strawberry.field(description="The balance right after this purchase.")
    unknown_skus: list[str] = strawberry.field(description="Skus not in the catalog.")
    replayed: bool = strawberry.field(description="True when this answers a retry.")
    lines: list[PurchaseLine]
    discount: int = strawberry.field(description="Minor units the rebate code took off.")
    amount_due: int = strawberry.field(description="subtotal - discount, in minor units.")
    rebate_code: RebateCode | None = strawberry.field(description="The code redeemed.")
    accepted_nudge_ids: list[strawberry.ID] = strawberry.field(
        description="Claims that held: the purchase made the change the nudge suggested."
    )
    rejected_nudge_claims: list[NudgeClaimRejected] = strawberry.field(
        description="Claims that did not hold; they earned nothing extra."
    )
    rebate_codes_issued: list[RebateCode] = strawberry.field(
        description="Thank-you codes for the nudges taken, for a later visit."
    )
    tier_change: TierChange | None = strawberry.field(
        description="Set when this purchase moved the customer up a tier."
    )

    @strawberry.field(description="Why the other rules did not pay.")
    def reasons(self) -> list[RuleReason]:
        # Built only when asked for: a large program gives most carts a reason per rule.
        return [RuleReason.from_reason(reason) for reason in self.raw_reasons]


RecordPurchaseResult = Annotated[
    PurchaseRecorded
    | errors.InvalidInputError
    | errors.IdempotencyConflictError
    | errors.StoreNotAllowedError
    | errors.RebateCodeNotFoundError
    | errors.RebateCodeAlreadyRedeemedError
    | errors.RebateCodeUnusableError
    | errors.TooManyAttemptsError,
    strawberry.union("RecordPurchaseResult"),
]


@strawberry.type
class BatchPurchaseResult:
    index: int = strawberry.field(description="The purchase's position in the request.")
    transaction_id: str
    result: RecordPurchaseResult


@strawberry.type
class PurchasesRecorded:
    results: list[BatchPurchaseResult] = strawberry.field(
        description="One per purchase, in the order they were sent."
    )
    recorded: int = strawberry.field(description="Purchases written by this request.")
    replayed: int = strawberry.field(description="Purchases that were already recorded.")
    refused: int = strawberry.field(description="Purchases answered with an error.")


RecordPurchasesResult = Annotated[
    PurchasesRecorded | errors.InvalidInputError, strawberry.union("RecordPurchasesResult")
]


@strawberry.type
class PurchaseMutation:
    @strawberry.mutation(permission_classes=[IsStaff])
    async def record_purchase(self, info: Info, input: PurchaseInput) -> RecordPurchaseResult:
        return await record_one(info, input)

    @strawberry.mutation(
        permission_classes=[IsStaff],
        description=f"Up to {MAX_BATCH} purchases from a till catching up: each applied on its "
        "own, oldest first, and each safe to send again; one refused purchase sinks no other.",
    )
    async def record_purchases(
        self, info: Info, purchases: list[PurchaseInput]
    ) -> RecordPurchasesResult:
        if not 1 <= len(purchases) <= MAX_BATCH:
            return errors.invalid_input(
                domain.ValidationError("purchases", f"send 1 to {MAX_BATCH} purchases at once")
            )
        results: dict[int, RecordPurchaseResult] = {}
        for index in sorted(range(len(purchases)), key=lambda i: (_instant(purchases[i]), i)):
            results[index] = await record_one(info, purchases[index])
        recorded = [r for r in results.values() if isinstance(r, PurchaseRecorded)]
        replayed = sum(r.replayed for r in recorded)
        return PurchasesRecorded(
            results=[
                BatchPurchaseResult(
                    index=index, transaction_id=purchase.transaction_id, result=results[index]
                )
                for index, purchase in enumerate(purchases)
            ],
            recorded=len(recorded) - replayed,
            replayed=replayed,
            refused=len(purchases) - len(recorded),
        )


def _instant(purchase: PurchaseInput) -> datetime:
    """The order a batch is applied in; a time without an offset is refused on its turn."""
    at = purchase.occurred_at
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


async def record_one(info: Info, input: PurchaseInput) -> RecordPurchaseResult:
    if bound_elsewhere(info, input.store_id):
        return errors.store_not_allowed(input.store_id)
    request = service.PurchaseRequest(
        customer_id=input.customer_id,
        store_id=input.store_id,
        transaction_id=input.transaction_id,
        channel=input.channel.value,
        occurred_at=input.occurred_at,
        lines=tuple(service.CartLine(li.sku, li.quantity, li.unit_price) for li in input.lines),
        rebate_code=input.rebate_code,
        accepted_nudge_ids=tuple(str(i) for i in input.accepted_nudge_ids),
    )
    context = info.context
    try:
        if request.rebate_code is None:
            outcome = await service.record_purchase(context.pool, context.rulebook, request)
        else:
            outcome = await service.guarded(
                context.throttle,
                context.caller,
                lambda: service.record_purchase(context.pool, context.rulebook, request),
            )
    except domain.ValidationError as error:
        return errors.invalid_input(error)
    except domain.IdempotencyConflictError as error:
        return errors.idempotency_conflict(error)
    except errors.REBATE_ERRORS as error:
        return errors.rebate_error(error)
    return PurchaseRecorded(
        purchase=Purchase.from_row(outcome.purchase),
        points_earned=BigInt(outcome.points),
        awards=[RuleAward.from_award(award) for award in outcome.awards],
        raw_reasons=outcome.reasons,
        balance=BigInt(outcome.balance),
        unknown_skus=outcome.unknown_skus,
        replayed=outcome.replayed,
        lines=[PurchaseLine.from_row(line) for line in outcome.lines],
        discount=outcome.purchase.discount,
        amount_due=outcome.purchase.subtotal - outcome.purchase.discount,
        rebate_code=await _redeemed(info, outcome.purchase.rebate_code),
        accepted_nudge_ids=[strawberry.ID(i) for i in outcome.claims.accepted],
        rejected_nudge_claims=[
            NudgeClaimRejected(nudge_id=nudge_id, reason=reason)
            for nudge_id, reason in outcome.claims.rejected
        ],
        rebate_codes_issued=[RebateCode.from_rebate(code) for code in outcome.claims.codes],
        tier_change=TierChange.of(outcome.tier_change) if outcome.tier_change else None,
    )


async def _redeemed(info: Info, code: str | None) -> RebateCode | None:
    if code is None:
        return None
    rebate, _ = await service.check_rebate_code(info.context.pool, code, None, None)
    return RebateCode.from_rebate(rebate)
