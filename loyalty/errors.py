"""Domain errors a client can act on; each docstring is its default message."""

from __future__ import annotations


class LoyaltyError(Exception):
    """The request cannot be carried out."""

    code = "LOYALTY_ERROR"

    def __init__(self, message: str | None = None) -> None:
        self.message = message or (self.__doc__ or self.code).strip()
        super().__init__(self.message)


class ValidationError(LoyaltyError):
    """The input is not valid."""

    code = "INVALID_INPUT"

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


class IdempotencyConflictError(LoyaltyError):
    """This idempotency key was already used for a different request."""

    code = "IDEMPOTENCY_CONFLICT"

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(
            f"{key!r} was already used for a different request; "
            "send the original request again or use a new key"
        )


class InsufficientPointsError(LoyaltyError):
    """The balance does not cover this."""

    code = "INSUFFICIENT_POINTS"

    def __init__(self, balance: int, requested: int) -> None:
        self.balance = balance
        self.requested = requested
        super().__init__(f"balance is {balance} points, {requested} points were requested")


class AuthenticationError(LoyaltyError):
    """A valid API key or customer token is required."""

    code = "UNAUTHENTICATED"


class UnavailableError(LoyaltyError):
    """The database is not reachable right now; retry shortly."""

    code = "UNAVAILABLE"


class RebateCodeNotFoundError(LoyaltyError):
    """No such rebate code."""

    code = "REBATE_CODE_NOT_FOUND"

    def __init__(self, text: str) -> None:
        self.text = text
        super().__init__(f"there is no rebate code {text}: check it with the customer")


class RebateCodeAlreadyRedeemedError(LoyaltyError):
    """This rebate code has already been used."""

    code = "REBATE_CODE_ALREADY_REDEEMED"

    def __init__(self, text: str) -> None:
        self.text = text
        super().__init__(
            f"rebate code {text} has already been used; ring the purchase up without it"
        )


class RebateCodeUnusableError(LoyaltyError):
    """This rebate code cannot be used here."""

    code = "REBATE_CODE_UNUSABLE"

    def __init__(self, text: str, reason: str) -> None:
        self.text = text
        self.reason = reason
        super().__init__(f"rebate code {text} cannot be used: {reason}")


class TooManyAttemptsError(LoyaltyError):
    """Too many wrong codes were tried; wait before trying again."""

    code = "TOO_MANY_ATTEMPTS"

    def __init__(self, retry_after: float) -> None:
        self.retry_after = retry_after
        super().__init__(
            f"too many wrong codes were tried from this key; try again in {retry_after:.0f} s"
        )


class PurchaseNotFoundError(LoyaltyError):
    """No purchase has this store and transaction id."""

    code = "PURCHASE_NOT_FOUND"

    def __init__(self, store_id: str, transaction_id: str) -> None:
        self.store_id = store_id
        self.transaction_id = transaction_id
        super().__init__(f"store {store_id} has no purchase {transaction_id!r}")


class RewardNotFoundError(LoyaltyError):
    """No active reward has this id."""

    code = "REWARD_NOT_FOUND"

    def __init__(self, reward_id: str) -> None:
        self.reward_id = reward_id
        super().__init__(f"there is no reward {reward_id!r} on offer")


class VoucherUnusableError(LoyaltyError):
    """This voucher cannot be used."""

    code = "VOUCHER_UNUSABLE"

    def __init__(self, text: str, reason: str) -> None:
        self.text = text
        self.reason = reason
        super().__init__(f"voucher {text} cannot be used: {reason}")
