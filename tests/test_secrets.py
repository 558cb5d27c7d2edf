"""Secrets stay secret: the database URL, the token secret and API keys never reach a log line,
an answer, or a command's output."""

import hashlib
import hmac
import logging
import socket
from urllib.parse import urlsplit, urlunsplit

import pytest

from loyalty import service
from loyalty.app import create_app
from loyalty.config import ConfigError, load_settings
from loyalty.domain import access
from loyalty.domain.access import Role
from loyalty.store.database import Pool, create_pool
from tests.support import JWT_SECRET, customer_token, serving
from tests.test_cli import loyalty

PASSWORD = "pw-never-print-me-8d1f"


def with_password(dsn: str) -> str:
    """The same database, reached with a password (local trust auth lets it through)."""
    parts = urlsplit(dsn)
    user = parts.username or "postgres"
    netloc = f"{user}:{PASSWORD}@{parts.hostname or ''}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def test_settings_never_print_their_secrets() -> None:
    settings = load_settings(
        {
            "LOYALTY_DATABASE_URL": f"postgresql://loyalty:{PASSWORD}@db/loyalty",
            "LOYALTY_JWT_SECRET": JWT_SECRET,
        }
    )
    for text in (repr(settings), str(settings)):
        assert PASSWORD not in text and JWT_SECRET not in text
    assert str(settings.database_url).endswith("@db/loyalty")  # the value is there to use


def test_a_command_facing_an_unreachable_database_does_not_print_its_url() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here once it is closed
    dsn = f"postgresql://loyalty:{PASSWORD}@127.0.0.1:{port}/loyalty"
    for command in (("verify",), ("migrate",), ("apikey", "create", "--role", "admin")):
        done = loyalty(dsn, *command)
        assert done.returncode != 0
        output = done.stdout + done.stderr
        assert "database" in output.lower(), output
        assert PASSWORD not in output, output


async def test_logs_and_answers_never_carry_credentials(
    dsn: str, pool: Pool, caplog: pytest.LogCaptureFixture
) -> None:
    settings = load_settings(
        {
            "LOYALTY_ENV": "production",
            "LOYALTY_JWT_SECRET": JWT_SECRET,
            "LOYALTY_DATABASE_URL": with_password(dsn),
            "LOYALTY_LOG_LEVEL": "DEBUG",
            "LOYALTY_STATS_SECONDS": "0",
            "LOYALTY_LIFECYCLE_SECONDS": "0",
        }
    )
    key = await service.create_api_key(pool, Role.ADMIN, None, "secrets test")
    wrong_key = key[:-4] + "AAAA"
    forged = customer_token("alice")[:-6] + "xxxxxx"
    credentials = [key, key.split("_", 2)[2], wrong_key, forged, customer_token("bob")]
    answers = []
    caplog.set_level(logging.DEBUG)
    # The app opens its own pool from the URL, and its rule listener connects with it too.
    async with serving(create_app(settings, dsn=str(settings.database_url))) as client:
        for credential in credentials:
            for query in ("{ tiers { name } }", "{ me { balance } }", "{ rules { id } }", "{"):
                response = await client.post(
                    "/graphql",
                    json={"query": query},
                    headers={"Authorization": f"Bearer {credential}"},
                )
                answers.append(response.text)
        answers.append((await client.get("/readyz")).text)
        answers.append((await client.get("/metrics")).text)
    assert any('"tiers":[]' in answer for answer in answers)  # the key did work
    assert any("not valid" in answer for answer in answers)  # and the others were refused
    logged = "\n".join(record.getMessage() + str(record.__dict__) for record in caplog.records)
    assert "/graphql" in logged  # requests were logged
    for secret in (PASSWORD, JWT_SECRET, *credentials):
        assert secret not in logged
        assert all(secret not in answer for answer in answers)


async def test_an_api_key_is_stored_only_as_a_hash(pool: Pool) -> None:
    key = await service.create_api_key(pool, Role.POS, "S1", "till")
    secret = key.split("_", 2)[2]
    row = await pool.fetchrow("SELECT * FROM api_keys")
    assert row is not None
    stored = " ".join(str(value) for value in row.values())
    assert secret not in stored
    assert bytes(row["secret_hash"]) == hashlib.sha256(secret.encode()).digest()
    assert await service.principal_for_api_key(pool, key) is not None
    assert await service.principal_for_api_key(pool, key[:-1] + "x") is None


async def test_a_wrong_key_is_remembered_and_not_looked_up_again(dsn: str) -> None:
    pool = await create_pool(dsn, min_size=1, max_size=1)
    wrong = "lk_0123456789ab_" + "x" * 43
    try:
        assert await service.principal_for_api_key(pool, wrong) is None
    finally:
        await pool.close()
    # The pool is closed: a second look-up in the database would raise, not answer.
    assert await service.principal_for_api_key(pool, wrong) is None


def test_the_token_algorithm_is_fixed_by_configuration() -> None:
    for algorithm in ("none", "RS256", "hs256"):
        with pytest.raises(ConfigError, match="LOYALTY_JWT_ALGORITHM"):
            load_settings({"LOYALTY_JWT_ALGORITHM": algorithm})
    with pytest.raises(ConfigError, match="at least 32"):
        load_settings({"LOYALTY_JWT_SECRET": "short"})


def test_key_secrets_are_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[bytes, bytes]] = []
    original = hmac.compare_digest

    def compare_digest(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return original(a, b)

    monkeypatch.setattr(hmac, "compare_digest", compare_digest)
    stored = access.hash_secret("right")
    assert access.secret_matches("right", stored)
    assert not access.secret_matches("wrong", stored)
    assert [b for _, b in compared] == [stored, stored]  # every check went through it
