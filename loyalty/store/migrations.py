"""Numbered .sql migrations, each applied once, in order, under an advisory lock."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from loyalty.config import resource
from loyalty.store.database import Connection


def migrations_dir() -> Path:
    return resource("db", "migrations")


LOCK_ID = 0x10_7A_17  # any constant shared by every process that migrates
NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def load_migrations(directory: Path | None = None) -> list[Migration]:
    directory = directory or migrations_dir()
    migrations = []
    for path in sorted(directory.glob("*.sql")):
        match = NAME.match(path.name)
        if match is None:
            raise ValueError(f"migration file {path.name} is not named NNNN_name.sql")
        migrations.append(Migration(int(match.group(1)), path.name, path.read_text()))
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise ValueError("two migrations share a number")
    return migrations


async def apply_migrations(conn: Connection, directory: Path | None = None) -> list[str]:
    """Apply what is missing; return the names applied now."""
    applied_now = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", LOCK_ID)
        await conn.execute(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version integer PRIMARY KEY,
                name text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """
        )
        done = {row["version"] for row in await conn.fetch("SELECT version FROM schema_migrations")}
        for migration in load_migrations(directory):
            if migration.version in done:
                continue
            await conn.execute(migration.sql)
            await conn.execute(
                "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                migration.version,
                migration.name,
            )
            applied_now.append(migration.name)
    return applied_now


async def pending_migrations(conn: Connection, directory: Path | None = None) -> list[str]:
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    done = (
        {row["version"] for row in await conn.fetch("SELECT version FROM schema_migrations")}
        if exists
        else set()
    )
    return [m.name for m in load_migrations(directory) if m.version not in done]
