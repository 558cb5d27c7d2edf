"""API keys for POS systems and admins."""

from __future__ import annotations

import hashlib
import time

from loyalty.domain.access import (
    SYSTEM,
    Actor,
    Principal,
    Role,
    generate_api_key,
    secret_matches,
    split_api_key,
)
from loyalty.domain.cart import validate_identifier
from loyalty.errors import ValidationError
from loyalty.service.changes import record_change
from loyalty.store import apikeys
from loyalty.store.database import Pool, connection, transaction


async def create_api_key(
    pool: Pool, role: Role, store_id: str | None, label: str = "", actor: Actor = SYSTEM
) -> str:
    if role is Role.CUSTOMER:
        raise ValidationError("role", "customers sign in with tokens, not API keys")
    if store_id is not None:
        store_id = validate_identifier("store", store_id)
    key = generate_api_key()
    async with transaction(pool) as conn:
        key_id = await apikeys.insert_api_key(
            conn, key.prefix, key.secret_hash, role.value, store_id, label
        )
        after = {"prefix": key.prefix, "role": role.value, "storeId": store_id, "label": label}
        await record_change(conn, actor, "createApiKey", ("api_key", str(key_id)), None, after)
    return key.plaintext


async def revoke_api_key(pool: Pool, prefix: str, actor: Actor = SYSTEM) -> bool:
    """Revoke a key by its public prefix; False when no live key has it. Processes that have
    the key cached accept it for at most KEY_CACHE_SECONDS more."""
    async with transaction(pool) as conn:
        row = await apikeys.revoke_api_key(conn, prefix)
        if row is None:
            return False
        was = {"prefix": row.prefix, "role": row.role, "storeId": row.store_id, "label": row.label}
        now = {**was, "revoked": True}
        await record_change(conn, actor, "revokeApiKey", ("api_key", str(row.id)), was, now)
    return True


# Keys that checked out, by a hash of the whole key, for a little while: a POS sends its key
# with every request, and a database round trip per request is the price otherwise. A revoked
# key therefore keeps working for at most KEY_CACHE_SECONDS in a process that saw it.
KEY_CACHE_SECONDS = 30.0
KEY_CACHE_SIZE = 10_000
_known_keys: dict[bytes, tuple[Principal, float]] = {}
# Keys that did not check out, for as long: a client retrying with a wrong key, or someone
# trying one, costs a dictionary look-up instead of a database round trip each time.
_refused_keys: dict[bytes, float] = {}


async def principal_for_api_key(pool: Pool, key: str) -> Principal | None:
    parts = split_api_key(key)
    if parts is None:
        return None
    fingerprint = hashlib.sha256(key.encode()).digest()
    now = time.monotonic()
    known = _known_keys.get(fingerprint)
    if known is not None and known[1] > now:
        return known[0]
    if _refused_keys.get(fingerprint, 0.0) > now:
        return None
    prefix, secret = parts
    async with connection(pool) as conn:
        row = await apikeys.find_api_key(conn, prefix)
    if row is None or not secret_matches(secret, row.secret_hash):
        if len(_refused_keys) >= KEY_CACHE_SIZE:
            _refused_keys.clear()
        _refused_keys[fingerprint] = now + KEY_CACHE_SECONDS
        return None
    principal = Principal(Role(row.role), store_id=row.store_id, key_id=row.id, label=row.label)
    if len(_known_keys) >= KEY_CACHE_SIZE:
        _known_keys.clear()
    _known_keys[fingerprint] = (principal, now + KEY_CACHE_SECONDS)
    return principal
