"""Idempotency keys: the first request with a key claims it; replays read its result."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from loyalty.store.database import Connection


@dataclass(frozen=True)
class StoredResult:
    request_hash: bytes
    result: dict[str, Any]


async def claim_key(
    conn: Connection, scope: str, key: str, customer_id: str, request_hash: bytes
) -> bool:
    """True when this transaction now owns the key.

    A concurrent claim of the same key waits here until the first transaction ends,
    so exactly one of them goes on to do the work.
    """
    claimed = await conn.fetchval(
        """
        INSERT INTO idempotency_keys (scope, key, customer_id, request_hash, result)
        VALUES ($1, $2, $3, $4, 'null'::jsonb)
        ON CONFLICT (scope, key) DO NOTHING
        RETURNING true
        """,
        scope,
        key,
        customer_id,
        request_hash,
    )
    return bool(claimed)


async def get_stored_result(conn: Connection, scope: str, key: str) -> StoredResult | None:
    row = await conn.fetchrow(
        "SELECT request_hash, result FROM idempotency_keys WHERE scope = $1 AND key = $2",
        scope,
        key,
    )
    return StoredResult(row["request_hash"], row["result"]) if row else None


async def save_result(conn: Connection, scope: str, key: str, result: dict[str, Any]) -> None:
    await conn.execute(
        "UPDATE idempotency_keys SET result = $3 WHERE scope = $1 AND key = $2",
        scope,
        key,
        result,
    )
