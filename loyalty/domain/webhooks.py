"""Webhook deliveries as a receiver sees them: the body, its signature, and when to try again."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import random
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

EVENT_TYPES = (
    "POINTS_EARNED",
    "POINTS_REVERSED",
    "POINTS_REDEEMED",
    "POINTS_ADJUSTED",
    "POINTS_EXPIRED",
    "TIER_CHANGED",
    "CODE_ISSUED",
    "CODE_REVOKED",
)
SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
SIGNATURE_HEADER = "Loyalty-Signature"
EVENT_ID_HEADER = "Loyalty-Event-Id"
MAX_URL_LENGTH = 2000


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def url_problem(url: str) -> str | None:
    """Why this URL cannot receive deliveries, or None when it can."""
    if len(url) > MAX_URL_LENGTH:
        return f"a URL is at most {MAX_URL_LENGTH} characters"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        return "the URL is not valid"
    if parts.scheme not in ("http", "https"):
        return "the URL must start with http:// or https://"
    if not parts.hostname:
        return "the URL must name a host"
    if parts.username or parts.password:
        return "the URL must not carry credentials: verify the signature instead"
    if any(c.isspace() or ord(c) < 32 for c in url):
        return "the URL must not contain spaces or control characters"
    if not url.isascii():
        return "the URL must be ASCII: percent-encode the path, punycode the host"
    return None


def private_address(host: str) -> bool:
    """True for an address (or localhost) that is not on the public internet: loopback,
    private, link-local (cloud metadata), shared, reserved or multicast."""
    name = host.strip("[]").lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False  # a name: checked against what it resolves to, when delivering
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not address.is_global or address.is_multicast


PRIVATE_REFUSED = (
    "deliveries go to public addresses only (LOYALTY_WEBHOOK_PRIVATE=true allows private ones)"
)


def event_body(
    event_id: int, kind: str, customer_id: str, created_at: datetime, data: Any
) -> bytes:
    """The exact bytes posted and signed: compact JSON, keys in a fixed order."""
    event = {
        "id": str(event_id),
        "type": kind,
        "customerId": customer_id,
        "createdAt": created_at.isoformat(),
        "data": data,
    }
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The header value: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def signature_valid(secret: str, header: str, body: bytes, now: int, tolerance: int = 300) -> bool:
    """What a receiver checks: the signature matches and is recent (against replays)."""
    fields = dict(part.partition("=")[::2] for part in header.split(","))
    try:
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = signature(secret, timestamp, body).partition(",v1=")[2]
    return hmac.compare_digest(expected, fields.get("v1", ""))


@dataclass(frozen=True)
class RetryPolicy:
    """How deliveries are made: exponential backoff with jitter (about first, 2x first, 4x
    first... up to cap seconds), a timeout per attempt, how many attempts before giving up,
    and whether private addresses may receive them."""

    first: float = 10.0
    cap: float = 3600.0
    timeout: float = 10.0
    private_ok: bool = False
    # About three days of tries at the defaults: 9 doubling waits, then one an hour.
    max_attempts: int = 80

    def delay(self, attempts: int) -> float:
        """Seconds to wait after the attempts-th failure; jitter spreads a herd of retries."""
        ceiling = min(self.cap, self.first * 2.0 ** min(attempts - 1, 62))
        return ceiling / 2 + random.uniform(0, ceiling / 2)
