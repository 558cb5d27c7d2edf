"""The outbox: events written in the transaction that caused them, for subscribers to read."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from loyalty.store.database import Connection

CHANNEL = "loyalty_outbox"
# A NOTIFY payload holds under 8000 bytes; a longer customer id is sent as "" (anyone).
MAX_NOTIFIED_ID_BYTES = 1000


@dataclass(frozen=True)
class EventRow:
    id: int
    customer_id: str
    kind: str
    payload: dict[str, Any]
    created_at: datetime


async def add_events(
    conn: Connection, customer_id: str, events: Sequence[tuple[str, dict[str, Any]]]
) -> None:
    if not events:
        return
    # The NOTIFY is delivered when the transaction commits, and only if it does.
    await conn.execute(
        """
        WITH added AS (
            INSERT INTO outbox (customer_id, kind, payload)
            SELECT $1, e.kind, e.payload::jsonb
            FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS e(kind, payload, n)
            ORDER BY e.n
            RETURNING id
        )
        SELECT pg_notify($4, CASE WHEN octet_length($1) <= $5 THEN $1 ELSE '' END)
        FROM (SELECT 1 FROM added LIMIT 1) AS any_added
        """,
        customer_id,
        [kind for kind, _ in events],
        [json.dumps(payload, separators=(",", ":")) for _, payload in events],
        CHANNEL,
        MAX_NOTIFIED_ID_BYTES,
    )


async def events_of(
    conn: Connection, customer_id: str, after_id: int, limit: int
) -> list[EventRow]:
    rows = await conn.fetch(
        """
        SELECT id, customer_id, kind, payload, created_at FROM outbox
        WHERE customer_id = $1 AND id > $2 ORDER BY id LIMIT $3
        """,
        customer_id,
        after_id,
        limit,
    )
    return [EventRow(**row) for row in rows]


async def last_event_id(conn: Connection, customer_id: str) -> int:
    """The id of the customer's newest event, or 0 when there is none."""
    last: int = await conn.fetchval(
        "SELECT coalesce(max(id), 0) FROM outbox WHERE customer_id = $1", customer_id
    )
    return last


async def events_after(
    conn: Connection, cursors: Sequence[tuple[str, int]], limit: int
) -> list[EventRow]:
    """For each (customer, last id seen), up to limit newer events, oldest first."""
    rows = await conn.fetch(
        """
        SELECT o.id, o.customer_id, o.kind, o.payload, o.created_at
        FROM unnest($1::text[], $2::bigint[]) AS c(customer_id, after_id)
        CROSS JOIN LATERAL (
            SELECT * FROM outbox
            WHERE outbox.customer_id = c.customer_id AND outbox.id > c.after_id
            ORDER BY outbox.id LIMIT $3
        ) AS o
        ORDER BY o.customer_id, o.id
        """,
        [customer_id for customer_id, _ in cursors],
        [after_id for _, after_id in cursors],
        limit,
    )
    return [EventRow(**row) for row in rows]
