"""Claiming an idempotency key inside a use case's transaction."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from loyalty.errors import IdempotencyConflictError
from loyalty.store import idempotency
from loyalty.store.database import Connection


def fingerprint(content: Any) -> bytes:
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).digest()


async def claim_or_replay(
    conn: Connection,
    scope: str,
    key: str,
    customer_id: str,
    request_hash: bytes,
    *,
    shown_key: str | None = None,
) -> dict[str, Any] | None:
    """None when this request is the first with its key; else the result it had then.

    A concurrent request with the same key waits on the first one's row lock, then replays.
    """
    for _ in range(3):
        if await idempotency.claim_key(conn, scope, key, customer_id, request_hash):
            return None
        stored = await idempotency.get_stored_result(conn, scope, key)
        if stored is None:
            continue  # the first holder rolled back; the key is free again
        if stored.request_hash != request_hash:
            raise IdempotencyConflictError(shown_key or key)
        return stored.result
    raise IdempotencyConflictError(shown_key or key)


save_result = idempotency.save_result
