"""Nudges shown (impressions), and their outcome once a purchase follows."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from loyalty.store.database import Connection


@dataclass(frozen=True)
class NudgeRow:
    id: uuid.UUID
    customer_id: str
    rule_id: int
    rule_version: int
    kind: str
    add_sku: str
    replace_sku: str | None
    quantity: int
    extra_cost: int
    points: int
    message: str
    expires_at: datetime
    outcome: str | None


NUDGE_COLUMNS = """
    id, customer_id, rule_id, rule_version, kind, add_sku, replace_sku, quantity, extra_cost,
    points, message, expires_at, outcome
"""


@dataclass(frozen=True)
class NewNudge:
    rule_id: int
    rule_version: int
    kind: str
    add_sku: str
    replace_sku: str | None
    quantity: int
    extra_cost: int
    points: int
    message: str


async def relax_durability(conn: Connection, customer_id: str) -> None:
    """Make sure the customer has an account, and commit this transaction without waiting for
    its WAL to reach disk (one round trip for both).

    Only for facts like impressions: a crash may lose the last few, never anything that
    moves points. The ledger's transactions keep the server's synchronous commit.
    """
    await conn.execute(
        """
        WITH relaxed AS (SELECT set_config('synchronous_commit', 'off', true))
        INSERT INTO accounts (customer_id) SELECT $1 FROM relaxed
        ON CONFLICT (customer_id) DO NOTHING
        """,
        customer_id,
    )


async def insert_nudges(
    conn: Connection,
    customer_id: str,
    store_id: str,
    channel: str,
    expires_at: datetime,
    nudges: Sequence[NewNudge],
) -> list[NudgeRow]:
    rows = await conn.fetch(
        f"""
        INSERT INTO nudges (customer_id, store_id, channel, expires_at, rule_id, rule_version,
                            kind, add_sku, replace_sku, quantity, extra_cost, points, message)
        SELECT $1, $2, $3, $4, n.rule_id, n.rule_version, n.kind, n.add_sku, n.replace_sku,
               n.quantity, n.extra_cost, n.points, n.message
        FROM unnest($5::bigint[], $6::integer[], $7::text[], $8::text[], $9::text[],
                    $10::integer[], $11::bigint[], $12::bigint[], $13::text[])
            WITH ORDINALITY AS n(rule_id, rule_version, kind, add_sku, replace_sku, quantity,
                                 extra_cost, points, message, position)
        ORDER BY n.position
        RETURNING {NUDGE_COLUMNS}
        """,
        customer_id,
        store_id,
        channel,
        expires_at,
        [n.rule_id for n in nudges],
        [n.rule_version for n in nudges],
        [n.kind for n in nudges],
        [n.add_sku for n in nudges],
        [n.replace_sku for n in nudges],
        [n.quantity for n in nudges],
        [n.extra_cost for n in nudges],
        [n.points for n in nudges],
        [n.message for n in nudges],
    )
    return [NudgeRow(**row) for row in rows]


async def lock_nudges(
    conn: Connection, customer_id: str, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, NudgeRow]:
    rows = await conn.fetch(
        f"""
        SELECT {NUDGE_COLUMNS} FROM nudges
        WHERE customer_id = $1 AND id = ANY($2::uuid[]) ORDER BY id FOR UPDATE
        """,
        customer_id,
        list(ids),
    )
    return {row["id"]: NudgeRow(**row) for row in rows}


async def settle(
    conn: Connection,
    customer_id: str,
    accepted: Sequence[uuid.UUID],
    purchase_id: int,
    now: datetime,
) -> None:
    """Mark the accepted nudges, and every other live one declined.

    Only live nudges are looked at (the partial index on open nudges keeps that to a few
    rows): a nudge that expired unanswered was neither taken nor turned down.
    """
    await conn.execute(
        """
        UPDATE nudges
        SET outcome = CASE WHEN id = ANY($2::uuid[]) THEN 'accepted' ELSE 'declined' END,
            decided_at = now(),
            purchase_id = CASE WHEN id = ANY($2::uuid[]) THEN $3::bigint END
        WHERE customer_id = $1 AND outcome IS NULL AND expires_at > $4::timestamptz
        """,
        customer_id,
        list(accepted),
        purchase_id,
        now,
    )


async def open_nudges(conn: Connection, customer_id: str, now: datetime) -> list[NudgeRow]:
    """The customer's live nudges nobody has answered yet: shown again rather than twice."""
    rows = await conn.fetch(
        f"""
        SELECT {NUDGE_COLUMNS} FROM nudges
        WHERE customer_id = $1 AND outcome IS NULL AND expires_at > $2
        ORDER BY shown_at
        """,
        customer_id,
        now,
    )
    return [NudgeRow(**row) for row in rows]


async def declined_counts(
    conn: Connection, customer_id: str, since: datetime
) -> dict[tuple[int, str], int]:
    rows = await conn.fetch(
        """
        SELECT rule_id, coalesce(replace_sku, '') || '>' || add_sku AS change, count(*) AS n
        FROM nudges
        WHERE customer_id = $1 AND outcome = 'declined' AND shown_at >= $2
        GROUP BY 1, 2
        """,
        customer_id,
        since,
    )
    return {(row["rule_id"], row["change"]): row["n"] for row in rows}


async def shelf_products(
    conn: Connection,
    families: Sequence[str],
    skus: Sequence[str],
    categories: Sequence[str],
    per_category: int,
) -> list[dict[str, object]]:
    """In one round trip: every size of the cart's families (sized = true), the named skus, and
    the cheapest few of each named category (sized = false)."""
    rows = await conn.fetch(
        """
        SELECT sku, name, category, price, family, size_rank, true AS sized FROM products
        WHERE family = ANY($1::text[])
        UNION ALL
        SELECT sku, name, category, price, family, size_rank, false FROM products
        WHERE sku = ANY($2::text[])
        UNION ALL
        SELECT sku, name, category, price, family, size_rank, false FROM (
            SELECT p.*, row_number() OVER (PARTITION BY category ORDER BY price, sku) AS n
            FROM products p WHERE category = ANY($3::text[])) ranked
        WHERE n <= $4
        """,
        list(families),
        list(skus),
        list(categories),
        per_category,
    )
    return [dict(row) for row in rows]


async def cheapest_at_least(conn: Connection, price: int) -> dict[str, object] | None:
    row = await conn.fetchrow(
        """
        SELECT sku, name, category, price, family, size_rank FROM products
        WHERE price >= $1 ORDER BY price, sku LIMIT 1
        """,
        price,
    )
    return dict(row) if row else None
