"""The object types clients read."""

from __future__ import annotations

import base64
from datetime import UTC, date, datetime, timedelta
from enum import Enum

import strawberry
from strawberry.scalars import JSON

from loyalty import service
from loyalty.api.context import Info
from loyalty.api.lifecycle import ExpiringPoints, TierStatus
from loyalty.api.scalars import BigInt
from loyalty.domain.codes import parse_code
from loyalty.domain.engine import Award, Reason
from loyalty.errors import ValidationError
from loyalty.service import (
    AccountRow,
    EntryRow,
    LineRow,
    NudgeRow,
    ProductRow,
    PurchaseRow,
    QuoteOutcome,
    Rebate,
    RewardRow,
    RuleRow,
    VoucherRow,
)

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
    points: BigInt = strawberry.field(description="Points this line earned.")

    @classmethod
    def from_row(cls, row: LineRow) -> PurchaseLine:
        return cls(
            line_number=row.line_no + 1,
            sku=row.sku,
            quantity=row.quantity,
            unit_price=row.unit_price,
            amount=row.quantity * row.unit_price,
            known=row.known,
            points=BigInt(row.points),
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
    points_earned: BigInt

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
            points_earned=BigInt(row.points),
        )


@strawberry.type
class LedgerEntry:
    id: strawberry.ID
    kind: LedgerEntryKind
    points: BigInt = strawberry.field(description="Positive adds to the balance, negative takes.")
    balance_after: BigInt
    reason: str
    rule_id: strawberry.ID | None
    rule_version: int | None
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
            points=BigInt(row.points),
            balance_after=BigInt(row.balance_after),
            reason=row.reason,
            rule_id=strawberry.ID(str(row.rule_id)) if row.rule_id is not None else None,
            rule_version=row.rule_version,
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
        entry_id = int(text.removeprefix(CURSOR_PREFIX))
        if text.startswith(CURSOR_PREFIX) and 0 < entry_id < 2**63:
            return entry_id
    except ValueError:
        pass
    raise ValidationError("after", "after is not a cursor this API gave out")


@strawberry.enum
class RebateCodeState(Enum):
    ISSUED = "issued"
    REDEEMED = "redeemed"
    EXPIRED = "expired"
    REVOKED = "revoked"


@strawberry.type(description="A thank-you code for a later purchase: single use, expiring.")
class RebateCode:
    code: str = strawberry.field(description="Grouped for reading: THX-XXXX-XXXX-XXXX-X.")
    state: RebateCodeState
    amount_off: int | None = strawberry.field(description="Minor units off the purchase.")
    percent_off: int | None
    min_spend: int
    expires_at: datetime
    bound_to_customer: bool
    usable: bool = strawberry.field(description="Whether it could be used now, as asked.")
    unusable_reason: str | None

    @classmethod
    def from_rebate(cls, rebate: Rebate, refusal: str | None = None) -> RebateCode:
        now = datetime.now(UTC)
        refusal = refusal or rebate.refusal(None, None, now)
        return cls(
            code=str(parse_code(rebate.code)),
            state=RebateCodeState(rebate.state_at(now)),
            amount_off=rebate.amount_off,
            percent_off=rebate.percent_off,
            min_spend=rebate.min_spend,
            expires_at=rebate.expires_at,
            bound_to_customer=rebate.bound,
            usable=refusal is None,
            unusable_reason=refusal,
        )


@strawberry.type
class Customer:
    id: strawberry.ID
    balance: BigInt = strawberry.field(
        description="All points held, pending ones included; negative when points already "
        "spent were taken back by a return (a debt)."
    )
    lifetime_points: BigInt = strawberry.field(description="All points ever earned.")
    member_since: datetime | None
    tier_name: strawberry.Private[str | None] = None
    tier_kept_through: strawberry.Private[date | None] = None

    @strawberry.field(description="Points inside the return window: not spendable yet.")
    async def pending_points(self, info: Info) -> BigInt:
        pending, _ = await info.context.loaders.unspendable.load(str(self.id))
        return BigInt(pending)

    @strawberry.field(
        description="Points that can be spent now: the balance less pending points and points "
        "past their last day that are about to be written off."
    )
    async def available_points(self, info: Info) -> BigInt:
        pending, lapsed = await info.context.loaders.unspendable.load(str(self.id))
        return BigInt(self.balance - pending - lapsed)

    @strawberry.field(description="Points owed after a return took back points already spent.")
    def debt(self) -> BigInt:
        return BigInt(max(-self.balance, 0))

    @strawberry.field(description="What expires when, soonest first (at most 24 dates).")
    async def expiring(self, info: Info, first: int = 5) -> list[ExpiringPoints]:
        rows = await service.expiring_of(info.context.pool, str(self.id), first)
        tz = (await info.context.rulebook.current()).timezone
        return [
            ExpiringPoints(
                points=BigInt(row.points),
                expires_at=row.expires_at,
                last_day=(row.expires_at - timedelta(microseconds=1)).astimezone(tz).date(),
            )
            for row in rows
        ]

    @strawberry.field(
        description="The tier, its multiplier and the way to the next; null "
        "when the program has no tiers."
    )
    async def tier(self, info: Info) -> TierStatus | None:
        status = await service.tier_status(
            info.context.pool,
            info.context.rulebook,
            str(self.id),
            self.tier_name,
            self.tier_kept_through,
        )
        return TierStatus.of(status) if status else None

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

    @strawberry.field(description="Rebate codes issued to this customer, newest first.")
    async def rebate_codes(self, info: Info) -> list[RebateCode]:
        codes = await service.codes_of(info.context.pool, str(self.id))
        return [RebateCode.from_rebate(code) for code in codes]

    @classmethod
    def from_row(cls, row: AccountRow) -> Customer:
        return cls(
            id=strawberry.ID(row.customer_id),
            balance=BigInt(row.balance),
            lifetime_points=BigInt(row.lifetime_points),
            member_since=row.created_at,
            tier_name=row.tier,
            tier_kept_through=row.tier_kept_through,
        )

    @classmethod
    def newcomer(cls, customer_id: str) -> Customer:
        return cls(
            id=strawberry.ID(customer_id),
            balance=BigInt(0),
            lifetime_points=BigInt(0),
            member_since=None,
        )


