"""Returns: points go back with the lines, and a thank-you code with the item that earned it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from loyalty.domain.cart import MAX_LINES, MAX_QUANTITY, validate_identifier
from loyalty.domain.codes import shown
from loyalty.domain.returns import SoldLine, plan_return
from loyalty.errors import PurchaseNotFoundError, ValidationError
from loyalty.service import lots, tiers
from loyalty.service.idempotency import claim_or_replay, fingerprint, save_result
from loyalty.service.rulebook import Compiled, RuleBook
from loyalty.store import accounts, ledger, outbox, rebates, returns
from loyalty.store.database import Connection, Pool, transaction
from loyalty.store.purchases import PurchaseRow

RETURN_SCOPE = "return"
POINTS_REVERSED = "POINTS_REVERSED"
CODE_REVOKED = "CODE_REVOKED"


@dataclass(frozen=True)
class ReturnRequest:
    store_id: str
    transaction_id: str  # the purchase's, as the POS posted it
    return_id: str  # the POS's own id for this return: a retry is safe
    lines: tuple[tuple[str, int], ...]  # sku, quantity


@dataclass(frozen=True)
class ReturnOutcome:
    customer_id: str
    amount: int
    points: int
    balance: int
    revoked_codes: list[str]
    replayed: bool

    @property
    def in_debt(self) -> bool:
        return self.balance < 0


def check_return(request: ReturnRequest) -> ReturnRequest:
    if not 0 < len(request.lines) <= MAX_LINES:
        raise ValidationError("lines", f"a return has 1 to {MAX_LINES} lines")
    lines = []
    for index, (sku, quantity) in enumerate(request.lines):
        if not 0 < quantity <= MAX_QUANTITY:
            raise ValidationError(
                f"lines[{index}].quantity", f"quantity must be 1 to {MAX_QUANTITY}"
            )
        lines.append((validate_identifier(f"lines[{index}].sku", sku), quantity))
    return ReturnRequest(
        store_id=validate_identifier("storeId", request.store_id),
        transaction_id=validate_identifier("transactionId", request.transaction_id),
        return_id=validate_identifier("returnId", request.return_id),
        lines=tuple(lines),
    )


async def record_return(
    pool: Pool, book: RuleBook, request: ReturnRequest, now: datetime | None = None
) -> ReturnOutcome:
    request = check_return(request)
    compiled = await book.current()
    key = f"{request.store_id}\x1f{request.return_id}"
    content = [request.transaction_id, sorted(request.lines)]
    async with transaction(pool) as conn:
        purchase = await returns.find_purchase(conn, request.store_id, request.transaction_id)
        if purchase is None:
            raise PurchaseNotFoundError(request.store_id, request.transaction_id)
        stored = await claim_or_replay(
            conn,
            RETURN_SCOPE,
            key,
            purchase.customer_id,
            fingerprint(content),
            shown_key=request.return_id,
        )
        if stored is None:
            stored = await _take_back(
                conn, compiled, purchase, request, key, now or datetime.now(UTC)
            )
            replayed = False
        else:
            replayed = True
    return ReturnOutcome(
        customer_id=purchase.customer_id,
        amount=stored["amount"],
        points=stored["points"],
        balance=stored["balance"],
        revoked_codes=stored["revoked_codes"],
        replayed=replayed,
    )


async def _take_back(
    conn: Connection,
    compiled: Compiled,
    purchase: PurchaseRow,
    request: ReturnRequest,
    key: str,
    now: datetime,
) -> dict[str, Any]:
    customer_id, purchase_id = purchase.customer_id, purchase.id
    # The account lock orders this customer's writes; the line locks, returns of one purchase.
    account = await accounts.lock_account(conn, customer_id)
    assert account is not None
    sold = [
        SoldLine(**line.__dict__)
        for line in await returns.lock_lines(conn, customer_id, purchase_id)
    ]
    back = plan_return(sold, request.lines)
    points = sum(line.points for line in back)
    amount = sum(line.amount for line in back)
    await returns.mark_returned(
        conn, customer_id, purchase_id, [(b.line_no, b.quantity, b.points) for b in back]
    )
    expired = await lots.expire_due(conn, compiled.timezone, customer_id, account.balance, now)
    balance = expired.balance
    await tiers.unqualify(conn, compiled, customer_id, purchase.occurred_at, points)
    # Points the purchase already lost to expiry are gone; the return does not take them again.
    own = await lots.own_lot(conn, customer_id, purchase_id)
    points -= await lots.already_expired(conn, customer_id, own, points)
    if points:
        # Points already spent leave a debt: the account shows it rather than hide the return.
        balance = await accounts.change_balance(conn, customer_id, -points)
        entry = ledger.NewEntry(
            "reverse",
            -points,
            purchase_id,
            reason=f"return {request.return_id}",
            debt_allowed=True,
        )
        await ledger.insert_entries(conn, customer_id, [entry], balance)
        await lots.debit(conn, customer_id, points, now, own=own)
    await returns.insert_return(
        conn, customer_id, purchase_id, request.store_id, request.return_id, amount, points
    )
    revoked = await rebates.revoke_for_items(
        conn, customer_id, purchase_id, sorted({b.sku for b in back})
    )
    event = {
        "purchaseId": purchase_id,
        "returnId": request.return_id,
        "points": points,
        "balance": balance,
    }
    await outbox.add_events(
        conn,
        customer_id,
        [(POINTS_REVERSED, event), *[(CODE_REVOKED, {"code": shown(code)}) for code in revoked]],
    )
    result = {"amount": amount, "points": points, "balance": balance, "revoked_codes": revoked}
    await save_result(conn, RETURN_SCOPE, key, result)
    return result
