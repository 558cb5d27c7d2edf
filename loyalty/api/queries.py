"""Read operations for apps, POS and admins."""

from __future__ import annotations

import strawberry

from loyalty import service
from loyalty.api.auth import IsAnyone, IsCustomer, IsStaff
from loyalty.api.context import Info
from loyalty.api.types import Customer, Product


@strawberry.type
class Query:
    @strawberry.field(
        permission_classes=[IsCustomer],
        description="The signed-in customer's account (customer token).",
    )
    async def me(self, info: Info) -> Customer:
        principal = info.context.principal
        assert principal is not None and principal.customer_id is not None
        row = await info.context.loaders.accounts.load(principal.customer_id)
        return Customer.from_row(row) if row else Customer.newcomer(principal.customer_id)

    @strawberry.field(
        permission_classes=[IsStaff],
        description="A customer's account by the merchant's id; null if never seen.",
    )
    async def customer(self, info: Info, id: str) -> Customer | None:
        row = await info.context.loaders.accounts.load(id)
        return Customer.from_row(row) if row else None

    @strawberry.field(permission_classes=[IsAnyone], description="The catalog, by sku.")
    async def products(
        self,
        info: Info,
        first: int = 50,
        after: str | None = None,
        category: str | None = None,
    ) -> list[Product]:
        rows = await service.list_products(info.context.pool, first, after, category)
        return [Product.from_row(row) for row in rows]
