"""Lots under the ledger: earnings become lots, and spending takes from them in order.

The open lots add up to the balance whenever it is not negative: a credit first pays off
any debt, and a debit that finds the lots empty leaves the rest as debt.
"""

from __future__ import annotations

from datetime import datetime

from loyalty.domain.lifecycle import expiry_of, maturity_of
from loyalty.service.rulebook import Compiled
from loyalty.store import lots
from loyalty.store.database import Connection
from loyalty.store.lots import LotRow

PAGE = 32


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
    own_purchase_id: int | None = None,
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

    if own_purchase_id is not None:
        own = await lots.lock_purchase_lot(conn, customer_id, own_purchase_id)
        if own is not None:
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


async def pending_points(conn: Connection, customer_id: str, now: datetime) -> int:
    return await lots.pending_points(conn, customer_id, now)
