"""The statistics job: co-purchases, nudge acceptance and segments, from the raw facts."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from loyalty.errors import UnavailableError
from loyalty.store import stats
from loyalty.store.database import Pool, transaction

log = logging.getLogger("loyalty.stats")
WINDOW = timedelta(days=180)
DISCOUNT_ONLY_MIN_PURCHASES = 3
DISCOUNT_ONLY_SHARE_PERCENT = 80
MOSTLY_RETURNS_MIN_PURCHASES = 2
MOSTLY_RETURNS_SHARE_PERCENT = 50


@dataclass(frozen=True)
class Refreshed:
    co_purchases: int
    nudge_rates: int
    discount_only: int
    mostly_returns: int


async def refresh_stats(pool: Pool, now: datetime | None = None) -> Refreshed | None:
    """Recompute every statistic in one transaction; None if another process is at it."""
    since = (now or datetime.now(UTC)) - WINDOW
    async with transaction(pool) as conn:
        if not await stats.try_lock_refresh(conn):
            return None
        return Refreshed(
            co_purchases=await stats.refresh_co_purchases(conn, since),
            nudge_rates=await stats.refresh_nudge_rates(conn, since),
            discount_only=await stats.refresh_discount_only(
                conn, since, DISCOUNT_ONLY_MIN_PURCHASES, DISCOUNT_ONLY_SHARE_PERCENT
            ),
            mostly_returns=await stats.refresh_mostly_returns(
                conn, since, MOSTLY_RETURNS_MIN_PURCHASES, MOSTLY_RETURNS_SHARE_PERCENT
            ),
        )


async def refresh_forever(pool: Pool, every: float) -> None:
    """The server's background task: refresh, then sleep; a database outage only delays it."""
    while True:
        try:
            done = await refresh_stats(pool)
            if done is not None:
                log.info("statistics refreshed: %s", done)
        except UnavailableError:
            log.warning("statistics not refreshed: the database is unavailable")
        except Exception:
            log.exception("statistics not refreshed; trying again later")
        await asyncio.sleep(every)
