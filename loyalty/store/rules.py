"""Rules and their versions, per-customer usage under caps, and sliced point budgets."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from loyalty.store.database import Connection

CHANNEL = "loyalty_rules"
RULE_COLUMNS = """
    id, version, kind, name, status, priority, exclusive, message, spec, created_at, updated_at
"""


@dataclass(frozen=True)
class RuleRow:
    id: int
    version: int
    kind: str
    name: str
    status: str
    priority: int
    exclusive: bool
    message: str
    spec: dict[str, Any]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class RuleFields:
    kind: str
    name: str
    priority: int
    exclusive: bool
    message: str
    spec: dict[str, Any]


@dataclass(frozen=True)
class UsageRow:
    rule_id: int
    period: str
    period_start: date
    awards: int
    points: int


async def insert_rule(conn: Connection, fields: RuleFields) -> RuleRow:
    row = await conn.fetchrow(
        f"""
        INSERT INTO rules (kind, name, priority, exclusive, message, spec)
        VALUES ($1, $2, $3, $4, $5, $6)
        RETURNING {RULE_COLUMNS}
        """,
        fields.kind,
        fields.name,
        fields.priority,
        fields.exclusive,
        fields.message,
        fields.spec,
    )
    assert row is not None
    return RuleRow(**row)


async def update_rule(conn: Connection, rule_id: int, fields: RuleFields) -> RuleRow | None:
    """The next version of an active rule; None if there is no such active rule."""
    row = await conn.fetchrow(
        f"""
        UPDATE rules
        SET version = version + 1, kind = $2, name = $3, priority = $4, exclusive = $5,
            message = $6, spec = $7, updated_at = now()
        WHERE id = $1 AND status = 'active'
        RETURNING {RULE_COLUMNS}
        """,
        rule_id,
        fields.kind,
        fields.name,
        fields.priority,
        fields.exclusive,
        fields.message,
        fields.spec,
    )
    return RuleRow(**row) if row else None


async def insert_rule_version(conn: Connection, rule: RuleRow) -> None:
    await conn.execute(
        """
        INSERT INTO rule_versions (rule_id, version, kind, name, priority, exclusive, message, spec)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        """,
        rule.id,
        rule.version,
        rule.kind,
        rule.name,
        rule.priority,
        rule.exclusive,
        rule.message,
        rule.spec,
    )


async def archive_rule(conn: Connection, rule_id: int) -> RuleRow | None:
    row = await conn.fetchrow(
        f"""
        UPDATE rules SET status = 'archived', updated_at = now()
        WHERE id = $1 AND status = 'active' RETURNING {RULE_COLUMNS}
        """,
        rule_id,
    )
    return RuleRow(**row) if row else None


async def get_rule(conn: Connection, rule_id: int) -> RuleRow | None:
    row = await conn.fetchrow(f"SELECT {RULE_COLUMNS} FROM rules WHERE id = $1", rule_id)
    return RuleRow(**row) if row else None


async def lock_rule(conn: Connection, rule_id: int) -> RuleRow | None:
    """The rule as it is now, locked until the transaction ends: an update's "before"."""
    row = await conn.fetchrow(f"SELECT {RULE_COLUMNS} FROM rules WHERE id = $1 FOR UPDATE", rule_id)
    return RuleRow(**row) if row else None


async def list_rules(conn: Connection, include_archived: bool) -> list[RuleRow]:
    rows = await conn.fetch(
        f"""
        SELECT {RULE_COLUMNS} FROM rules
        WHERE $1 OR status = 'active' ORDER BY id
        """,
        include_archived,
    )
    return [RuleRow(**row) for row in rows]


async def count_rules(conn: Connection) -> int:
    count: int = await conn.fetchval("SELECT count(*) FROM rules")
    return count


async def notify_rules_changed(conn: Connection) -> None:
    """Tell every process to reload its rules; delivered when the transaction commits."""
    await conn.execute("SELECT pg_notify($1, '')", CHANNEL)


