"""Accounts: one row per customer holding the balance the ledger adds up to."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from loyalty.store.database import Connection


@dataclass(frozen=True)
class AccountRow:
    customer_id: str
    balance: int
    lifetime_points: int
    created_at: datetime
    tier: str | None = None
    tier_kept_through: date | None = None


ACCOUNT_COLUMNS = "customer_id, balance, lifetime_points, created_at, tier, tier_kept_through"


async def credit_account(conn: Connection, customer_id: str, points: int) -> int:
    """Create the account on first sight and add earned points; return the new balance."""
    balance: int = await conn.fetchval(
        """
        INSERT INTO accounts AS a (customer_id, balance, lifetime_points)
        VALUES ($1, $2, $2)
        ON CONFLICT (customer_id) DO UPDATE
        SET balance = a.balance + $2,
            lifetime_points = a.lifetime_points + $2,
            updated_at = now()
        RETURNING balance
        """,
        customer_id,
        points,
    )
    return balance


async def lock_account(conn: Connection, customer_id: str) -> AccountRow | None:
    row = await conn.fetchrow(
        f"SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE customer_id = $1 FOR UPDATE",
        customer_id,
    )
    return AccountRow(**row) if row else None


async def lock_or_open_account(conn: Connection, customer_id: str) -> AccountRow:
    """Lock the customer's account, opening it on first sight.

    A returning customer costs one statement; two first writes for one new customer meet on
    the insert, and the second waits for the first to commit before it locks the row.
    """
    account = await lock_account(conn, customer_id)
    if account is None:
        await ensure_account(conn, customer_id)
        account = await lock_account(conn, customer_id)
    assert account is not None
    return account


async def change_balance(conn: Connection, customer_id: str, points: int) -> int:
    """Add (or take) points on a locked account without counting them as earned."""
    balance: int = await conn.fetchval(
        """
        UPDATE accounts SET balance = balance + $2, updated_at = now()
        WHERE customer_id = $1 RETURNING balance
        """,
        customer_id,
        points,
    )
    return balance


async def ensure_account(conn: Connection, customer_id: str) -> None:
    await conn.execute(
        "INSERT INTO accounts (customer_id) VALUES ($1) ON CONFLICT (customer_id) DO NOTHING",
        customer_id,
    )


async def get_accounts(conn: Connection, customer_ids: list[str]) -> dict[str, AccountRow]:
    # PostgreSQL text cannot hold a NUL: no account has such an id, and asking would fail.
    storable = [customer_id for customer_id in customer_ids if "\x00" not in customer_id]
    rows = await conn.fetch(
        f"SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE customer_id = ANY($1::text[])",
        storable,
    )
    return {row["customer_id"]: AccountRow(**row) for row in rows}
