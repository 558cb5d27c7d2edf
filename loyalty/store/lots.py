"""Point lots: what each earning has left, when it matures and when it expires."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from loyalty.store.database import Connection

LOT_COLUMNS = "id, purchase_id, points, remaining, earned_at, available_at, expires_at, expired"


@dataclass(frozen=True)
class LotRow:
    id: int
    purchase_id: int | None
    points: int
    remaining: int
    earned_at: datetime
    available_at: datetime
    expires_at: datetime | None
    expired: int


@dataclass(frozen=True)
class ExpiringRow:
    expires_at: datetime
    points: int


async def insert_lot(
    conn: Connection,
    customer_id: str,
    *,
    points: int,
    remaining: int,
    earned_at: datetime,
    available_at: datetime,
    expires_at: datetime | None,
    purchase_id: int | None = None,
) -> None:
    await conn.execute(
        """
        INSERT INTO point_lots
            (customer_id, purchase_id, points, remaining, earned_at, available_at, expires_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        """,
        customer_id,
        purchase_id,
        points,
        remaining,
        earned_at,
        available_at,
        expires_at,
    )


SPEND_ORDER = "coalesce(expires_at, 'infinity'::timestamptz), id"
SPENDABLE = f"""
    SELECT {LOT_COLUMNS} FROM point_lots
    WHERE customer_id = $1 AND remaining > 0 AND available_at <= $2
    ORDER BY {SPEND_ORDER}
    LIMIT $3
    FOR UPDATE
"""
SPENDABLE_AFTER = f"""
    SELECT {LOT_COLUMNS} FROM point_lots
    WHERE customer_id = $1 AND remaining > 0 AND available_at <= $2
      AND ({SPEND_ORDER}) > (coalesce($4::timestamptz, 'infinity'::timestamptz), $5)
    ORDER BY {SPEND_ORDER}
    LIMIT $3
    FOR UPDATE
"""


async def lock_spendable_lots(
    conn: Connection,
    customer_id: str,
    now: datetime,
    after: tuple[datetime | None, int] | None,
    limit: int,
) -> list[LotRow]:
    """Matured open lots in the order spending takes them: expiring first, lasting last.

    A keyset page after (expires_at, id) that the index bounds: spending reads only as many
    lots as it needs, however many are open.
    """
    if after is None:
        rows = await conn.fetch(SPENDABLE, customer_id, now, limit)
    else:
        rows = await conn.fetch(SPENDABLE_AFTER, customer_id, now, limit, after[0], after[1])
    return [LotRow(**row) for row in rows]


async def lock_pending_lots(conn: Connection, customer_id: str, now: datetime) -> list[LotRow]:
    """Lots still inside the return window, maturing first: never more than the window holds."""
    rows = await conn.fetch(
        f"""
        SELECT {LOT_COLUMNS} FROM point_lots
        WHERE customer_id = $1 AND remaining > 0 AND available_at > $2
        ORDER BY available_at, id
        FOR UPDATE
        """,
        customer_id,
        now,
    )
    return [LotRow(**row) for row in rows]


async def lock_purchase_lot(conn: Connection, customer_id: str, purchase_id: int) -> LotRow | None:
    row = await conn.fetchrow(
        f"""
        SELECT {LOT_COLUMNS} FROM point_lots
        WHERE customer_id = $1 AND purchase_id = $2
        FOR UPDATE
        """,
        customer_id,
        purchase_id,
    )
    return LotRow(**row) if row else None


async def take_from_lots(
    conn: Connection, customer_id: str, taken: Sequence[tuple[int, int]]
) -> None:
    """Lower each (lot id, points) lot's remaining points."""
    await conn.execute(
        """
        UPDATE point_lots l SET remaining = l.remaining - t.points
        FROM unnest($2::bigint[], $3::bigint[]) AS t(id, points)
        WHERE l.customer_id = $1 AND l.id = t.id
        """,
        customer_id,
        [lot_id for lot_id, _ in taken],
        [points for _, points in taken],
    )


async def expire_lots(conn: Connection, customer_id: str, lot_ids: Sequence[int]) -> None:
    """Write off what the lots have left."""
    await conn.execute(
        """
        UPDATE point_lots SET expired = expired + remaining, remaining = 0
        WHERE customer_id = $1 AND id = ANY($2::bigint[])
        """,
        customer_id,
        list(lot_ids),
    )


async def settle_expired(conn: Connection, customer_id: str, lot_id: int, points: int) -> None:
    """A return accounted for points its purchase had already lost to expiry."""
    await conn.execute(
        "UPDATE point_lots SET expired = expired - $3 WHERE customer_id = $1 AND id = $2",
        customer_id,
        lot_id,
        points,
    )


async def unspendable(
    conn: Connection, customer_ids: Sequence[str], now: datetime
) -> dict[str, tuple[int, int]]:
    """Per customer: points still pending, and points past their last day not yet written off.

    One statement for both, reading only lots in the return window or past their day.
    """
    rows = await conn.fetch(
        """
        SELECT customer_id,
               coalesce(sum(remaining) FILTER (WHERE available_at > $2), 0)::bigint AS pending,
               coalesce(sum(remaining) FILTER (
                   WHERE coalesce(expires_at, 'infinity'::timestamptz) <= $2), 0)::bigint
                   AS lapsed
        FROM point_lots
        WHERE customer_id = ANY($1::text[]) AND remaining > 0
          AND (available_at > $2 OR coalesce(expires_at, 'infinity'::timestamptz) <= $2)
        GROUP BY customer_id
        """,
        list(customer_ids),
        now,
    )
    return {row["customer_id"]: (row["pending"], row["lapsed"]) for row in rows}


async def expiring(
    conn: Connection, customer_id: str, now: datetime, limit: int
) -> list[ExpiringRow]:
    """The next expiry instants and the points that go at each."""
    rows = await conn.fetch(
        f"""
        SELECT expires_at, sum(remaining)::bigint AS points
        FROM (
            SELECT expires_at, remaining FROM point_lots
            WHERE customer_id = $1 AND remaining > 0 AND expires_at IS NOT NULL
              AND coalesce(expires_at, 'infinity'::timestamptz) > $2
            ORDER BY {SPEND_ORDER}
            LIMIT 1000
        ) open
        GROUP BY expires_at ORDER BY expires_at LIMIT $3
        """,
        customer_id,
        now,
        limit,
    )
    return [ExpiringRow(**row) for row in rows]


async def customers_with_expired_lots(conn: Connection, now: datetime, limit: int) -> list[str]:
    rows = await conn.fetch(
        """
        SELECT DISTINCT customer_id FROM (
            SELECT customer_id FROM point_lots
            WHERE remaining > 0 AND expires_at <= $1
            ORDER BY expires_at LIMIT $2
        ) due
        """,
        now,
        limit,
    )
    return [row["customer_id"] for row in rows]


async def lock_expired_lots(conn: Connection, customer_id: str, now: datetime) -> list[LotRow]:
    rows = await conn.fetch(
        f"""
        SELECT {LOT_COLUMNS} FROM point_lots
        WHERE customer_id = $1 AND remaining > 0 AND expires_at <= $2
        ORDER BY expires_at, id
        FOR UPDATE
        """,
        customer_id,
        now,
    )
    return [LotRow(**row) for row in rows]
