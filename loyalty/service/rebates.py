"""Rebate codes: issuing them, checking them, and redeeming one inside a purchase."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from loyalty.domain.access import SYSTEM, Actor
from loyalty.domain.cart import MAX_UNIT_PRICE, validate_identifier
from loyalty.domain.codes import REBATE, new_code, parse_code, shown
from loyalty.domain.rebates import Rebate
from loyalty.errors import (
    RebateCodeAlreadyRedeemedError,
    RebateCodeNotFoundError,
    RebateCodeUnusableError,
    TooManyAttemptsError,
    ValidationError,
)
from loyalty.service.changes import record_change
from loyalty.service.idempotency import claim_or_replay, fingerprint, save_result
from loyalty.service.throttle import FailureThrottle
from loyalty.store import accounts, outbox, rebates
from loyalty.store.database import Connection, Pool, connection, transaction
from loyalty.store.rebates import NewRebate

ISSUE_SCOPE = "rebate"
CODE_ISSUED = "CODE_ISSUED"
MAX_DAYS_VALID = 366
T = TypeVar("T")


@dataclass(frozen=True)
class RebateOffer:
    """What a code gives: an amount or a percentage off, from a minimum spend, for some days."""

    amount_off: int | None = None
    percent_off: int | None = None
    min_spend: int = 0
    days_valid: int = 30
    bound: bool = True

    def checked(self) -> RebateOffer:
        if (self.amount_off is None) == (self.percent_off is None):
            raise ValidationError("amountOff", "give amountOff or percentOff, not both")
        if self.amount_off is not None and not 0 < self.amount_off <= MAX_UNIT_PRICE:
            raise ValidationError("amountOff", f"amountOff must be 1 to {MAX_UNIT_PRICE}")
        if self.percent_off is not None and not 0 < self.percent_off <= 100:
            raise ValidationError("percentOff", "percentOff must be 1 to 100")
        if not 0 <= self.min_spend <= MAX_UNIT_PRICE:
            raise ValidationError("minSpend", f"minSpend must be 0 to {MAX_UNIT_PRICE}")
        if not 1 <= self.days_valid <= MAX_DAYS_VALID:
            raise ValidationError("daysValid", f"daysValid must be 1 to {MAX_DAYS_VALID}")
        return self


async def issue(
    conn: Connection,
    customer_id: str,
    offer: RebateOffer,
    now: datetime,
    rule_id: int | None = None,
    earned_by: tuple[int, str] | None = None,
) -> Rebate:
    """A new code for the customer, inside the caller's transaction; earned_by is the purchase
    and item that earned it, so that returning the item withdraws it."""
    # Events of one customer are written in the order their transactions commit.
    await accounts.lock_or_open_account(conn, customer_id)
    new = NewRebate(
        code=new_code(REBATE).canonical,
        customer_id=customer_id,
        bound=offer.bound,
        amount_off=offer.amount_off,
        percent_off=offer.percent_off,
        min_spend=offer.min_spend,
        expires_at=now + timedelta(days=offer.days_valid),
        rule_id=rule_id,
        issued_purchase_id=earned_by[0] if earned_by else None,
        issued_for_sku=earned_by[1] if earned_by else None,
    )
    rebate = await rebates.insert_code(conn, new)
    event = {"code": shown(rebate.code), "kind": "REBATE", "purchaseId": new.issued_purchase_id}
    await outbox.add_events(conn, customer_id, [(CODE_ISSUED, event)])
    return rebate


async def issue_rebate_code(
    pool: Pool, customer_id: str, offer: RebateOffer, idempotency_key: str, actor: Actor = SYSTEM
) -> tuple[Rebate, bool]:
    """An admin's goodwill code; (the code, whether this answers a retry)."""
    customer_id = validate_identifier("customerId", customer_id)
    idempotency_key = validate_identifier("idempotencyKey", idempotency_key)
    offer = offer.checked()
    request_hash = fingerprint([customer_id, offer.__dict__])
    async with transaction(pool) as conn:
        stored = await claim_or_replay(
            conn, ISSUE_SCOPE, idempotency_key, customer_id, request_hash
        )
        if stored is not None:
            found = await rebates.get_code(conn, stored["code"])
            assert found is not None, "an idempotency key points at a missing code"
            return found, True
        rebate = await issue(conn, customer_id, offer, datetime.now(UTC))
        await save_result(conn, ISSUE_SCOPE, idempotency_key, {"code": rebate.code})
        # The code itself is a bearer credential: the log keeps only its last characters.
        after = {**dataclasses.asdict(rebate), "code": shown(rebate.code)[-4:]}
        await record_change(conn, actor, "issueRebateCode", ("customer", customer_id), None, after)
        return rebate, False


async def guarded(
    throttle: FailureThrottle, who: str, attempt: Callable[[], Coroutine[Any, Any, T]]
) -> T:
    """Run a code look-up for a caller, counting the ones that name no code."""
    if (wait := throttle.wait_for(who)) > 0:
        raise TooManyAttemptsError(wait)
    try:
        return await attempt()
    except (RebateCodeNotFoundError, ValidationError) as error:
        if isinstance(error, ValidationError) and error.field != "rebateCode":
            raise
        throttle.failed(who)
        # Look-ups that ran side by side (aliases in one request) all passed the check above;
        # past the free few, a miss is answered as a wait, not as a verdict on the code.
        if throttle.over_limit(who):
            raise TooManyAttemptsError(throttle.wait_for(who)) from error
        raise


def read_code(text: str) -> str:
    code = parse_code(text, field="rebateCode")
    if code.prefix != REBATE:
        raise ValidationError("rebateCode", f"a rebate code starts with {REBATE}-")
    return code.canonical


async def check_rebate_code(
    pool: Pool, text: str, customer_id: str | None, subtotal: int | None
) -> tuple[Rebate, str | None]:
    """The code and why it could not be used now (None when it could); nothing is written.

    A customer asking about a code bound to someone else is told it does not exist.
    """
    code = read_code(text)
    async with connection(pool) as conn:
        rebate = await rebates.get_code(conn, code)
    if rebate is None or (
        customer_id is not None and rebate.bound and rebate.customer_id != customer_id
    ):
        raise RebateCodeNotFoundError(text)
    return rebate, rebate.refusal(customer_id, subtotal, datetime.now(UTC))


async def redeem_in_purchase(
    conn: Connection, code: str, customer_id: str, subtotal: int, at: datetime
) -> Rebate:
    """Lock the code for this purchase's transaction and check it can be used; the caller
    marks it redeemed once the purchase has an id. A concurrent redemption waits on the lock
    and then finds it used."""
    rebate = await rebates.lock_code(conn, code)
    if rebate is None:
        raise RebateCodeNotFoundError(code)
    refusal = rebate.refusal(customer_id, subtotal, at)
    if rebate.state_at(at) == "redeemed":
        raise RebateCodeAlreadyRedeemedError(str(parse_code(code)))
    if refusal is not None:
        raise RebateCodeUnusableError(str(parse_code(code)), refusal)
    return rebate


async def codes_of(pool: Pool, customer_id: str, limit: int = 50) -> list[Rebate]:
    async with connection(pool) as conn:
        return await rebates.codes_of(conn, customer_id, limit)