@strawberry.type
class RuleAward:
    rule_id: strawberry.ID
    rule_version: int
    rule_name: str
    kind: str
    points: BigInt

    @classmethod
    def from_award(cls, award: Award) -> RuleAward:
        return cls(
            rule_id=strawberry.ID(str(award.rule_id)),
            rule_version=award.rule_version,
            rule_name=award.name,
            kind=award.kind,
            points=BigInt(award.points),
        )


@strawberry.type(description="Why a rule did not pay, or paid less.")
class RuleReason:
    rule_id: strawberry.ID
    rule_name: str
    kind: str
    code: str
    message: str

    @classmethod
    def from_reason(cls, reason: Reason) -> RuleReason:
        return cls(
            rule_id=strawberry.ID(str(reason.rule_id)),
            rule_name=reason.name,
            kind=reason.kind,
            code=reason.code,
            message=reason.message,
        )


@strawberry.type(description="What a cart would earn now; nothing is written.")
class Quote:
    points_earned: BigInt
    subtotal: int
    awards: list[RuleAward]
    unknown_skus: list[str]
    raw_reasons: strawberry.Private[tuple[Reason, ...]]

    @strawberry.field
    def reasons(self) -> list[RuleReason]:
        return [RuleReason.from_reason(r) for r in self.raw_reasons]

    @classmethod
    def from_outcome(cls, outcome: QuoteOutcome) -> Quote:
        return cls(
            points_earned=BigInt(outcome.evaluation.points),
            subtotal=outcome.subtotal,
            awards=[RuleAward.from_award(a) for a in outcome.evaluation.awards],
            unknown_skus=outcome.unknown_skus,
            raw_reasons=outcome.evaluation.reasons,
        )


@strawberry.enum
class RuleKind(Enum):
    BASE_EARN = "BASE_EARN"
    UPSIZE = "UPSIZE"
    ADD_ON = "ADD_ON"
    SPEND_THRESHOLD = "SPEND_THRESHOLD"
    BUNDLE = "BUNDLE"
    PRODUCT_BONUS = "PRODUCT_BONUS"


@strawberry.type
class Rule:
    id: strawberry.ID
    version: int = strawberry.field(description="Bumped by every updateRule.")
    kind: RuleKind
    name: str
    status: str = strawberry.field(description="active or archived")
    priority: int
    exclusive: bool
    message: str
    spec: JSON = strawberry.field(
        description="conditions, caps and the kind's parameters, shaped like RuleInput."
    )
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: RuleRow) -> Rule:
        return cls(
            id=strawberry.ID(str(row.id)),
            version=row.version,
            kind=RuleKind(row.kind),
            name=row.name,
            status=row.status,
            priority=row.priority,
            exclusive=row.exclusive,
            message=row.message,
            spec=JSON(row.spec),
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


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


@strawberry.type(description="What to change: replace a line's sku with a larger size, or add.")
class NudgeChange:
    replace_sku: str | None
    add_sku: str
    quantity: int


@strawberry.type(description="A suggestion for the cart, with its exact cost and points.")
class Nudge:
    id: strawberry.ID
    kind: RuleKind
    message: str = strawberry.field(description="Words a cashier can read aloud.")
    extra_cost: int = strawberry.field(description="What the change adds to the bill, minor units.")
    points: BigInt = strawberry.field(description="The points the change adds, exactly.")
    change: NudgeChange
    rule_id: strawberry.ID
    expires_at: datetime

    @classmethod
    def from_row(cls, row: NudgeRow) -> Nudge:
        return cls(
            id=strawberry.ID(str(row.id)),
            kind=RuleKind(row.kind),
            message=row.message,
            extra_cost=row.extra_cost,
            points=BigInt(row.points),
            change=NudgeChange(
                replace_sku=row.replace_sku, add_sku=row.add_sku, quantity=row.quantity
            ),
            rule_id=strawberry.ID(str(row.rule_id)),
            expires_at=row.expires_at,
        )


@strawberry.type
class NudgeClaimRejected:
    nudge_id: str
    reason: str


@strawberry.type(description="Something points buy, e.g. a free medium pizza.")
class Reward:
    id: strawberry.ID
    name: str
    description: str
    points_cost: BigInt
    days_valid: int = strawberry.field(description="How long its voucher can be used.")

    @classmethod
    def from_row(cls, row: RewardRow) -> Reward:
        return cls(
            id=strawberry.ID(str(row.id)),
            name=row.name,
            description=row.description,
            points_cost=BigInt(row.points_cost),
            days_valid=row.days_valid,
        )


@strawberry.type(description="A reward bought with points, honoured once at a store.")
class Voucher:
    code: str = strawberry.field(description="Grouped for reading: RWD-XXXX-XXXX-XXXX-X.")
    reward_name: str
    points_cost: BigInt
    expires_at: datetime
    state: str

    @classmethod
    def from_rows(cls, voucher: VoucherRow, reward: RewardRow) -> Voucher:
        return cls(
            code=str(parse_code(voucher.code)),
            reward_name=reward.name,
            points_cost=BigInt(voucher.points_cost),
            expires_at=voucher.expires_at,
            state=voucher.state,
        )
