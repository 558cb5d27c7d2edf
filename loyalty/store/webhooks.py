"""Registered webhooks, and the per-customer queues of events waiting for each of them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from loyalty.store.database import Connection


@dataclass(frozen=True)
class WebhookRow:
    id: int
    url: str
    event_types: list[str]
    created_at: datetime


@dataclass(frozen=True)
class WebhookHealth:
    pending: int
    last_error: str | None
    given_up: int = 0


@dataclass(frozen=True)
class Delivery:
    """One claimed event: the oldest waiting for its webhook from its customer."""

    customer_id: str
    webhook_id: int
    event_id: int
    attempts: int
    kind: str
    payload: Any
    created_at: datetime
    url: str
    secret: str = field(repr=False)


async def insert_webhook(
    conn: Connection, url: str, event_types: list[str], secret: str
) -> WebhookRow:
    row = await conn.fetchrow(
        """
        INSERT INTO webhooks (url, event_types, secret) VALUES ($1, $2, $3)
        RETURNING id, url, event_types, created_at
        """,
        url,
        event_types,
        secret,
    )
    assert row is not None
    return WebhookRow(**row)


async def list_webhooks(conn: Connection) -> list[tuple[WebhookRow, WebhookHealth]]:
    rows = await conn.fetch(
        """
        SELECT w.id, w.url, w.event_types, w.created_at, q.pending, q.last_error, q.given_up
        FROM webhooks w
        CROSS JOIN LATERAL (
            SELECT count(*) FILTER (WHERE d.gave_up_at IS NULL) AS pending,
                   count(*) FILTER (WHERE d.gave_up_at IS NOT NULL) AS given_up,
                   (array_agg(d.last_error ORDER BY d.next_attempt_at DESC)
                        FILTER (WHERE d.last_error IS NOT NULL))[1] AS last_error
            FROM webhook_deliveries d WHERE d.webhook_id = w.id
        ) AS q
        ORDER BY w.id
        """
    )
    return [
        (
            WebhookRow(row["id"], row["url"], row["event_types"], row["created_at"]),
            WebhookHealth(row["pending"], row["last_error"], row["given_up"]),
        )
        for row in rows
    ]


async def delete_webhook(conn: Connection, webhook_id: int) -> WebhookRow | None:
    """Deletes the webhook and every delivery still waiting for it."""
    row = await conn.fetchrow(
        "DELETE FROM webhooks WHERE id = $1 RETURNING id, url, event_types, created_at",
        webhook_id,
    )
    return WebhookRow(**row) if row else None


async def claim_due(
    conn: Connection, per_webhook: int, lease_seconds: float, skip_webhooks: list[int]
) -> list[Delivery]:
    """Lease each customer's oldest waiting event whose time has come, up to per_webhook each.

    A newer event of the same customer is never a head while an older one waits, so it is not
    claimed until the older one is delivered. The lock recheck on next_attempt_at skips a head
    another process leased meanwhile.
    """
    rows = await conn.fetch(
        """
        WITH heads AS (
            SELECT DISTINCT ON (customer_id, webhook_id)
                   customer_id, webhook_id, event_id, next_attempt_at
            FROM webhook_deliveries
            WHERE webhook_id <> ALL ($3::bigint[]) AND gave_up_at IS NULL
            ORDER BY customer_id, webhook_id, event_id
        ), ranked AS (
            SELECT customer_id, webhook_id, event_id,
                   row_number() OVER (PARTITION BY webhook_id ORDER BY next_attempt_at) AS n
            FROM heads WHERE next_attempt_at <= now()
        ), due AS (
            SELECT d.customer_id, d.webhook_id, d.event_id
            FROM ranked r JOIN webhook_deliveries d USING (customer_id, webhook_id, event_id)
            WHERE r.n <= $1 AND d.next_attempt_at <= now()
            FOR UPDATE OF d SKIP LOCKED
        ), claimed AS (
            UPDATE webhook_deliveries d
            SET next_attempt_at = now() + make_interval(secs => $2)
            FROM due
            WHERE (d.customer_id, d.webhook_id, d.event_id)
                = (due.customer_id, due.webhook_id, due.event_id)
            RETURNING d.customer_id, d.webhook_id, d.event_id, d.attempts
        )
        SELECT c.customer_id, c.webhook_id, c.event_id, c.attempts,
               o.kind, o.payload, o.created_at, w.url, w.secret
        FROM claimed c
        JOIN outbox o ON o.customer_id = c.customer_id AND o.id = c.event_id
        JOIN webhooks w ON w.id = c.webhook_id
        ORDER BY c.webhook_id, c.customer_id
        """,
        per_webhook,
        lease_seconds,
        skip_webhooks,
    )
    return [Delivery(**row) for row in rows]


async def delete_delivery(conn: Connection, delivery: Delivery) -> None:
    await conn.execute(
        """
        DELETE FROM webhook_deliveries
        WHERE customer_id = $1 AND webhook_id = $2 AND event_id = $3
        """,
        delivery.customer_id,
        delivery.webhook_id,
        delivery.event_id,
    )


async def postpone_delivery(
    conn: Connection, delivery: Delivery, delay_seconds: float, error: str
) -> None:
    await conn.execute(
        """
        UPDATE webhook_deliveries
        SET attempts = attempts + 1,
            next_attempt_at = now() + make_interval(secs => $4),
            last_error = $5
        WHERE customer_id = $1 AND webhook_id = $2 AND event_id = $3
        """,
        delivery.customer_id,
        delivery.webhook_id,
        delivery.event_id,
        delay_seconds,
        error,
    )


async def give_up_delivery(conn: Connection, delivery: Delivery, error: str) -> None:
    await conn.execute(
        """
        UPDATE webhook_deliveries
        SET attempts = attempts + 1, last_error = $4, gave_up_at = now()
        WHERE customer_id = $1 AND webhook_id = $2 AND event_id = $3
        """,
        delivery.customer_id,
        delivery.webhook_id,
        delivery.event_id,
        error,
    )


async def retry_given_up(conn: Connection, webhook_id: int) -> int:
    """Queues the webhook's given-up deliveries again, as if new; how many."""
    status = await conn.execute(
        """
        UPDATE webhook_deliveries
        SET gave_up_at = NULL, attempts = 0, next_attempt_at = now()
        WHERE webhook_id = $1 AND gave_up_at IS NOT NULL
        """,
        webhook_id,
    )
    return int(status.rpartition(" ")[2])


async def lock_webhook(conn: Connection, webhook_id: int) -> WebhookRow | None:
    row = await conn.fetchrow(
        "SELECT id, url, event_types, created_at FROM webhooks WHERE id = $1 FOR UPDATE",
        webhook_id,
    )
    return WebhookRow(**row) if row else None
