"""Refreshing the statistics nudges rank by, and reading them back."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from loyalty.store.database import Connection

LOCK_ID = 0x57A75  # one refresh at a time, whichever process runs it


async def try_lock_refresh(conn: Connection) -> bool:
    locked: bool = await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", LOCK_ID)
    return locked


async def refresh_co_purchases(conn: Connection, since: datetime) -> int:
    await conn.execute("DELETE FROM co_purchases")
    status = await conn.execute(
        """
        INSERT INTO co_purchases (sku, with_sku, purchases)
        SELECT a.sku, b.sku, count(DISTINCT (a.customer_id, a.purchase_id))
        FROM purchases p
        JOIN purchase_lines a ON a.customer_id = p.customer_id AND a.purchase_id = p.id
        JOIN purchase_lines b ON b.customer_id = p.customer_id AND b.purchase_id = p.id
        WHERE p.occurred_at >= $1 AND a.sku <> b.sku
        GROUP BY a.sku, b.sku
        """,
        since,
    )
    return int(status.split()[-1])


async def refresh_nudge_rates(conn: Connection, since: datetime) -> int:
    await conn.execute("DELETE FROM nudge_rates")
    status = await conn.execute(
        """
        INSERT INTO nudge_rates (rule_id, shown, accepted)
        SELECT rule_id, count(*), count(*) FILTER (WHERE outcome = 'accepted')
        FROM nudges WHERE shown_at >= $1 GROUP BY rule_id
        """,
        since,
    )
    return int(status.split()[-1])


async def refresh_discount_only(
    conn: Connection, since: datetime, min_purchases: int, min_share_percent: int
) -> int:
    """Customers whose recent purchases nearly all used a rebate code."""
    await conn.execute("DELETE FROM customer_segments WHERE segment = 'discount_only'")
    status = await conn.execute(
        """
        INSERT INTO customer_segments (customer_id, segment)
        SELECT customer_id, 'discount_only' FROM purchases
        WHERE occurred_at >= $1
        GROUP BY customer_id
        HAVING count(*) >= $2
           AND count(rebate_code) * 100 >= count(*) * $3
        """,
        since,
        min_purchases,
        min_share_percent,
    )
    return int(status.split()[-1])


async def refresh_mostly_returns(
    conn: Connection, since: datetime, min_purchases: int, min_share_percent: int
) -> int:
    """Customers who bring back most of what they buy, by amount."""
    await conn.execute("DELETE FROM customer_segments WHERE segment = 'mostly_returns'")
    status = await conn.execute(
        """
        INSERT INTO customer_segments (customer_id, segment)
        SELECT p.customer_id, 'mostly_returns'
        FROM (SELECT customer_id, count(*) AS purchases, sum(subtotal) AS bought
              FROM purchases WHERE occurred_at >= $1 GROUP BY customer_id) p
        JOIN (SELECT customer_id, sum(amount) AS returned
              FROM returns WHERE created_at >= $1 GROUP BY customer_id) r USING (customer_id)
        WHERE p.purchases >= $2 AND r.returned * 100 >= p.bought * $3
        """,
        since,
        min_purchases,
        min_share_percent,
    )
    return int(status.split()[-1])


async def segments_of(conn: Connection, customer_id: str) -> set[str]:
    rows = await conn.fetch(
        "SELECT segment FROM customer_segments WHERE customer_id = $1", customer_id
    )
    return {row["segment"] for row in rows}


async def bought_with(
    conn: Connection, cart_skus: Sequence[str], candidates: Sequence[str]
) -> dict[str, int]:
    """For each candidate, the most purchases it shared with any sku of the cart."""
    rows = await conn.fetch(
        """
        SELECT with_sku, max(purchases) AS purchases FROM co_purchases
        WHERE sku = ANY($1::text[]) AND with_sku = ANY($2::text[])
        GROUP BY with_sku
        """,
        list(cart_skus),
        list(candidates),
    )
    return {row["with_sku"]: row["purchases"] for row in rows}


async def nudge_rates(conn: Connection, rule_ids: Sequence[int]) -> dict[int, tuple[int, int]]:
    rows = await conn.fetch(
        "SELECT rule_id, shown, accepted FROM nudge_rates WHERE rule_id = ANY($1::bigint[])",
        list(rule_ids),
    )
    return {row["rule_id"]: (row["shown"], row["accepted"]) for row in rows}
