"""Read-only checks of the ledger invariants, for `loyalty verify`."""

from __future__ import annotations

from dataclasses import dataclass

from loyalty.store.database import Connection


@dataclass(frozen=True)
class Violation:
    check: str
    customer_id: str
    detail: str


async def balance_mismatches(conn: Connection, limit: int) -> list[Violation]:
    rows = await conn.fetch(
        """
        SELECT a.customer_id, a.balance, coalesce(e.total, 0) AS total
        FROM accounts a
        LEFT JOIN (SELECT customer_id, sum(points) AS total FROM ledger_entries
                   GROUP BY customer_id) e USING (customer_id)
        WHERE a.balance <> coalesce(e.total, 0)
        ORDER BY a.customer_id LIMIT $1
        """,
        limit,
    )
    return [
        Violation(
            "balance equals the sum of entries",
            row["customer_id"],
            f"balance {row['balance']}, entries add up to {row['total']}",
        )
        for row in rows
    ]


async def lots_disagree_with_balances(conn: Connection, limit: int) -> list[Violation]:
    """The open lots hold exactly the balance when it is not negative, and nothing in debt."""
    rows = await conn.fetch(
        """
        SELECT a.customer_id, a.balance, coalesce(l.open, 0) AS open
        FROM accounts a
        LEFT JOIN (SELECT customer_id, sum(remaining) AS open FROM point_lots
                   GROUP BY customer_id) l USING (customer_id)
        WHERE greatest(a.balance, 0) <> coalesce(l.open, 0)
        ORDER BY a.customer_id LIMIT $1
        """,
        limit,
    )
    return [
        Violation(
            "open lots hold the balance",
            row["customer_id"],
            f"balance {row['balance']}, open lots hold {row['open']}",
        )
        for row in rows
    ]


async def unauthorized_debts(conn: Connection, limit: int) -> list[Violation]:
    """Points taken while the balance ended below zero, without an admin allowing the debt."""
    rows = await conn.fetch(
        """
        SELECT customer_id, id, points, balance_after FROM ledger_entries
        WHERE balance_after < 0 AND points < 0 AND NOT debt_allowed
        ORDER BY customer_id, id LIMIT $1
        """,
        limit,
    )
    return [
        Violation(
            "no negative balance without an allowed debt",
            row["customer_id"],
            f"entry {row['id']} took {-row['points']} points down to {row['balance_after']}",
        )
        for row in rows
    ]


async def broken_balance_chains(conn: Connection, limit: int) -> list[Violation]:
    rows = await conn.fetch(
        """
        SELECT customer_id, id, balance_after, running FROM (
            SELECT customer_id, id, balance_after,
                   sum(points) OVER (PARTITION BY customer_id ORDER BY id) AS running
            FROM ledger_entries) e
        WHERE balance_after <> running
        ORDER BY customer_id, id LIMIT $1
        """,
        limit,
    )
    return [
        Violation(
            "each entry's balance follows from the ones before",
            row["customer_id"],
            f"entry {row['id']} says {row['balance_after']}, entries add up to {row['running']}",
        )
        for row in rows
    ]


async def purchases_without_entries(conn: Connection, limit: int) -> list[Violation]:
    rows = await conn.fetch(
        """
        SELECT p.customer_id, p.id, p.points, coalesce(e.total, 0) AS total
        FROM purchases p
        LEFT JOIN (SELECT customer_id, purchase_id, sum(points) AS total FROM ledger_entries
                   WHERE kind IN ('earn', 'bonus') AND purchase_id IS NOT NULL
                   GROUP BY customer_id, purchase_id) e
            ON e.customer_id = p.customer_id AND e.purchase_id = p.id
        WHERE p.points <> coalesce(e.total, 0)
        ORDER BY p.customer_id, p.id LIMIT $1
        """,
        limit,
    )
    return [
        Violation(
            "every purchase has its entries",
            row["customer_id"],
            f"purchase {row['id']} earned {row['points']}, its entries add up to {row['total']}",
        )
        for row in rows
    ]


async def lines_disagree_with_purchases(conn: Connection, limit: int) -> list[Violation]:
    rows = await conn.fetch(
        """
        SELECT p.customer_id, p.id, p.subtotal, l.amount, p.points, l.points AS line_points
        FROM purchases p
        JOIN (SELECT customer_id, purchase_id, sum(quantity * unit_price) AS amount,
                     sum(points) AS points
              FROM purchase_lines GROUP BY customer_id, purchase_id) l
            ON l.customer_id = p.customer_id AND l.purchase_id = p.id
        WHERE l.amount <> p.subtotal OR l.points <> p.points
        ORDER BY p.customer_id, p.id LIMIT $1
        """,
        limit,
    )
    return [
        Violation(
            "lines add up to their purchase",
            row["customer_id"],
            f"purchase {row['id']}: subtotal {row['subtotal']} vs lines {row['amount']}, "
            f"points {row['points']} vs lines {row['line_points']}",
        )
        for row in rows
    ]
