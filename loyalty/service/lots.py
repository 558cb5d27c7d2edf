"""Lots under the ledger: earnings become lots, and spending takes from them in order.

The open lots add up to the balance whenever it is not negative: a credit first pays off
any debt, and a debit that finds the lots empty leaves the rest as debt.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo

from loyalty.domain.lifecycle import expiry_of, local_day, maturity_of
from loyalty.service.rulebook import Compiled
from loyalty.store import accounts, ledger, lots, outbox
from loyalty.store.database import Connection
from loyalty.store.lots import LotRow

PAGE = 32
POINTS_EXPIRED = "POINTS_EXPIRED"


@dataclass(frozen=True)
class Expiry:
    entries: int
    points: int
    balance: int


async def credit(
    conn: Connection,
    compiled: Compiled,
    customer_id: str,
    *,
    points: int,
    balance_before: int,
    earned_at: datetime,
    pending: bool,
    purchase_id: int | None = None,
) -> None:
    """Open a lot for points just added to a balance that was balance_before."""
    remaining = points - min(points, max(-balance_before, 0))
    if remaining <= 0:
        return
    tz = compiled.timezone
    policy = compiled.points
    await lots.insert_lot(
        conn,
        customer_id,
        points=points,
        remaining=remaining,
        earned_at=earned_at,
        available_at=maturity_of(earned_at, tz, policy.pending_days) if pending else earned_at,
        expires_at=expiry_of(earned_at, tz, policy.expiry_months),
        purchase_id=purchase_id,
    )


async def debit(
    conn: Connection,
    customer_id: str,
    points: int,
    now: datetime,
    *,
    own: LotRow | None = None,
) -> None:
    """Take points from lots: a purchase's own lot first (a return), then matured lots that
    expire first, then lots still pending. What they do not hold is the account's debt."""
    taken: dict[int, int] = {}
    wanted = points

    def take(lot: LotRow) -> None:
        nonlocal wanted
        part = min(lot.remaining - taken.get(lot.id, 0), wanted)
        if part > 0:
            taken[lot.id] = taken.get(lot.id, 0) + part
            wanted -= part

    if own is not None and own.remaining > 0:
        take(own)
    after: tuple[datetime | None, int] | None = None
    while wanted > 0:
        page = await lots.lock_spendable_lots(conn, customer_id, now, after, PAGE)
        for lot in page:
            take(lot)
        if len(page) < PAGE:
            break
        after = (page[-1].expires_at, page[-1].id)
    if wanted > 0:
        for lot in await lots.lock_pending_lots(conn, customer_id, now):
            take(lot)
    if taken:
        await lots.take_from_lots(conn, customer_id, list(taken.items()))


async def unspendable(conn: Connection, customer_id: str, now: datetime) -> int:
    """Points in the balance that cannot be spent now: pending, or past their last day."""
    pending, lapsed = (await lots.unspendable(conn, [customer_id], now)).get(customer_id, (0, 0))
    return pending + lapsed


async def expire_due(
    conn: Connection, tz: tzinfo, customer_id: str, balance: int, now: datetime
) -> Expiry:
    """Expire the lots whose last day has ended, one entry each; the account is locked.

    Every debit calls this first, so points past their day are never spent or taken back
    in place of live ones, whether or not the scheduled job has reached them yet.
    """
    due = await lots.lock_expired_lots(conn, customer_id, now)
    if not due:
        return Expiry(0, 0, balance)
    total = sum(lot.remaining for lot in due)
    await lots.expire_lots(conn, customer_id, [lot.id for lot in due])
    balance = await accounts.change_balance(conn, customer_id, -total)
    entries = [
        ledger.NewEntry(
            "expire",
            -lot.remaining,
            lot.purchase_id,
            reason=f"points earned {local_day(lot.earned_at, tz):%Y-%m-%d} expired",
        )
        for lot in due
    ]
    await ledger.insert_entries(conn, customer_id, entries, balance)
    await outbox.add_events(
        conn, customer_id, [(POINTS_EXPIRED, {"points": total, "balance": balance})]
    )
    return Expiry(len(entries), total, balance)


async def own_lot(conn: Connection, customer_id: str, purchase_id: int) -> LotRow | None:
    """The lot a purchase opened, locked: a return settles with it first."""
    return await lots.lock_purchase_lot(conn, customer_id, purchase_id)


async def already_expired(
    conn: Connection, customer_id: str, own: LotRow | None, points: int
) -> int:
    """How much of a return's points the purchase already lost to expiry, now settled: the
    return takes only the rest, so no point is taken twice."""
    settled = min(points, own.expired) if own else 0
    if own is not None and settled > 0:
        await lots.settle_expired(conn, customer_id, own.id, settled)
    return settled
