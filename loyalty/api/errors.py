"""Errors a client can act on, as schema types; everything else is a bug and is masked."""

from __future__ import annotations

import logging
from collections.abc import Callable

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaskErrors

from loyalty import errors as domain
from loyalty import service
from loyalty.api.scalars import BigInt

log = logging.getLogger("loyalty.errors")


@strawberry.interface
class Error:
    code: str
    message: str


@strawberry.type
class InvalidInputError(Error):
    field: str = strawberry.field(description="The input field at fault, e.g. lines[2].quantity.")


@strawberry.type
class IdempotencyConflictError(Error):
    idempotency_key: str


@strawberry.type
class InsufficientPointsError(Error):
    balance: BigInt
    requested: BigInt


@strawberry.type
class StoreNotAllowedError(Error):
    store_id: str


@strawberry.type
class RuleNotFoundError(Error):
    rule_id: strawberry.ID


def rule_id(id: strawberry.ID) -> int:
    """A rule id from the client; one that cannot exist is simply not found."""
    try:
        number = int(id)
    except ValueError:
        number = 0
    if not 0 < number < 2**63:
        raise service.RuleNotFoundError(str(id))
    return number


def rule_not_found(error: service.RuleNotFoundError) -> RuleNotFoundError:
    return RuleNotFoundError(
        code=error.code, message=error.message, rule_id=strawberry.ID(error.rule_id)
    )


@strawberry.type
class RewardNotFoundError(Error):
    reward_id: str


@strawberry.type
class VoucherUnusableError(Error):
    voucher_code: str
    reason: str


@strawberry.type
class PurchaseNotFoundError(Error):
    store_id: str
    transaction_id: str


def purchase_not_found(error: domain.PurchaseNotFoundError) -> PurchaseNotFoundError:
    return PurchaseNotFoundError(
        code=error.code,
        message=error.message,
        store_id=error.store_id,
        transaction_id=error.transaction_id,
    )


@strawberry.type
class RebateCodeNotFoundError(Error):
    rebate_code: str


@strawberry.type(description="The code was used already; ring the purchase up without it.")
class RebateCodeAlreadyRedeemedError(Error):
    rebate_code: str


@strawberry.type(description="Expired, withdrawn, another customer's, or below its minimum spend.")
class RebateCodeUnusableError(Error):
    rebate_code: str
    reason: str


@strawberry.type(description="Too many wrong codes from this key: wait, then try again.")
class TooManyAttemptsError(Error):
    retry_after_seconds: int


def rebate_error(
    error: domain.LoyaltyError,
) -> (
    RebateCodeNotFoundError
    | RebateCodeAlreadyRedeemedError
    | RebateCodeUnusableError
    | TooManyAttemptsError
):
    if isinstance(error, domain.RebateCodeAlreadyRedeemedError):
        return RebateCodeAlreadyRedeemedError(
            code=error.code, message=error.message, rebate_code=error.text
        )
    if isinstance(error, domain.RebateCodeUnusableError):
        return RebateCodeUnusableError(
            code=error.code, message=error.message, rebate_code=error.text, reason=error.reason
        )
    if isinstance(error, domain.TooManyAttemptsError):
        return TooManyAttemptsError(
            code=error.code,
            message=error.message,
            retry_after_seconds=max(1, round(error.retry_after)),
        )
    assert isinstance(error, domain.RebateCodeNotFoundError)
    return RebateCodeNotFoundError(code=error.code, message=error.message, rebate_code=error.text)


REBATE_ERRORS = (
    domain.RebateCodeNotFoundError,
    domain.RebateCodeAlreadyRedeemedError,
    domain.RebateCodeUnusableError,
    domain.TooManyAttemptsError,
)


def invalid_input(error: domain.ValidationError) -> InvalidInputError:
    return InvalidInputError(code=error.code, message=error.message, field=error.field)


def idempotency_conflict(error: domain.IdempotencyConflictError) -> IdempotencyConflictError:
    return IdempotencyConflictError(
        code=error.code, message=error.message, idempotency_key=error.key
    )


def insufficient_points(error: domain.InsufficientPointsError) -> InsufficientPointsError:
    return InsufficientPointsError(
        code=error.code,
        message=error.message,
        balance=BigInt(error.balance),
        requested=BigInt(error.requested),
    )


def store_not_allowed(store_id: str) -> StoreNotAllowedError:
    return StoreNotAllowedError(
        code="STORE_NOT_ALLOWED",
        message=f"this API key is bound to another store and cannot post for {store_id!r}",
        store_id=store_id,
    )


def is_expected(error: GraphQLError) -> bool:
    """Parse, validation, permission and domain errors are the client's to read."""
    original = error.original_error
    return original is None or isinstance(original, GraphQLError | domain.LoyaltyError)


class ErrorPolicy(MaskErrors):
    """Codes on the errors clients may see; bugs logged in full and masked in production."""

    def __init__(self, mask: bool) -> None:
        should_mask: Callable[[GraphQLError], bool] = (
            (lambda error: not is_expected(error)) if mask else (lambda error: False)
        )
        super().__init__(should_mask_error=should_mask, error_message="Internal server error.")

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        for error in errors:
            original = error.original_error
            if isinstance(original, domain.LoyaltyError):
                error.extensions = {**(error.extensions or {}), "code": original.code}
            elif not is_expected(error):
                log.error("unexpected error in %s", error.path, exc_info=original)
        return super()._process_errors(errors)
