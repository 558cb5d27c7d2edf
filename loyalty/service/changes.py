"""The admin change log: each admin change records who, what, and the state before and after,
in the transaction of the change itself, so a change is never made without its record."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from loyalty.domain.access import Actor
from loyalty.errors import ValidationError
from loyalty.store import changes
from loyalty.store.changes import ChangeRow, NewChange
from loyalty.store.database import Connection, Pool, connection

MAX_PAGE = 100


async def record_change(
    conn: Connection,
    actor: Actor,
    action: str,
    subject: tuple[str, str],
    before: Any,
    after: Any,
) -> None:
    """Rows (dataclasses), lists and mappings of them go in as they are: the jsonb codec
    writes dataclasses and datetimes itself."""
    kind, subject_id = subject
    await changes.insert_change(
        conn, NewChange(actor.name, actor.key_id, action, kind, subject_id, before, after)
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
