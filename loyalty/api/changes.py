"""The admin change log: who changed what, when, with the state before and after."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from loyalty import service
from loyalty.api.auth import IsAdmin
from loyalty.api.context import Info
from loyalty.api.types import PageInfo, decode_cursor, encode_cursor


@strawberry.type(description="One admin change, as it was made.")
class AdminChange:
    id: strawberry.ID
    at: datetime
    actor: str = strawberry.field(description="Who: 'admin key 3 (label)', 'command line (user)'.")
    action: str = strawberry.field(description="The mutation or command, e.g. updateRule.")
    subject_kind: str = strawberry.field(
        description="rule, tiers, program, reward, products, customer or api_key."
    )
    subject_id: str = strawberry.field(description="The rule id, customer id...; '' for one-offs.")
    before: JSON | None = strawberry.field(description="The state before; null for a creation.")
    after: JSON | None

    @classmethod
    def of(cls, row: service.ChangeRow) -> AdminChange:
        return cls(
            id=strawberry.ID(str(row.id)),
            at=row.at,
            actor=row.actor,
            action=row.action,
            subject_kind=row.subject_kind,
            subject_id=row.subject_id,
            before=row.before,
            after=row.after,
        )


@strawberry.type
class AdminChangeEdge:
    cursor: str
    node: AdminChange


@strawberry.type
class AdminChangeConnection:
    edges: list[AdminChangeEdge]
    page_info: PageInfo


@strawberry.type
class ChangesQuery:
    @strawberry.field(
        permission_classes=[IsAdmin],
        description="Admin changes, newest first; narrowed to a kind of subject or one subject.",
    )
    async def audit_log(
        self,
        info: Info,
        first: int = 20,
        after: str | None = None,
        subject_kind: str | None = None,
        subject_id: str | None = None,
    ) -> AdminChangeConnection:
        page = await service.list_changes(
            info.context.pool,
            subject_kind=subject_kind,
            subject_id=subject_id,
            before_id=decode_cursor(after) if after else None,
            first=first,
        )
        edges = [
            AdminChangeEdge(cursor=encode_cursor(row.id), node=AdminChange.of(row))
            for row in page.changes
        ]
        end = edges[-1].cursor if edges else None
        return AdminChangeConnection(
            edges=edges, page_info=PageInfo(has_next_page=page.has_next, end_cursor=end)
        )
