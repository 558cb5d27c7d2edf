"""The admin change log: one row per change, with the state before and after."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from loyalty.store.database import Connection


@dataclass(frozen=True)
class NewChange:
    actor: str
    actor_key_id: int | None
    action: str
    subject_kind: str
    subject_id: str
    before: Any
    after: Any


@dataclass(frozen=True)
class ChangeRow(NewChange):
    id: int
    at: datetime


async def insert_change(conn: Connection, change: NewChange) -> None:
    await conn.execute(
        """
        INSERT INTO admin_changes
            (actor, actor_key_id, action, subject_kind, subject_id, before, after)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        """,
        change.actor,
        change.actor_key_id,
        change.action,
        change.subject_kind,
        change.subject_id,
        change.before,
        change.after,
    )


async def list_changes(
    conn: Connection,
    subject_kind: str | None,
    subject_id: str | None,
    before_id: int | None,
    limit: int,
) -> list[ChangeRow]:
    """Newest first, below `before_id` when given (keyset paging)."""
    rows = await conn.fetch(
        """
        SELECT id, at, actor, actor_key_id, action, subject_kind, subject_id, before, after
        FROM admin_changes
        WHERE ($1::text IS NULL OR subject_kind = $1)
          AND ($2::text IS NULL OR subject_id = $2)
          AND ($3::bigint IS NULL OR id < $3)
        ORDER BY id DESC
        LIMIT $4
        """,
        subject_kind,
        subject_id,
        before_id,
        limit,
    )
    return [ChangeRow(**row) for row in rows]
