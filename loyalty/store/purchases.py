"""Purchases and their lines, as posted by a POS."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from loyalty.store.database import Connection


@dataclass(frozen=True)
class PurchaseRow:
    id: int
    customer_id: str
    store_id: str
    transaction_id: str
    channel: str
    occurred_at: datetime
    subtotal: int
    points: int
    discount: int
    rebate_code: str | None
    created_at: datetime


@dataclass(frozen=True)
class LineRow:
    line_no: int
    sku: str
    quantity: int
    unit_price: int
    known: bool
    points: int


PURCHASE_COLUMNS = """
    id, customer_id, store_id, transaction_id, channel, occurred_at, subtotal, points, discount,
    rebate_code, created_at
"""


async def insert_purchase(
    conn: Connection,
    *,
    customer_id: str,
    store_id: str,
    transaction_id: str,
    channel: str,
    occurred_at: datetime,
    subtotal: int,
    points: int,
    discount: int = 0,
    rebate_code: str | None = None,
) -> PurchaseRow:
    row = await conn.fetchrow(
        f"""
        INSERT INTO purchases
            (customer_id, store_id, transaction_id, channel, occurred_at, subtotal, points,
             discount, rebate_code)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
        RETURNING {PURCHASE_COLUMNS}
        """,
        customer_id,
        store_id,
        transaction_id,
        channel,
        occurred_at,
        subtotal,
        points,
        discount,
        rebate_code,
    )
    assert row is not None
    return PurchaseRow(**row)


async def insert_lines(
    conn: Connection, customer_id: str, purchase_id: int, lines: Sequence[LineRow]
) -> None:
    await conn.execute(
        """
        INSERT INTO purchase_lines
            (customer_id, purchase_id, line_no, sku, quantity, unit_price, known, points)
        SELECT $1, $2, l.*
        FROM unnest($3::integer[], $4::text[], $5::integer[], $6::bigint[], $7::boolean[],
                    $8::bigint[]) AS l
        """,
        customer_id,
        purchase_id,
        [line.line_no for line in lines],
        [line.sku for line in lines],
        [line.quantity for line in lines],
        [line.unit_price for line in lines],
        [line.known for line in lines],
        [line.points for line in lines],
    )


async def get_purchase(conn: Connection, customer_id: str, purchase_id: int) -> PurchaseRow | None:
    row = await conn.fetchrow(
        f"SELECT {PURCHASE_COLUMNS} FROM purchases WHERE customer_id = $1 AND id = $2",
        customer_id,
        purchase_id,
    )
    return PurchaseRow(**row) if row else None


async def get_lines(conn: Connection, customer_id: str, purchase_id: int) -> list[LineRow]:
    rows = await conn.fetch(
        """
        SELECT line_no, sku, quantity, unit_price, known, points
        FROM purchase_lines WHERE customer_id = $1 AND purchase_id = $2
        ORDER BY line_no
        """,
        customer_id,
        purchase_id,
    )
    return [LineRow(**row) for row in rows]


async def get_purchases(
    conn: Connection, keys: Sequence[tuple[str, int]]
) -> dict[tuple[str, int], PurchaseRow]:
    rows = await conn.fetch(
        f"""
        SELECT {PURCHASE_COLUMNS} FROM purchases
        WHERE (customer_id, id) IN (SELECT * FROM unnest($1::text[], $2::bigint[]))
        """,
        [customer_id for customer_id, _ in keys],
        [purchase_id for _, purchase_id in keys],
    )
    return {(row["customer_id"], row["id"]): PurchaseRow(**row) for row in rows}


async def get_lines_of(
    conn: Connection, keys: Sequence[tuple[str, int]]
) -> dict[tuple[str, int], list[LineRow]]:
    rows = await conn.fetch(
        """
        SELECT customer_id, purchase_id, line_no, sku, quantity, unit_price, known, points
        FROM purchase_lines
        WHERE (customer_id, purchase_id) IN (SELECT * FROM unnest($1::text[], $2::bigint[]))
        ORDER BY customer_id, purchase_id, line_no
        """,
        [customer_id for customer_id, _ in keys],
        [purchase_id for _, purchase_id in keys],
    )
    found: dict[tuple[str, int], list[LineRow]] = {key: [] for key in keys}
    for row in rows:
        found[(row["customer_id"], row["purchase_id"])].append(
            LineRow(
                row["line_no"],
                row["sku"],
                row["quantity"],
                row["unit_price"],
                row["known"],
                row["points"],
            )
        )
    return found
