"""Tiers, the qualifying points that reach them, and the tier each customer holds."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from loyalty.domain.lifecycle import Tier
from loyalty.store.database import Connection


async def list_tiers(conn: Connection) -> list[Tier]:
    rows = await conn.fetch(
        """
        SELECT name, qualifying_points, multiplier_percent, benefits
        FROM tiers ORDER BY qualifying_points
        """
    )
    return [Tier(**row) for row in rows]


async def lock_tiers(conn: Connection) -> None:
    """Admins replacing tiers take turns; readers never wait."""
    await conn.execute("LOCK TABLE tiers IN EXCLUSIVE MODE")


async def replace_tiers(conn: Connection, tiers: Sequence[Tier]) -> None:
    await conn.execute("DELETE FROM tiers")
    await conn.execute(
        """
        INSERT INTO tiers (name, qualifying_points, multiplier_percent, benefits)
        SELECT * FROM unnest($1::text[], $2::bigint[], $3::integer[], $4::text[])
        """,
        [t.name for t in tiers],
        [t.qualifying_points for t in tiers],
        [t.multiplier_percent for t in tiers],
        [t.benefits for t in tiers],
    )


async def move_holders(conn: Connection, old: str, new: str | None, lowest: bool) -> list[str]:
    """Move everyone holding a tier that no longer exists; return who moved.

    The lowest tier is never reviewed, so it keeps no end date.
    """
    rows = await conn.fetch(
        """
        UPDATE accounts SET tier = $2,
            tier_kept_through = CASE WHEN $3 THEN NULL ELSE tier_kept_through END
        WHERE tier = $1
        RETURNING customer_id, tier_kept_through
        """,
        old,
        new,
        lowest or new is None,
    )
    return [row["customer_id"] for row in rows]


async def add_qualifying(conn: Connection, customer_id: str, month: date, points: int) -> None:
    """Add qualifying points in the month they were earned."""
    await conn.execute(
        """
        INSERT INTO qualifying_points AS q (customer_id, month, points) VALUES ($1, $2, $3)
        ON CONFLICT (customer_id, month) DO UPDATE SET points = q.points + EXCLUDED.points
        """,
        customer_id,
        month,
        points,
    )


async def take_qualifying(conn: Connection, customer_id: str, month: date, points: int) -> None:
    """Take back qualifying points of a return from the month they were earned."""
    await conn.execute(
        """
        UPDATE qualifying_points SET points = greatest(points - $3, 0)
        WHERE customer_id = $1 AND month = $2
        """,
        customer_id,
        month,
        points,
    )


async def qualifying_months(conn: Connection, customer_id: str, since: date) -> dict[date, int]:
    rows = await conn.fetch(
        """
        SELECT month, points FROM qualifying_points
        WHERE customer_id = $1 AND month >= $2
        """,
        customer_id,
        since,
    )
    return {row["month"]: row["points"] for row in rows}


async def set_held_tier(
    conn: Connection, customer_id: str, tier: str | None, kept_through: date | None
) -> None:
    await conn.execute(
        "UPDATE accounts SET tier = $2, tier_kept_through = $3 WHERE customer_id = $1",
        customer_id,
        tier,
        kept_through,
    )


async def customers_due_for_review(conn: Connection, last_kept: date, limit: int) -> list[str]:
    """Customers whose tier was kept through last_kept or earlier."""
    rows = await conn.fetch(
        """
        SELECT customer_id FROM accounts
        WHERE tier_kept_through <= $1
        ORDER BY tier_kept_through LIMIT $2
        """,
        last_kept,
        limit,
    )
    return [row["customer_id"] for row in rows]
