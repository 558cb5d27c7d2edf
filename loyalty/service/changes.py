"""The admin change log: each admin change records who, what, and the state before and after,
in the transaction of the change itself, so a change is never made without its record."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from loyalty.domain.access import Actor
from loyalty.errors import ValidationError
from loyalty.store import changes
from loyalty.store.changes import ChangeRow, NewChange
from loyalty.store.database import Connection, Pool, connection

MAX_PAGE = 100


def snapshot(value: Any) -> Any:
    """A JSON-ready copy of a row, a list of rows or a mapping of them."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: snapshot(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): snapshot(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [snapshot(v) for v in value]
    return value


async def record_change(
    conn: Connection,
    actor: Actor,
    action: str,
    subject: tuple[str, str],
    before: Any,
    after: Any,
) -> None:
    kind, subject_id = subject
    await changes.insert_change(
        conn,
        NewChange(
            actor.name, actor.key_id, action, kind, subject_id, snapshot(before), snapshot(after)
        ),
    )


@dataclass(frozen=True)
class ChangePage:
    changes: list[ChangeRow]
    has_next: bool


async def list_changes(
    pool: Pool,
    *,
    subject_kind: str | None = None,
    subject_id: str | None = None,
    before_id: int | None = None,
    first: int = 20,
) -> ChangePage:
    """Newest first; filtered to one kind of subject, or one subject, when asked."""
    if not 1 <= first <= MAX_PAGE:
        raise ValidationError("first", f"first must be between 1 and {MAX_PAGE}")
    if subject_id is not None and subject_kind is None:
        raise ValidationError("subjectId", "name the subjectKind too: rule 5 is not customer 5")
    async with connection(pool) as conn:
        rows = await changes.list_changes(conn, subject_kind, subject_id, before_id, first + 1)
    return ChangePage(rows[:first], has_next=len(rows) > first)
