"""The object types clients read."""

from __future__ import annotations

import base64
from datetime import datetime
from enum import Enum

import strawberry

from loyalty import service
from loyalty.api.context import Info
from loyalty.errors import ValidationError
from loyalty.store.accounts import AccountRow
from loyalty.store.catalog import ProductRow
from loyalty.store.ledger import EntryRow
from loyalty.store.purchases import LineRow, PurchaseRow

CURSOR_PREFIX = "entry:"


@strawberry.enum
class LedgerEntryKind(Enum):
    EARN = "earn"
    BONUS = "bonus"
    REDEEM = "redeem"
    ADJUST = "adjust"
    EXPIRE = "expire"
    REVERSE = "reverse"


@strawberry.enum
class Channel(Enum):
    POS = "pos"
    APP = "app"
    WEB = "web"


@strawberry.type
class PurchaseLine:
    line_number: int
    sku: str
    quantity: int
    unit_price: int = strawberry.field(description="Price of one unit, in minor units.")
    amount: int = strawberry.field(description="quantity x unitPrice, in minor units.")
    known: bool = strawberry.field(description="False when the sku is not in the catalog.")
    points: int = strawberry.field(description="Points this line earned.")

    @classmethod
    def from_row(cls, row: LineRow) -> PurchaseLine:
        return cls(
            line_number=row.line_no + 1,
            sku=row.sku,
            quantity=row.quantity,
            unit_price=row.unit_price,
            amount=row.quantity * row.unit_price,
            known=row.known,
            points=row.points,
        )


@strawberry.type
class Purchase:
    id: strawberry.ID
    customer_id: str
    store_id: str
    transaction_id: str
    channel: Channel
    occurred_at: datetime
    subtotal: int = strawberry.field(description="Sum of the lines, in minor units.")
    points_earned: int

    @strawberry.field
    async def lines(self, info: Info) -> list[PurchaseLine]:
        rows = await info.context.loaders.lines.load((self.customer_id, int(self.id)))
        return [PurchaseLine.from_row(row) for row in rows]

    @strawberry.field
    async def customer(self, info: Info) -> Customer | None:
        row = await info.context.loaders.accounts.load(self.customer_id)
        return Customer.from_row(row) if row else None

    @classmethod
    def from_row(cls, row: PurchaseRow) -> Purchase:
        return cls(
            id=strawberry.ID(str(row.id)),
            customer_id=row.customer_id,
            store_id=row.store_id,
            transaction_id=row.transaction_id,
            channel=Channel(row.channel),
            occurred_at=row.occurred_at,
            subtotal=row.subtotal,
            points_earned=row.points,
        )


@strawberry.type
class LedgerEntry:
    id: strawberry.ID
    kind: LedgerEntryKind
    points: int = strawberry.field(description="Positive adds to the balance, negative takes.")
    balance_after: int
    reason: str
    rule_id: strawberry.ID | None
    created_at: datetime
    customer_id: strawberry.Private[str]
    purchase_id: strawberry.Private[int | None]

    @strawberry.field
    async def purchase(self, info: Info) -> Purchase | None:
        if self.purchase_id is None:
            return None
        row = await info.context.loaders.purchases.load((self.customer_id, self.purchase_id))
        return Purchase.from_row(row) if row else None

    @classmethod
    def from_row(cls, row: EntryRow) -> LedgerEntry:
        return cls(
            id=strawberry.ID(str(row.id)),
            kind=LedgerEntryKind(row.kind),
            points=row.points,
            balance_after=row.balance_after,
            reason=row.reason,
            rule_id=strawberry.ID(str(row.rule_id)) if row.rule_id is not None else None,
            created_at=row.created_at,
            customer_id=row.customer_id,
            purchase_id=row.purchase_id,
        )


@strawberry.type
class LedgerEdge:
    cursor: str
    node: LedgerEntry


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class LedgerConnection:
    edges: list[LedgerEdge]
    page_info: PageInfo


def encode_cursor(entry_id: int) -> str:
    return base64.urlsafe_b64encode(f"{CURSOR_PREFIX}{entry_id}".encode()).decode()


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        if text.startswith(CURSOR_PREFIX):
            return int(text.removeprefix(CURSOR_PREFIX))
    except ValueError:
        pass
    raise ValidationError("after", "after is not a cursor this API gave out")


@strawberry.type
class Customer:
    id: strawberry.ID
    balance: int = strawberry.field(description="Points available now.")
    lifetime_points: int = strawberry.field(description="All points ever earned.")
    member_since: datetime | None

    @strawberry.field(description="Ledger entries, newest first.")
    async def ledger(
        self, info: Info, first: int = 20, after: str | None = None
    ) -> LedgerConnection:
        before_id = decode_cursor(after) if after else None
        page = await service.ledger_page(info.context.pool, str(self.id), first, before_id)
        edges = [
            LedgerEdge(cursor=encode_cursor(row.id), node=LedgerEntry.from_row(row))
            for row in page.entries
        ]
        end = edges[-1].cursor if edges else None
        return LedgerConnection(
            edges=edges, page_info=PageInfo(has_next_page=page.has_next, end_cursor=end)
        )

    @classmethod
    def from_row(cls, row: AccountRow) -> Customer:
        return cls(
            id=strawberry.ID(row.customer_id),
            balance=row.balance,
            lifetime_points=row.lifetime_points,
            member_since=row.created_at,
        )

    @classmethod
    def newcomer(cls, customer_id: str) -> Customer:
        return cls(id=strawberry.ID(customer_id), balance=0, lifetime_points=0, member_since=None)


@strawberry.type
class RuleAward:
    rule_id: strawberry.ID
    rule_name: str
    kind: str
    points: int


@strawberry.type
class Product:
    sku: str
    name: str
    category: str
    family: str | None
    size_rank: int | None
    price: int = strawberry.field(description="List price in minor units.")

    @classmethod
    def from_row(cls, row: ProductRow) -> Product:
        return cls(
            sku=row.sku,
            name=row.name,
            category=row.category,
            family=row.family,
            size_rank=row.size_rank,
            price=row.price,
        )
