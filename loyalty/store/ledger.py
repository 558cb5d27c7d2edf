"""The append-only ledger of point movements."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from loyalty.store.database import Connection


@dataclass(frozen=True)
class NewEntry:
    kind: str
    points: int
    purchase_id: int | None = None
    rule_id: int | None = None
    reason: str = ""
    debt_allowed: bool = False
    rule_version: int | None = None


@dataclass(frozen=True)
class EntryRow:
    id: int
    customer_id: str
    kind: str
    points: int
    balance_after: int
    purchase_id: int | None
    rule_id: int | None
    rule_version: int | None
    reason: str
    created_at: datetime


ENTRY_COLUMNS = """
    id, customer_id, kind, points, balance_after, purchase_id, rule_id, rule_version, reason,
    created_at
"""


async def insert_entries(
    conn: Connection, customer_id: str, entries: Sequence[NewEntry], balance_after: int
) -> list[EntryRow]:
    """Append entries that together brought the balance to balance_after."""
    running = balance_after - sum(entry.points for entry in entries)
    balances = []
    for entry in entries:
        running += entry.points
        balances.append(running)
    rows = await conn.fetch(
        f"""
        INSERT INTO ledger_entries
            (customer_id, kind, points, balance_after, purchase_id, rule_id, rule_version, reason,
             debt_allowed)
        SELECT $1, e.kind, e.points, e.balance_after, e.purchase_id, e.rule_id, e.rule_version,
               e.reason, e.debt
        FROM unnest($2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[],
                    $7::text[], $8::boolean[], $9::integer[])
            WITH ORDINALITY
            AS e(kind, points, balance_after, purchase_id, rule_id, reason, debt, rule_version, n)
        ORDER BY e.n
        RETURNING {ENTRY_COLUMNS}
        """,
        customer_id,
        [e.kind for e in entries],
        [e.points for e in entries],
        balances,
        [e.purchase_id for e in entries],
        [e.rule_id for e in entries],
        [e.reason for e in entries],
        [e.debt_allowed for e in entries],
        [e.rule_version for e in entries],
    )
    return [EntryRow(**row) for row in rows]


async def list_entries(
    conn: Connection, customer_id: str, before_id: int | None, limit: int
) -> list[EntryRow]:
    """Newest first, starting below before_id: a keyset page that costs the same at any depth."""
    rows = await conn.fetch(
        f"""
        SELECT {ENTRY_COLUMNS}
        FROM ledger_entries
        WHERE customer_id = $1 AND ($2::bigint IS NULL OR id < $2)
        ORDER BY id DESC
        LIMIT $3
        """,
        customer_id,
        before_id,
        limit,
    )
    return [EntryRow(**row) for row in rows]


async def get_entry(conn: Connection, customer_id: str, entry_id: int) -> EntryRow | None:
    row = await conn.fetchrow(
        f"""
        SELECT {ENTRY_COLUMNS}
        FROM ledger_entries WHERE customer_id = $1 AND id = $2
        """,
        customer_id,
        entry_id,
    )
    return EntryRow(**row) if row else None
