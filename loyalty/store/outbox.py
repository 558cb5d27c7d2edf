"""The outbox: events written in the transaction that caused them, for subscribers to read."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from loyalty.store.database import Connection


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
    await conn.execute(
        """
        INSERT INTO outbox (customer_id, kind, payload)
        SELECT $1, e.kind, e.payload::jsonb
        FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS e(kind, payload, n)
        ORDER BY e.n
        """,
        customer_id,
        [kind for kind, _ in events],
        [json.dumps(payload, separators=(",", ":")) for _, payload in events],
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
