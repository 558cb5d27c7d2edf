"""API keys for POS systems and admins."""

from __future__ import annotations

from loyalty.domain.access import Principal, Role, generate_api_key, secret_matches, split_api_key
from loyalty.domain.cart import validate_identifier
from loyalty.errors import ValidationError
from loyalty.store import apikeys
from loyalty.store.database import Pool, connection, transaction


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
