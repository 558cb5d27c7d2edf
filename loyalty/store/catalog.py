"""Products and the program's rules: small reference tables."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from loyalty.store.database import Connection


@dataclass(frozen=True)
class ProductRow:
    sku: str
    name: str
    category: str
    family: str | None
    size_rank: int | None
    price: int


@dataclass(frozen=True)
class RuleRow:
    id: int
    kind: str
    name: str
    status: str
    priority: int
    config: dict[str, Any]


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


async def known_skus(conn: Connection, skus: Sequence[str]) -> set[str]:
    rows = await conn.fetch("SELECT sku FROM products WHERE sku = ANY($1::text[])", list(skus))
    return {row["sku"] for row in rows}


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


async def active_rules(conn: Connection, kind: str) -> list[RuleRow]:
    rows = await conn.fetch(
        """
        SELECT id, kind, name, status, priority, config FROM rules
        WHERE kind = $1 AND status = 'active' ORDER BY id
        """,
        kind,
    )
    return [RuleRow(**row) for row in rows]


async def insert_rule(
    conn: Connection, kind: str, name: str, config: dict[str, Any], priority: int = 0
) -> RuleRow:
    row = await conn.fetchrow(
        """
        INSERT INTO rules (kind, name, config, priority) VALUES ($1, $2, $3, $4)
        RETURNING id, kind, name, status, priority, config
        """,
        kind,
        name,
        config,
        priority,
    )
    assert row is not None
    return RuleRow(**row)


async def count_rules(conn: Connection) -> int:
    count: int = await conn.fetchval("SELECT count(*) FROM rules")
    return count


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
