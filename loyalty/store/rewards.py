"""The reward catalog and the vouchers bought from it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from loyalty.store.database import Connection

REWARD_COLUMNS = "id, name, description, points_cost, days_valid, active"
VOUCHER_COLUMNS = "code, customer_id, reward_id, points_cost, expires_at, state"


@dataclass(frozen=True)
class RewardRow:
    id: int
    name: str
    description: str
    points_cost: int
    days_valid: int
    active: bool


@dataclass(frozen=True)
class VoucherRow:
    code: str
    customer_id: str
    reward_id: int
    points_cost: int
    expires_at: datetime
    state: str


async def insert_reward(
    conn: Connection, name: str, description: str, points_cost: int, days_valid: int
) -> RewardRow:
    row = await conn.fetchrow(
        f"""
        INSERT INTO rewards (name, description, points_cost, days_valid)
        VALUES ($1, $2, $3, $4) RETURNING {REWARD_COLUMNS}
        """,
        name,
        description,
        points_cost,
        days_valid,
    )
    assert row is not None
    return RewardRow(**row)


async def list_rewards(conn: Connection) -> list[RewardRow]:
    rows = await conn.fetch(
        f"SELECT {REWARD_COLUMNS} FROM rewards WHERE active ORDER BY points_cost, id"
    )
    return [RewardRow(**row) for row in rows]


async def get_reward(conn: Connection, reward_id: int) -> RewardRow | None:
    row = await conn.fetchrow(f"SELECT {REWARD_COLUMNS} FROM rewards WHERE id = $1", reward_id)
    return RewardRow(**row) if row else None


async def insert_voucher(
    conn: Connection,
    code: str,
    customer_id: str,
    reward: RewardRow,
    expires_at: datetime,
) -> VoucherRow:
    row = await conn.fetchrow(
        f"""
        INSERT INTO vouchers (code, customer_id, reward_id, points_cost, expires_at)
        VALUES ($1, $2, $3, $4, $5) RETURNING {VOUCHER_COLUMNS}
        """,
        code,
        customer_id,
        reward.id,
        reward.points_cost,
        expires_at,
    )
    assert row is not None
    return VoucherRow(**row)


async def get_voucher(conn: Connection, code: str) -> VoucherRow | None:
    row = await conn.fetchrow(f"SELECT {VOUCHER_COLUMNS} FROM vouchers WHERE code = $1", code)
    return VoucherRow(**row) if row else None


async def use_voucher(conn: Connection, code: str, store_id: str) -> VoucherRow | None:
    """Mark an issued, unexpired voucher used; None if it was not (any longer) usable."""
    row = await conn.fetchrow(
        f"""
        UPDATE vouchers SET state = 'redeemed', redeemed_at = now(), redeemed_store_id = $2
        WHERE code = $1 AND state = 'issued' AND expires_at > now()
        RETURNING {VOUCHER_COLUMNS}
        """,
        code,
        store_id,
    )
    return VoucherRow(**row) if row else None
