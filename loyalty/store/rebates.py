"""Rebate codes: issued to a customer, redeemed once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from loyalty.domain.rebates import Rebate
from loyalty.store.database import Connection

CODE_COLUMNS = """
    code, customer_id, bound, amount_off, percent_off, min_spend, expires_at, state
"""


@dataclass(frozen=True)
class NewRebate:
    code: str
    customer_id: str
    bound: bool
    amount_off: int | None
    percent_off: int | None
    min_spend: int
    expires_at: datetime
    rule_id: int | None = None
    issued_purchase_id: int | None = None
    issued_for_sku: str | None = None


async def insert_code(conn: Connection, rebate: NewRebate) -> Rebate:
    row = await conn.fetchrow(
        f"""
        INSERT INTO rebate_codes
            (code, customer_id, bound, amount_off, percent_off, min_spend, expires_at, rule_id,
             issued_purchase_id, issued_for_sku)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
        RETURNING {CODE_COLUMNS}
        """,
        rebate.code,
        rebate.customer_id,
        rebate.bound,
        rebate.amount_off,
        rebate.percent_off,
        rebate.min_spend,
        rebate.expires_at,
        rebate.rule_id,
        rebate.issued_purchase_id,
        rebate.issued_for_sku,
    )
    assert row is not None
    return Rebate(**row)


async def get_code(conn: Connection, code: str) -> Rebate | None:
    row = await conn.fetchrow(f"SELECT {CODE_COLUMNS} FROM rebate_codes WHERE code = $1", code)
    return Rebate(**row) if row else None


async def lock_code(conn: Connection, code: str) -> Rebate | None:
    """The code, locked: a concurrent redemption waits here and then sees it redeemed."""
    row = await conn.fetchrow(
        f"SELECT {CODE_COLUMNS} FROM rebate_codes WHERE code = $1 FOR UPDATE", code
    )
    return Rebate(**row) if row else None


async def mark_redeemed(
    conn: Connection, code: str, customer_id: str, purchase_id: int, discount: int
) -> None:
    await conn.execute(
        """
        UPDATE rebate_codes
        SET state = 'redeemed', redeemed_at = now(), redeemed_by = $2,
            redeemed_purchase_id = $3, discount = $4
        WHERE code = $1 AND state = 'issued'
        """,
        code,
        customer_id,
        purchase_id,
        discount,
    )


async def codes_of(conn: Connection, customer_id: str, limit: int) -> list[Rebate]:
    rows = await conn.fetch(
        f"""
        SELECT {CODE_COLUMNS} FROM rebate_codes WHERE customer_id = $1
        ORDER BY issued_at DESC, code LIMIT $2
        """,
        customer_id,
        limit,
    )
    return [Rebate(**row) for row in rows]


async def revoke_for_items(
    conn: Connection, customer_id: str, purchase_id: int, skus: list[str]
) -> list[str]:
    """Withdraw the unused codes a purchase earned with these items; return their codes."""
    rows = await conn.fetch(
        """
        UPDATE rebate_codes SET state = 'revoked'
        WHERE customer_id = $1 AND issued_purchase_id = $2 AND issued_for_sku = ANY($3::text[])
          AND state = 'issued'
        RETURNING code
        """,
        customer_id,
        purchase_id,
        skus,
    )
    return [row["code"] for row in rows]
