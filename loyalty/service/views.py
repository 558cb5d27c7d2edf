"""Rows the API renders, and the batch reads its per-request loaders make."""

from __future__ import annotations

from collections.abc import Sequence

from loyalty.store import purchases
from loyalty.store.accounts import AccountRow
from loyalty.store.audit import Violation
from loyalty.store.catalog import ProductRow
from loyalty.store.database import Pool, connection
from loyalty.store.ledger import EntryRow
from loyalty.store.purchases import LineRow, PurchaseRow
from loyalty.store.rules import RuleRow

__all__ = [
    "AccountRow",
    "EntryRow",
    "LineRow",
    "Pool",
    "ProductRow",
    "PurchaseRow",
    "RuleRow",
    "Violation",
    "lines_by_keys",
    "purchases_by_keys",
]


async def purchases_by_keys(
    pool: Pool, keys: Sequence[tuple[str, int]]
) -> list[PurchaseRow | None]:
    async with connection(pool) as conn:
        found = await purchases.get_purchases(conn, keys)
    return [found.get(key) for key in keys]


async def lines_by_keys(pool: Pool, keys: Sequence[tuple[str, int]]) -> list[list[LineRow]]:
    async with connection(pool) as conn:
        found = await purchases.get_lines_of(conn, keys)
    return [found[key] for key in keys]
