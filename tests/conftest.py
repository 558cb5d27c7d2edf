"""A real PostgreSQL for the whole run, a migrated template, and a fresh database per test."""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
from hypothesis import settings as hypothesis_settings

from loyalty import service
from loyalty.app import create_app
from loyalty.config import Settings, load_settings
from loyalty.domain.access import Role
from loyalty.embedded import EmbeddedPostgres
from loyalty.store.database import Pool, connect, create_pool
from loyalty.store.migrations import apply_migrations
from tests.support import JWT_SECRET, on_loopback, serving

TEMPLATE = "loyalty_template"

# CI runs the property tests on a fixed sequence of examples, so a red build is reproducible;
# a developer's run explores new ones each time.
hypothesis_settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")
_numbers = itertools.count()


def with_database(dsn: str, name: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture(scope="session")
def server_dsn() -> Iterator[str]:
    """A DSN to a maintenance database on a server the tests may create databases on."""
    given = os.environ.get("LOYALTY_TEST_DATABASE_URL")
    if given:
        yield given
        return
    root = Path(tempfile.mkdtemp(prefix="loyalty-test-"))
    root.chmod(0o755)  # the server may run as another user and must reach its data dir
    embedded = EmbeddedPostgres(root / "pgdata", database="postgres", fast=True)
    try:
        yield embedded.start()
    finally:
        embedded.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
async def template_dsn(server_dsn: str) -> str:
    admin = await asyncpg.connect(server_dsn)
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {TEMPLATE}")
        await admin.execute(f"CREATE DATABASE {TEMPLATE}")
    finally:
        await admin.close()
    dsn = with_database(server_dsn, TEMPLATE)
    conn = await connect(dsn)
    try:
        await apply_migrations(conn)
    finally:
        await conn.close()
    return dsn


@pytest.fixture
async def dsn(server_dsn: str, template_dsn: str) -> AsyncIterator[str]:
    name = f"test_{os.getpid()}_{next(_numbers)}"
    admin = await asyncpg.connect(server_dsn)
    try:
        await admin.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
        yield with_database(server_dsn, name)
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await admin.close()


@pytest.fixture
async def pool(dsn: str) -> AsyncIterator[Pool]:
    pool = await create_pool(dsn, min_size=1, max_size=20)
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture
def settings() -> Settings:
    return load_settings(
        {
            "LOYALTY_ENV": "production",
            "LOYALTY_JWT_SECRET": JWT_SECRET,
            "LOYALTY_LOG_LEVEL": "INFO",
            "LOYALTY_STATS_SECONDS": "0",  # tests refresh statistics when they mean to
            "LOYALTY_LIFECYCLE_SECONDS": "0",  # and expire points when they mean to
            "LOYALTY_RATE_LIMIT": "0",  # and limit rates when they test the limit
            "LOYALTY_WEBHOOK_SECONDS": "0",  # and deliver webhooks when they mean to
            "LOYALTY_WEBHOOK_PRIVATE": "true",  # to receivers on this machine
        }
    )


@pytest.fixture
async def client(pool: Pool, settings: Settings, dsn: str) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(create_app(settings, pool=pool, dsn=dsn)) as client:
        yield client


@pytest.fixture
async def pos_key(pool: Pool) -> str:
    return await service.create_api_key(pool, Role.POS, None, "test pos")


@pytest.fixture
async def admin_key(pool: Pool) -> str:
    return await service.create_api_key(pool, Role.ADMIN, None, "test admin")


@pytest.fixture
async def live_url(pool: Pool, settings: Settings, dsn: str) -> AsyncIterator[str]:
    """The app served over real HTTP on a free loopback port, for concurrent clients."""
    async with on_loopback(create_app(settings, pool=pool, dsn=dsn)) as port:
        yield f"http://127.0.0.1:{port}"
