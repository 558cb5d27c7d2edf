"""The program and its products: small reference tables."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from loyalty.store.database import Connection


@dataclass(frozen=True)
class ProductRow:
    sku: str
    name: str
    category: str
    family: str | None
    size_rank: int | None
    price: int


async def upsert_products(conn: Connection, products: Sequence[ProductRow]) -> None:
    await conn.execute(
        """
        INSERT INTO products AS p (sku, name, category, family, size_rank, price)
        SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::integer[],
                             $6::bigint[])
        ON CONFLICT (sku) DO UPDATE
        SET name = EXCLUDED.name, category = EXCLUDED.category, family = EXCLUDED.family,
            size_rank = EXCLUDED.size_rank, price = EXCLUDED.price, updated_at = now()
        """,
        [p.sku for p in products],
        [p.name for p in products],
        [p.category for p in products],
        [p.family for p in products],
        [p.size_rank for p in products],
        [p.price for p in products],
    )


async def list_products(
    conn: Connection, after_sku: str | None, limit: int, category: str | None
) -> list[ProductRow]:
    rows = await conn.fetch(
        """
        SELECT sku, name, category, family, size_rank, price FROM products
        WHERE ($1::text IS NULL OR sku > $1) AND ($2::text IS NULL OR category = $2)
        ORDER BY sku LIMIT $3
        """,
        after_sku,
        category,
        limit,
    )
    return [ProductRow(**row) for row in rows]


async def ensure_program(conn: Connection, name: str, currency: str, timezone: str) -> None:
    await conn.execute(
        """
        INSERT INTO program (id, name, currency, timezone) VALUES (1, $1, $2, $3)
        ON CONFLICT (id) DO NOTHING
        """,
        name,
        currency,
        timezone,
    )


CATALOG_LOCK_ID = 0x6C6F79616C7479  # "loyalty"; other advisory locks use other ids

PROGRAM_COLUMNS = """name, currency, timezone, nudge_add_on_max_percent, nudge_gap_max_percent,
    tier_window, tier_grace_days, expiry_months, pending_days"""


@dataclass(frozen=True)
class ProgramRow:
    name: str
    currency: str
    timezone: str
    nudge_add_on_max_percent: int
    nudge_gap_max_percent: int
    tier_window: str
    tier_grace_days: int
    expiry_months: int | None
    pending_days: int


async def get_program(conn: Connection) -> ProgramRow | None:
    row = await conn.fetchrow(f"SELECT {PROGRAM_COLUMNS} FROM program WHERE id = 1")
    return ProgramRow(**row) if row else None


async def lock_program(conn: Connection) -> ProgramRow | None:
    """The program's settings, locked until the transaction ends: a change's "before"."""
    row = await conn.fetchrow(f"SELECT {PROGRAM_COLUMNS} FROM program WHERE id = 1 FOR UPDATE")
    return ProgramRow(**row) if row else None


async def set_tier_policy(conn: Connection, window: str, grace_days: int) -> bool:
    status = await conn.execute(
        "UPDATE program SET tier_window = $1, tier_grace_days = $2 WHERE id = 1",
        window,
        grace_days,
    )
    return status == "UPDATE 1"


async def set_points_policy(conn: Connection, expiry_months: int | None, pending_days: int) -> bool:
    status = await conn.execute(
        "UPDATE program SET expiry_months = $1, pending_days = $2 WHERE id = 1",
        expiry_months,
        pending_days,
    )
    return status == "UPDATE 1"


async def set_nudge_limits(conn: Connection, add_on_percent: int, gap_percent: int) -> bool:
    status = await conn.execute(
        """
        UPDATE program SET nudge_add_on_max_percent = $1, nudge_gap_max_percent = $2
        WHERE id = 1
        """,
        add_on_percent,
        gap_percent,
    )
    return status == "UPDATE 1"


async def get_products(conn: Connection, skus: Sequence[str]) -> dict[str, ProductRow]:
    rows = await conn.fetch(
        """
        SELECT sku, name, category, family, size_rank, price FROM products
        WHERE sku = ANY($1::text[])
        """,
        list(skus),
    )
    return {row["sku"]: ProductRow(**row) for row in rows}


async def lock_catalog(conn: Connection) -> None:
    """Catalog changes take turns: a row lock cannot hold a sku that does not exist yet."""
    await conn.execute("SELECT pg_advisory_xact_lock($1)", CATALOG_LOCK_ID)


async def lock_products(conn: Connection, skus: Sequence[str]) -> dict[str, ProductRow]:
    """The products as they are now, locked until the transaction ends."""
    rows = await conn.fetch(
        """
        SELECT sku, name, category, family, size_rank, price FROM products
        WHERE sku = ANY($1::text[]) ORDER BY sku FOR UPDATE
        """,
        list(skus),
    )
    return {row["sku"]: ProductRow(**row) for row in rows}


async def categories(conn: Connection) -> set[str]:
    rows = await conn.fetch("SELECT DISTINCT category FROM products")
    return {row["category"] for row in rows}


async def family_sizes(conn: Connection, families: Sequence[str]) -> dict[str, set[int]]:
    rows = await conn.fetch(
        """
        SELECT family, size_rank FROM products
        WHERE family = ANY($1::text[]) AND size_rank IS NOT NULL
        """,
        list(families),
    )
    sizes: dict[str, set[int]] = {}
    for row in rows:
        sizes.setdefault(row["family"], set()).add(row["size_rank"])
    return sizes


async def category_sizes(conn: Connection, categories: Sequence[str]) -> dict[str, set[int]]:
    rows = await conn.fetch(
        """
        SELECT DISTINCT category, size_rank FROM products
        WHERE category = ANY($1::text[]) AND size_rank IS NOT NULL
        """,
        list(categories),
    )
    sizes: dict[str, set[int]] = {}
    for row in rows:
        sizes.setdefault(row["category"], set()).add(row["size_rank"])
    return sizes


async def sku_categories(conn: Connection, skus: Sequence[str]) -> dict[str, str]:
    rows = await conn.fetch(
        "SELECT sku, category FROM products WHERE sku = ANY($1::text[])", list(skus)
    )
    return {row["sku"]: row["category"] for row in rows}
