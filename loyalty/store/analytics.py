"""Analytics: aggregates over the raw facts (nudges, ledger, codes, purchases, accounts).

Nothing here is a counter kept on the purchase path: every figure is summed from the rows
that record what happened, over a window of local days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from loyalty.store.database import Connection


@dataclass(frozen=True)
class RuleDayRow:
    rule_id: int
    rule_name: str
    rule_kind: str
    day: date
    shown: int
    accepted: int
    declined: int
    revenue_added: int
    bonus_points: int
    codes_issued: int
    codes_redeemed: int
    rebate_discount: int


@dataclass(frozen=True)
class OrdersRow:
    orders: int
    revenue: int


@dataclass(frozen=True)
class TierRow:
    tier: str | None
    customers: int
    outstanding_points: int
    debt_points: int


async def read_only_snapshot(conn: Connection) -> None:
    """The transaction's statements all see one snapshot; the first statement of it."""
    await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")


async def rule_days(
    conn: Connection, start: datetime, end: datetime, timezone: str
) -> list[RuleDayRow]:
    """Per rule and local day: each fact counted on the day it happened, in [start, end).

    A nudge's outcome is counted on the day it was shown, so accepted never exceeds shown.
    """
    rows = await conn.fetch(
        """
        WITH facts AS (
            SELECT rule_id, (shown_at AT TIME ZONE $3)::date AS day,
                   count(*) AS shown,
                   count(*) FILTER (WHERE outcome = 'accepted') AS accepted,
                   count(*) FILTER (WHERE outcome = 'declined') AS declined,
                   coalesce(sum(extra_cost) FILTER (WHERE outcome = 'accepted'), 0) AS revenue,
                   0 AS bonus, 0 AS issued, 0 AS redeemed, 0 AS discount
            FROM nudges WHERE shown_at >= $1 AND shown_at < $2
            GROUP BY 1, 2
            UNION ALL
            SELECT rule_id, (created_at AT TIME ZONE $3)::date, 0, 0, 0, 0, sum(points), 0, 0, 0
            FROM ledger_entries
            WHERE kind = 'bonus' AND created_at >= $1 AND created_at < $2
            GROUP BY 1, 2
            UNION ALL
            SELECT rule_id, (issued_at AT TIME ZONE $3)::date, 0, 0, 0, 0, 0, count(*), 0, 0
            FROM rebate_codes
            WHERE rule_id IS NOT NULL AND issued_at >= $1 AND issued_at < $2
            GROUP BY 1, 2
            UNION ALL
            SELECT rule_id, (redeemed_at AT TIME ZONE $3)::date, 0, 0, 0, 0, 0, 0, count(*),
                   coalesce(sum(discount), 0)
            FROM rebate_codes
            WHERE redeemed_at IS NOT NULL AND rule_id IS NOT NULL
              AND redeemed_at >= $1 AND redeemed_at < $2
            GROUP BY 1, 2
        )
        SELECT f.rule_id, r.name AS rule_name, r.kind AS rule_kind, f.day,
               sum(f.shown)::bigint AS shown,
               sum(f.accepted)::bigint AS accepted,
               sum(f.declined)::bigint AS declined,
               sum(f.revenue)::bigint AS revenue_added,
               sum(f.bonus)::bigint AS bonus_points,
               sum(f.issued)::bigint AS codes_issued,
               sum(f.redeemed)::bigint AS codes_redeemed,
               sum(f.discount)::bigint AS rebate_discount
        FROM facts f
        JOIN rules r ON r.id = f.rule_id
        GROUP BY f.rule_id, r.name, r.kind, f.day
        ORDER BY f.rule_id, f.day
        """,
        start,
        end,
        timezone,
    )
    return [RuleDayRow(**row) for row in rows]


async def order_values(conn: Connection, start: datetime, end: datetime) -> dict[bool, OrdersRow]:
    """Purchases in [start, end), split by whether they took a nudge (keyed True)."""
    rows = await conn.fetch(
        """
        SELECT t.nudged, count(*) AS orders, sum(p.subtotal)::bigint AS revenue
        FROM purchases p
        -- One index probe per purchase of the window, never a pass over all accepted nudges.
        CROSS JOIN LATERAL (
            SELECT count(*) > 0 AS nudged FROM (
                SELECT 1 FROM nudges n
                WHERE n.customer_id = p.customer_id AND n.purchase_id = p.id
                  AND n.outcome = 'accepted'
                LIMIT 1
            ) taken
        ) t
        WHERE p.occurred_at >= $1 AND p.occurred_at < $2
        GROUP BY 1
        """,
        start,
        end,
    )
    return {row["nudged"]: OrdersRow(row["orders"], row["revenue"]) for row in rows}


async def tier_standing(conn: Connection) -> list[TierRow]:
    """Customers and points held now, per tier: customers without a tier (tier None) first,
    then every defined tier from the lowest. A customer who holds no defined tier is in the
    tier that asks for no points, as `me` shows them, and has no tier only without one."""
    rows = await conn.fetch(
        """
        WITH held AS (
            SELECT coalesce(t.name, (SELECT name FROM tiers WHERE qualifying_points = 0)) AS tier,
                   count(*) AS customers,
                   coalesce(sum(balance) FILTER (WHERE balance > 0), 0)::bigint AS outstanding,
                   coalesce(sum(-balance) FILTER (WHERE balance < 0), 0)::bigint AS debt
            FROM accounts a LEFT JOIN tiers t ON t.name = a.tier
            GROUP BY 1
        )
        SELECT coalesce(t.name, h.tier) AS tier,
               coalesce(h.customers, 0) AS customers,
               coalesce(h.outstanding, 0) AS outstanding_points,
               coalesce(h.debt, 0) AS debt_points,
               t.qualifying_points
        FROM tiers t
        FULL JOIN held h ON h.tier = t.name
        UNION ALL
        SELECT NULL, 0, 0, 0, NULL
        WHERE NOT EXISTS (SELECT FROM tiers WHERE qualifying_points = 0)
          AND NOT EXISTS (SELECT FROM held WHERE tier IS NULL)
        ORDER BY 5 NULLS FIRST
        """
    )
    return [TierRow(*row[:4]) for row in rows]
