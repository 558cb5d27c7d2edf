"""Accounts and their ledgers: reading them, and admin adjustments."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from loyalty.domain.access import SYSTEM, Actor
from loyalty.domain.cart import validate_identifier
from loyalty.errors import InsufficientPointsError, ValidationError
from loyalty.service import lots
from loyalty.service.changes import record_change
from loyalty.service.idempotency import claim_or_replay, fingerprint, save_result
from loyalty.service.rulebook import Compiled, RuleBook
from loyalty.store import accounts, ledger, outbox
from loyalty.store.accounts import AccountRow
from loyalty.store.database import Connection, Pool, connection, transaction
from loyalty.store.ledger import EntryRow

ADJUST_SCOPE = "adjust"
POINTS_ADJUSTED = "POINTS_ADJUSTED"
MAX_ADJUSTMENT = 1_000_000_000
MAX_PAGE = 100


@dataclass(frozen=True)
class AdjustOutcome:
    entry: EntryRow
    balance: int
    replayed: bool


@dataclass(frozen=True)
class LedgerPage:
    entries: list[EntryRow]
    has_next: bool


async def adjust_points(
    pool: Pool,
    book: RuleBook,
    *,
    customer_id: str,
    points: int,
    reason: str,
    idempotency_key: str,
    allow_debt: bool = False,
    actor: Actor = SYSTEM,
) -> AdjustOutcome:
    customer_id = validate_identifier("customerId", customer_id)
    idempotency_key = validate_identifier("idempotencyKey", idempotency_key)
    reason = reason.strip()
    if not 0 < abs(points) <= MAX_ADJUSTMENT:
        raise ValidationError("points", f"points must be non-zero and at most {MAX_ADJUSTMENT}")
    if not 0 < len(reason) <= 500:
        raise ValidationError("reason", "a reason of 1 to 500 characters is required")
    request_hash = fingerprint([customer_id, points, reason, allow_debt])
    compiled = await book.current()
    async with transaction(pool) as conn:
        stored = await claim_or_replay(
            conn, ADJUST_SCOPE, idempotency_key, customer_id, request_hash
        )
        replayed = stored is not None
        if stored is None:
            change = Adjustment(customer_id, points, reason, allow_debt)
            stored = await _adjust(conn, compiled, change, idempotency_key)
            if "refused" not in stored:
                was = {"balance": stored["balance"] - points}
                now = {**stored, "points": points, "reason": reason, "allowDebt": allow_debt}
                subject = ("customer", customer_id)
                await record_change(conn, actor, "adjustPoints", subject, was, now)
        entry = None
        if "refused" not in stored:
            entry = await ledger.get_entry(conn, customer_id, stored["entry_id"])
    # Raised after the commit, so the refusal stays recorded under its key.
    if entry is None:
        raise InsufficientPointsError(stored["refused"]["balance"], stored["refused"]["requested"])
    return AdjustOutcome(entry, stored["balance"], replayed)


@dataclass(frozen=True)
class Adjustment:
    customer_id: str
    points: int
    reason: str
    allow_debt: bool


async def _adjust(
    conn: Connection, compiled: Compiled, change: Adjustment, key: str
) -> dict[str, Any]:
    customer_id, points = change.customer_id, change.points
    account = await accounts.lock_account(conn, customer_id)
    now = datetime.now(UTC)
    before = 0
    if account is not None:
        before = (
            await lots.expire_due(conn, compiled.timezone, customer_id, account.balance, now)
        ).balance
    if before + points < 0 and not change.allow_debt:
        # A refusal is a result too: the same request with this key gets it again. It opens
        # no account: a customer never seen stays unseen.
        result: dict[str, Any] = {"refused": {"balance": before, "requested": -points}}
    else:
        if account is None:
            await accounts.lock_or_open_account(conn, customer_id)
        balance = await accounts.change_balance(conn, customer_id, points)
        entry = ledger.NewEntry(
            "adjust", points, reason=change.reason, debt_allowed=change.allow_debt
        )
        [row] = await ledger.insert_entries(conn, customer_id, [entry], balance)
        if points > 0:
            await lots.credit(
                conn,
                compiled,
                customer_id,
                points=points,
                balance_before=before,
                earned_at=now,
                pending=False,
            )
        else:
            await lots.debit(conn, customer_id, -points, now)
        event = {"points": points, "balance": balance, "reason": change.reason}
        await outbox.add_events(conn, customer_id, [(POINTS_ADJUSTED, event)])
        result = {"entry_id": row.id, "balance": balance}
    await save_result(conn, ADJUST_SCOPE, key, result)
    return result


async def accounts_by_ids(pool: Pool, customer_ids: Sequence[str]) -> list[AccountRow | None]:
    async with connection(pool) as conn:
        found = await accounts.get_accounts(conn, list(customer_ids))
    return [found.get(customer_id) for customer_id in customer_ids]


async def ledger_page(
    pool: Pool, customer_id: str, first: int, before_id: int | None
) -> LedgerPage:
    if not 1 <= first <= MAX_PAGE:
        raise ValidationError("first", f"first must be between 1 and {MAX_PAGE}")
    async with connection(pool) as conn:
        rows = await ledger.list_entries(conn, customer_id, before_id, first + 1)
    return LedgerPage(rows[:first], has_next=len(rows) > first)
