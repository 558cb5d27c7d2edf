"""Who is calling: API keys for POS and admins, customer identities from tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from enum import Enum

KEY_PREFIX = "lk"


class Role(Enum):
    CUSTOMER = "customer"
    POS = "pos"
    ADMIN = "admin"


@dataclass(frozen=True)
class Principal:
    role: Role
    customer_id: str | None = None
    store_id: str | None = None
    key_id: int | None = None
    label: str = ""

    @property
    def actor(self) -> Actor:
        """How the change log names this caller."""
        if self.key_id is None:
            return Actor(f"customer {self.customer_id}")
        named = f" ({self.label})" if self.label else ""
        return Actor(f"{self.role.value} key {self.key_id}{named}", self.key_id)


@dataclass(frozen=True)
class Actor:
    """Who made an admin change, as the change log names them."""

    name: str
    key_id: int | None = None


SYSTEM = Actor("system")


@dataclass(frozen=True)
class NewApiKey:
    prefix: str
    secret_hash: bytes
    plaintext: str


def generate_api_key() -> NewApiKey:
    """A key reads lk_<prefix>_<secret>; only the prefix and a hash of the secret are stored."""
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return NewApiKey(prefix, hash_secret(secret), f"{KEY_PREFIX}_{prefix}_{secret}")


def split_api_key(key: str) -> tuple[str, str] | None:
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


def hash_secret(secret: str) -> bytes:
    # The secret has 256 random bits, so a fast hash cannot be brute-forced.
    return hashlib.sha256(secret.encode()).digest()


def secret_matches(secret: str, stored_hash: bytes) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_hash)
