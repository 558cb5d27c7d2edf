"""The catalog, and loading a whole program (catalog and rules) from a seed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from loyalty.domain.access import SYSTEM, Actor
from loyalty.domain.cart import MAX_UNIT_PRICE, validate_identifier
from loyalty.errors import ValidationError
from loyalty.service.changes import record_change
from loyalty.store import catalog
from loyalty.store.catalog import ProductRow
from loyalty.store.database import Pool, connection, transaction

MAX_PRODUCTS_PER_CALL = 1_000
MAX_PAGE = 100


async def upsert_products(pool: Pool, products: Sequence[ProductRow], actor: Actor = SYSTEM) -> int:
    checked = check_products(products)
    async with transaction(pool) as conn:
        await catalog.lock_catalog(conn)
        before = await catalog.lock_products(conn, [product.sku for product in checked])
        await catalog.upsert_products(conn, checked)
        await record_change(
            conn,
            actor,
            "upsertProducts",
            ("products", ""),
            before,
            {product.sku: product for product in checked},
        )
    return len(checked)


def check_products(products: Sequence[ProductRow]) -> list[ProductRow]:
    if not 0 < len(products) <= MAX_PRODUCTS_PER_CALL:
        raise ValidationError("products", f"send 1 to {MAX_PRODUCTS_PER_CALL} products a call")
    checked = [_check_product(index, product) for index, product in enumerate(products)]
    skus = [product.sku for product in checked]
    if len(set(skus)) != len(skus):
        raise ValidationError("products", "each sku may appear once per call")
    return checked


def _check_product(index: int, product: ProductRow) -> ProductRow:
    field = f"products[{index}]"
    family = product.family.strip() if product.family else None
    if family is not None and product.size_rank is None:
        raise ValidationError(f"{field}.sizeRank", "a product in a family needs a sizeRank")
    if product.size_rank is not None and not 0 <= product.size_rank <= 100:
        raise ValidationError(f"{field}.sizeRank", "sizeRank must be between 0 and 100")
    if not 0 <= product.price <= MAX_UNIT_PRICE:
        raise ValidationError(
            f"{field}.price", f"price must be between 0 and {MAX_UNIT_PRICE} minor units"
        )
    return ProductRow(
        sku=validate_identifier(f"{field}.sku", product.sku),
        name=validate_identifier(f"{field}.name", product.name),
        category=validate_identifier(f"{field}.category", product.category).lower(),
        family=family or None,
        size_rank=product.size_rank,
        price=product.price,
    )


async def list_products(
    pool: Pool, first: int, after_sku: str | None, category: str | None
) -> list[ProductRow]:
    if not 1 <= first <= MAX_PAGE:
        raise ValidationError("first", f"first must be between 1 and {MAX_PAGE}")
    async with connection(pool) as conn:
        return await catalog.list_products(conn, after_sku, first, category)


def seed_products(seed: dict[str, Any]) -> list[ProductRow]:
    return check_products(
        [ProductRow(**{"family": None, "size_rank": None, **p}) for p in seed["products"]]
    )