async def get_usage(conn: Connection, customer_id: str, since: date) -> list[UsageRow]:
    rows = await conn.fetch(
        """
        SELECT rule_id, period, period_start, awards, points FROM rule_usage
        WHERE customer_id = $1 AND period_start >= $2
        """,
        customer_id,
        since,
    )
    return [UsageRow(**row) for row in rows]


async def add_usage(conn: Connection, customer_id: str, rows: Sequence[UsageRow]) -> None:
    await conn.execute(
        """
        INSERT INTO rule_usage AS u (customer_id, rule_id, period, period_start, awards, points)
        SELECT $1, r.* FROM unnest($2::bigint[], $3::text[], $4::date[], $5::integer[],
                                   $6::bigint[]) AS r
        ON CONFLICT (customer_id, rule_id, period, period_start) DO UPDATE
        SET awards = u.awards + EXCLUDED.awards, points = u.points + EXCLUDED.points
        """,
        customer_id,
        [r.rule_id for r in rows],
        [r.period for r in rows],
        [r.period_start for r in rows],
        [r.awards for r in rows],
        [r.points for r in rows],
    )


async def lock_budget_slices(conn: Connection, rule_id: int) -> list[tuple[int, int, int]]:
    """(slice, granted, remaining) of every slice, locked in slice order."""
    rows = await conn.fetch(
        """
        SELECT slice, granted, remaining FROM rule_budget_slices
        WHERE rule_id = $1 ORDER BY slice FOR UPDATE
        """,
        rule_id,
    )
    return [(row["slice"], row["granted"], row["remaining"]) for row in rows]


async def write_budget_slices(
    conn: Connection, rule_id: int, granted: Sequence[int], remaining: Sequence[int]
) -> None:
    await conn.execute(
        """
        INSERT INTO rule_budget_slices AS b (rule_id, slice, granted, remaining)
        SELECT $1, s.n - 1, s.granted, s.remaining
        FROM unnest($2::bigint[], $3::bigint[]) WITH ORDINALITY AS s(granted, remaining, n)
        ON CONFLICT (rule_id, slice) DO UPDATE
        SET granted = EXCLUDED.granted, remaining = EXCLUDED.remaining
        """,
        rule_id,
        list(granted),
        list(remaining),
    )


async def lock_free_slice(
    conn: Connection, rule_id: int, preferred: int, slice_count: int, held: Sequence[int]
) -> tuple[int, int] | None:
    """Lock the first non-empty slice from preferred on that no one else holds.

    SKIP LOCKED means a purchase never waits for another's slice, so purchases taking
    budget can never deadlock, whatever order they meet the slices in.
    """
    row = await conn.fetchrow(
        """
        SELECT slice, remaining FROM rule_budget_slices
        WHERE rule_id = $1 AND remaining > 0 AND slice <> ALL($4::smallint[])
        ORDER BY (slice - $2 + $3) % $3
        LIMIT 1
        FOR UPDATE SKIP LOCKED
        """,
        rule_id,
        preferred,
        slice_count,
        list(held),
    )
    return (row["slice"], row["remaining"]) if row else None


async def spend_from_slice(conn: Connection, rule_id: int, slice_no: int, points: int) -> None:
    await conn.execute(
        """
        UPDATE rule_budget_slices SET remaining = remaining - $3
        WHERE rule_id = $1 AND slice = $2
        """,
        rule_id,
        slice_no,
        points,
    )


async def budget_elsewhere(conn: Connection, rule_id: int, held: Sequence[int]) -> int:
    """Points other slices held at their last commit (some may be in flight)."""
    left: int = await conn.fetchval(
        """
        SELECT coalesce(sum(remaining), 0)::bigint FROM rule_budget_slices
        WHERE rule_id = $1 AND slice <> ALL($2::smallint[])
        """,
        rule_id,
        list(held),
    )
    return left


async def remaining_budgets(conn: Connection, rule_ids: Sequence[int]) -> dict[int, int]:
    rows = await conn.fetch(
        """
        SELECT rule_id, sum(remaining)::bigint AS remaining FROM rule_budget_slices
        WHERE rule_id = ANY($1::bigint[]) GROUP BY rule_id
        """,
        list(rule_ids),
    )
    return {row["rule_id"]: row["remaining"] for row in rows}
