"""API keys: stored as a public prefix and a hash of the secret part."""

from __future__ import annotations

from dataclasses import dataclass

from loyalty.store.database import Connection


@dataclass(frozen=True)
class ApiKeyRow:
    id: int
    prefix: str
    secret_hash: bytes
    role: str
    store_id: str | None
    label: str


async def insert_api_key(
    conn: Connection, prefix: str, secret_hash: bytes, role: str, store_id: str | None, label: str
) -> int:
    key_id: int = await conn.fetchval(
        """
        INSERT INTO api_keys (prefix, secret_hash, role, store_id, label)
        VALUES ($1, $2, $3, $4, $5) RETURNING id
        """,
        prefix,
        secret_hash,
        role,
        store_id,
        label,
    )
    return key_id


async def find_api_key(conn: Connection, prefix: str) -> ApiKeyRow | None:
    row = await conn.fetchrow(
        """
        SELECT id, prefix, secret_hash, role, store_id, label FROM api_keys
        WHERE prefix = $1 AND revoked_at IS NULL
        """,
        prefix,
    )
    return ApiKeyRow(**row) if row else None


async def revoke_api_key(conn: Connection, prefix: str) -> ApiKeyRow | None:
    row = await conn.fetchrow(
        """
        UPDATE api_keys SET revoked_at = now()
        WHERE prefix = $1 AND revoked_at IS NULL
        RETURNING id, prefix, secret_hash, role, store_id, label
        """,
        prefix,
    )
    return ApiKeyRow(**row) if row else None
