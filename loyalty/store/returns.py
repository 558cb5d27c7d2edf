"""Returns: the lines that came back and the points reversed with them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from loyalty.store.database import Connection
from loyalty.store.purchases import PURCHASE_COLUMNS, PurchaseRow


@dataclass(frozen=True)
class ReturnableLine:
    line_no: int
    sku: str
    quantity: int
    unit_price: int
    points: int
    returned_quantity: int
    reversed_points: int


async def find_purchase(conn: Connection, store_id: str, transaction_id: str) -> PurchaseRow | None:
    row = await conn.fetchrow(
        f"""
        SELECT {PURCHASE_COLUMNS} FROM purchases WHERE store_id = $1 AND transaction_id = $2
        """,
        store_id,
        transaction_id,
    )
    return PurchaseRow(**row) if row else None


async def lock_lines(conn: Connection, customer_id: str, purchase_id: int) -> list[ReturnableLine]:
    """The purchase's lines, locked: concurrent returns of one purchase take turns."""
    rows = await conn.fetch(
        """
        SELECT line_no, sku, quantity, unit_price, points, returned_quantity, reversed_points
        FROM purchase_lines WHERE customer_id = $1 AND purchase_id = $2
        ORDER BY line_no FOR UPDATE
        """,
        customer_id,
        purchase_id,
    )
    return [ReturnableLine(**row) for row in rows]


async def mark_returned(
    conn: Connection,
    customer_id: str,
    purchase_id: int,
    changes: Sequence[tuple[int, int, int]],
) -> None:
    """Add (line_no, quantity, points) to what each line has had returned and reversed."""
    await conn.execute(
        """
        UPDATE purchase_lines l
        SET returned_quantity = l.returned_quantity + c.quantity,
            reversed_points = l.reversed_points + c.points
        FROM unnest($3::integer[], $4::integer[], $5::bigint[]) AS c(line_no, quantity, points)
        WHERE l.customer_id = $1 AND l.purchase_id = $2 AND l.line_no = c.line_no
        """,
        customer_id,
        purchase_id,
        [line_no for line_no, _, _ in changes],
        [quantity for _, quantity, _ in changes],
        [points for _, _, points in changes],
    )


async def insert_return(
    conn: Connection,
    customer_id: str,
    purchase_id: int,
    store_id: str,
    return_id: str,
    amount: int,
    points: int,
) -> int:
    return_key: int = await conn.fetchval(
        """
        INSERT INTO returns (customer_id, purchase_id, store_id, return_id, amount, points)
        VALUES ($1, $2, $3, $4, $5, $6) RETURNING id
        """,
        customer_id,
        purchase_id,
        store_id,
        return_id,
        amount,
        points,
    )
    return return_key
