"""Use cases: each owns one transaction and speaks in domain terms."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from loyalty.domain.access import Principal, Role, generate_api_key, secret_matches, split_api_key
from loyalty.domain.cart import MAX_UNIT_PRICE, PurchaseRequest, validate_identifier
from loyalty.domain.cart import validate_purchase as check_purchase
from loyalty.domain.earning import BASE_EARN, evaluate_base_earn, parse_base_earn
from loyalty.errors import IdempotencyConflictError, InsufficientPointsError, ValidationError
from loyalty.store import accounts, apikeys, audit, catalog, idempotency, ledger, purchases
from loyalty.store.database import Connection, Pool, connection, transaction

PURCHASE_SCOPE = "purchase"
ADJUST_SCOPE = "adjust"
MAX_ADJUSTMENT = 1_000_000_000
MAX_PRODUCTS_PER_CALL = 1_000
MAX_PAGE = 100


@dataclass(frozen=True)
class AwardResult:
    rule_id: int
    rule_name: str
    kind: str
    points: int


@dataclass(frozen=True)
class PurchaseOutcome:
    purchase: purchases.PurchaseRow
    lines: list[purchases.LineRow]
    awards: list[AwardResult]
    balance: int
    unknown_skus: list[str]
    replayed: bool

    @property
    def points(self) -> int:
        return self.purchase.points


@dataclass(frozen=True)
class AdjustOutcome:
    entry: ledger.EntryRow
    balance: int
    replayed: bool


@dataclass(frozen=True)
class LedgerPage:
    entries: list[ledger.EntryRow]
    has_next: bool


async def _claim_or_replay(
    conn: Connection, scope: str, key: str, customer_id: str, request_hash: bytes
) -> dict[str, Any] | None:
    """None when this request is the first with its key; else the result it had then."""
    for _ in range(3):
        if await idempotency.claim_key(conn, scope, key, customer_id, request_hash):
            return None
        stored = await idempotency.get_stored_result(conn, scope, key)
        if stored is None:
            continue  # the first holder rolled back; the key is free again
        if stored.request_hash != request_hash:
            raise IdempotencyConflictError(key)
        return stored.result
    raise IdempotencyConflictError(key)


async def record_purchase(pool: Pool, request: PurchaseRequest) -> PurchaseOutcome:
    request = check_purchase(request)
    key = f"{request.store_id}\x1f{request.transaction_id}"
    async with transaction(pool) as conn:
        stored = await _claim_or_replay(
            conn, PURCHASE_SCOPE, key, request.customer_id, request.fingerprint()
        )
        if stored is not None:
            return await _replayed_purchase(conn, request.customer_id, stored)
        return await _new_purchase(conn, request, key)


async def _new_purchase(conn: Connection, request: PurchaseRequest, key: str) -> PurchaseOutcome:
    known = await catalog.known_skus(conn, sorted({line.sku for line in request.lines}))
    rules = [
        parse_base_earn(rule.id, rule.name, rule.config)
        for rule in await catalog.active_rules(conn, BASE_EARN)
    ]
    earning = evaluate_base_earn(request.lines, rules)
    balance = await accounts.credit_account(conn, request.customer_id, earning.points)
    purchase = await purchases.insert_purchase(
        conn,
        customer_id=request.customer_id,
        store_id=request.store_id,
        transaction_id=request.transaction_id,
        channel=request.channel,
        occurred_at=request.occurred_at,
        subtotal=request.subtotal,
        points=earning.points,
    )
    line_points = earning.line_points(len(request.lines))
    lines = [
        purchases.LineRow(n, line.sku, line.quantity, line.unit_price, line.sku in known, points)
        for n, (line, points) in enumerate(zip(request.lines, line_points, strict=True))
    ]
    await purchases.insert_lines(conn, request.customer_id, purchase.id, lines)
    entries = [
        ledger.NewEntry("earn", award.points, purchase.id, award.rule_id, award.rule_name)
        for award in earning.awards
    ]
    if entries:
        await ledger.insert_entries(conn, request.customer_id, entries, balance)
    awards = [AwardResult(a.rule_id, a.rule_name, a.kind, a.points) for a in earning.awards]
    unknown = sorted({line.sku for line in lines if not line.known})
    await idempotency.save_result(
        conn,
        PURCHASE_SCOPE,
        key,
        {
            "purchase_id": purchase.id,
            "balance": balance,
            "awards": [a.__dict__ for a in awards],
            "unknown_skus": unknown,
        },
    )
    return PurchaseOutcome(purchase, lines, awards, balance, unknown, replayed=False)


async def _replayed_purchase(
    conn: Connection, customer_id: str, stored: dict[str, Any]
) -> PurchaseOutcome:
    purchase = await purchases.get_purchase(conn, customer_id, stored["purchase_id"])
    assert purchase is not None, "an idempotency key points at a missing purchase"
    return PurchaseOutcome(
        purchase=purchase,
        lines=await purchases.get_lines(conn, customer_id, purchase.id),
        awards=[AwardResult(**award) for award in stored["awards"]],
        balance=stored["balance"],
        unknown_skus=stored["unknown_skus"],
        replayed=True,
    )


async def adjust_points(
    pool: Pool,
    *,
    customer_id: str,
    points: int,
    reason: str,
    idempotency_key: str,
    allow_debt: bool = False,
) -> AdjustOutcome:
    customer_id = validate_identifier("customerId", customer_id)
    idempotency_key = validate_identifier("idempotencyKey", idempotency_key)
    reason = reason.strip()
    if not 0 < abs(points) <= MAX_ADJUSTMENT:
        raise ValidationError("points", f"points must be non-zero and at most {MAX_ADJUSTMENT}")
    if not 0 < len(reason) <= 500:
        raise ValidationError("reason", "a reason of 1 to 500 characters is required")
    content = [customer_id, points, reason, allow_debt]
    request_hash = hashlib.sha256(json.dumps(content).encode()).digest()
    async with transaction(pool) as conn:
        stored = await _claim_or_replay(
            conn, ADJUST_SCOPE, idempotency_key, customer_id, request_hash
        )
        if stored is not None:
            return await _replayed_adjustment(conn, customer_id, stored)
        await accounts.ensure_account(conn, customer_id)
        account = await accounts.lock_account(conn, customer_id)
        assert account is not None
        if account.balance + points < 0 and not allow_debt:
            raise InsufficientPointsError(account.balance, -points)
        balance = await accounts.change_balance(conn, customer_id, points)
        entry = ledger.NewEntry("adjust", points, reason=reason, debt_allowed=allow_debt)
        [row] = await ledger.insert_entries(conn, customer_id, [entry], balance)
        await idempotency.save_result(
            conn, ADJUST_SCOPE, idempotency_key, {"entry_id": row.id, "balance": balance}
        )
        return AdjustOutcome(row, balance, replayed=False)


async def _replayed_adjustment(
    conn: Connection, customer_id: str, stored: dict[str, Any]
) -> AdjustOutcome:
    entry = await ledger.get_entry(conn, customer_id, stored["entry_id"])
    assert entry is not None, "an idempotency key points at a missing entry"
    return AdjustOutcome(entry, stored["balance"], replayed=True)


async def get_account(pool: Pool, customer_id: str) -> accounts.AccountRow | None:
    async with connection(pool) as conn:
        return await accounts.get_account(conn, customer_id)


async def ledger_page(
    pool: Pool, customer_id: str, first: int, before_id: int | None
) -> LedgerPage:
    if not 1 <= first <= MAX_PAGE:
        raise ValidationError("first", f"first must be between 1 and {MAX_PAGE}")
    async with connection(pool) as conn:
        rows = await ledger.list_entries(conn, customer_id, before_id, first + 1)
    return LedgerPage(rows[:first], has_next=len(rows) > first)


async def upsert_products(pool: Pool, products: Sequence[catalog.ProductRow]) -> int:
    if not 0 < len(products) <= MAX_PRODUCTS_PER_CALL:
        raise ValidationError("products", f"send 1 to {MAX_PRODUCTS_PER_CALL} products a call")
    checked = [_check_product(index, product) for index, product in enumerate(products)]
    skus = [product.sku for product in checked]
    if len(set(skus)) != len(skus):
        raise ValidationError("products", "each sku may appear once per call")
    async with transaction(pool) as conn:
        await catalog.upsert_products(conn, checked)
    return len(checked)


def _check_product(index: int, product: catalog.ProductRow) -> catalog.ProductRow:
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
    return catalog.ProductRow(
        sku=validate_identifier(f"{field}.sku", product.sku),
        name=validate_identifier(f"{field}.name", product.name),
        category=validate_identifier(f"{field}.category", product.category).lower(),
        family=family or None,
        size_rank=product.size_rank,
        price=product.price,
    )


async def list_products(
    pool: Pool, first: int, after_sku: str | None, category: str | None
) -> list[catalog.ProductRow]:
    if not 1 <= first <= MAX_PAGE:
        raise ValidationError("first", f"first must be between 1 and {MAX_PAGE}")
    async with connection(pool) as conn:
        return await catalog.list_products(conn, after_sku, first, category)


async def create_api_key(pool: Pool, role: Role, store_id: str | None, label: str = "") -> str:
    if role is Role.CUSTOMER:
        raise ValidationError("role", "customers sign in with tokens, not API keys")
    if store_id is not None:
        store_id = validate_identifier("store", store_id)
    key = generate_api_key()
    async with transaction(pool) as conn:
        await apikeys.insert_api_key(conn, key.prefix, key.secret_hash, role.value, store_id, label)
    return key.plaintext


async def principal_for_api_key(pool: Pool, key: str) -> Principal | None:
    parts = split_api_key(key)
    if parts is None:
        return None
    prefix, secret = parts
    async with connection(pool) as conn:
        row = await apikeys.find_api_key(conn, prefix)
    if row is None or not secret_matches(secret, row.secret_hash):
        return None
    return Principal(Role(row.role), store_id=row.store_id, key_id=row.id)


async def verify_ledger(pool: Pool, limit: int = 100) -> list[audit.Violation]:
    async with connection(pool) as conn, conn.transaction(isolation="repeatable_read"):
        return [
            *await audit.balance_mismatches(conn, limit),
            *await audit.unexplained_debts(conn, limit),
            *await audit.purchases_without_entries(conn, limit),
            *await audit.lines_disagree_with_purchases(conn, limit),
        ]


async def purchases_by_keys(
    pool: Pool, keys: Sequence[tuple[str, int]]
) -> list[purchases.PurchaseRow | None]:
    async with connection(pool) as conn:
        found = await purchases.get_purchases(conn, keys)
    return [found.get(key) for key in keys]


async def lines_by_keys(
    pool: Pool, keys: Sequence[tuple[str, int]]
) -> list[list[purchases.LineRow]]:
    async with connection(pool) as conn:
        found = await purchases.get_lines_of(conn, keys)
    return [found[key] for key in keys]


async def accounts_by_ids(
    pool: Pool, customer_ids: Sequence[str]
) -> list[accounts.AccountRow | None]:
    async with connection(pool) as conn:
        found = await accounts.get_accounts(conn, list(customer_ids))
    return [found.get(customer_id) for customer_id in customer_ids]


async def load_seed(pool: Pool, seed: dict[str, Any]) -> bool:
    """Load a program, its catalog and rules into an empty database; False if it had rules."""
    program = seed["program"]
    products = [
        catalog.ProductRow(**{"family": None, "size_rank": None, **p}) for p in seed["products"]
    ]
    await upsert_products(pool, products)
    async with transaction(pool) as conn:
        await catalog.ensure_program(
            conn, program["name"], program["currency"], program["timezone"]
        )
        if await catalog.count_rules(conn) > 0:
            return False
        for rule in seed["rules"]:
            if rule["kind"] == BASE_EARN:
                parse_base_earn(0, rule["name"], rule["config"])
            await catalog.insert_rule(conn, rule["kind"], rule["name"], rule["config"])
    return True
