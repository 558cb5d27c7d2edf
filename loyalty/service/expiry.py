"""Expiring points, and the scheduled job that also reviews tiers."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from loyalty.errors import UnavailableError
from loyalty.service import lots as lot_service
from loyalty.service.rulebook import RuleBook
from loyalty.service.tiers import Reviewed, review_tiers
from loyalty.store import accounts, lots
from loyalty.store.database import Connection, Pool, connection, transaction

log = logging.getLogger("loyalty.expiry")
BATCH = 500


@dataclass(frozen=True)
class Expired:
    customers: int
    entries: int
    points: int


async def expire_points(pool: Pool, book: RuleBook, now: datetime | None = None) -> Expired:
    """Write an expire entry for every lot whose day has ended, and empty the lot.

    Each customer's lots go in that customer's own transaction, under the account lock, so
    a purchase or redemption never sees half of it; an emptied lot is never expired again.
    """
    now = now or datetime.now(UTC)
    tz = (await book.current()).timezone
    customers = entries = points = 0
    while True:
        async with connection(pool) as conn:
            due = await lots.customers_with_expired_lots(conn, now, BATCH)
        for customer_id in due:
            async with transaction(pool) as conn:
                count, total = await _expire_customer(conn, customer_id, now, tz)
            customers += count > 0
            entries += count
            points += total
        if not due:
            return Expired(customers, entries, points)


async def _expire_customer(
    conn: Connection, customer_id: str, now: datetime, tz: tzinfo
) -> tuple[int, int]:
    account = await accounts.lock_account(conn, customer_id)
    if account is None:
        return 0, 0
    expired = await lot_service.expire_due(conn, tz, account.customer_id, account.balance, now)
    return expired.entries, expired.points


async def run_lifecycle(
    pool: Pool, book: RuleBook, now: datetime | None = None
) -> tuple[Expired, Reviewed]:
    now = now or datetime.now(UTC)
    return await expire_points(pool, book, now), await review_tiers(pool, book, now)


async def lifecycle_forever(pool: Pool, book: RuleBook, every: float) -> None:
    """The server's scheduled task: expire points and review tiers, then sleep.

    Both are safe to run in every process at once: each customer is done under the
    account lock, and what is done is never done again.
    """
    while True:
        try:
            expired, reviewed = await run_lifecycle(pool, book)
            if expired.entries or reviewed.reviewed:
                log.info("lifecycle: %s, %s", expired, reviewed)
        except UnavailableError:
            log.warning("lifecycle not run: the database is unavailable")
        except Exception:
            log.exception("lifecycle not run; trying again later")
        await asyncio.sleep(every)
