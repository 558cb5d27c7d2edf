"""Command line: run, serve, migrate, demo, apikey, token, verify, export-schema."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import json
import logging
import os
import signal
import socket
import sys
import traceback
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import uvicorn

from loyalty import service
from loyalty.config import ConfigError, Settings, load_settings, resource
from loyalty.domain.access import Actor, Role
from loyalty.embedded import EmbeddedPostgres, EmbeddedPostgresError
from loyalty.errors import UnavailableError
from loyalty.service.access import KEY_CACHE_SECONDS
from loyalty.service.stats import refresh_stats
from loyalty.store.audit import Violation
from loyalty.store.database import Pool, connect, create_pool
from loyalty.store.migrations import apply_migrations, pending_migrations
from loyalty.tokens import issue_customer_token

SCHEMA_PATH = resource("schema", "schema.graphql")
SEED_PATH = resource("db", "seed", "demo.json")
DEMO = Actor("demo setup")


class CommandError(Exception):
    """A command cannot go on; the message says what to do."""


@contextmanager
def database(settings: Settings, *, migrated: bool = True) -> Iterator[str]:
    """The configured database, or the embedded one (started, and migrated, if need be)."""
    if settings.database_url is not None:
        dsn = str(settings.database_url)
        if migrated and (waiting := asyncio.run(pending(dsn))):
            raise CommandError(
                f"the database has {len(waiting)} pending migration(s): "
                "run `python -m loyalty migrate` first"
            )
        yield dsn
        return
    embedded = EmbeddedPostgres(settings.state_dir / "pgdata")
    try:
        dsn = embedded.start()
        if migrated:
            asyncio.run(migrate(dsn))
        yield dsn
    finally:
        embedded.stop()


async def pending(dsn: str) -> list[str]:
    conn = await connect(dsn)
    try:
        return await pending_migrations(conn)
    finally:
        await conn.close()


@asynccontextmanager
async def open_pool(dsn: str) -> AsyncIterator[Pool]:
    pool = await create_pool(dsn, min_size=1, max_size=4)
    try:
        yield pool
    finally:
        await pool.close()


async def migrate(dsn: str) -> list[str]:
    conn = await connect(dsn)
    try:
        return await apply_migrations(conn)
    finally:
        await conn.close()


async def load_demo(dsn: str) -> bool:
    seed = json.loads(SEED_PATH.read_text())
    async with open_pool(dsn) as pool:
        return await service.load_seed(pool, seed, DEMO)


async def demo_keys(dsn: str, settings: Settings) -> dict[str, str]:
    """The demo POS and admin keys, made once and kept in the state folder for reuse."""
    path = settings.state_dir / "demo-keys.json"
    async with open_pool(dsn) as pool:
        if path.exists():
            keys: dict[str, str] = json.loads(path.read_text())
            if all([await service.principal_for_api_key(pool, key) for key in keys.values()]):
                return keys
        keys = {
            "pos": await service.create_api_key(pool, Role.POS, "S1", "demo", DEMO),
            "admin": await service.create_api_key(pool, Role.ADMIN, None, "demo", DEMO),
        }
    path.write_text(json.dumps(keys))
    path.chmod(0o600)
    return keys


class Server(uvicorn.Server):
    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        # Return after a graceful stop instead of re-raising the signal, so the caller
        # still stops the embedded database on Ctrl-C and SIGTERM.
        handled = (signal.SIGINT, signal.SIGTERM)
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def serve(settings: Settings, dsn: str) -> None:
    if settings.workers <= 1:
        _serve_one(settings, dsn, None)
        return
    settings.require_jwt_secret()  # refused here, once, rather than in every worker
    # Pre-fork: one listening socket, bound here, shared by every worker process.
    listener = socket.create_server((settings.host, settings.port), backlog=2048)
    running: set[int] = set()

    def stop(signum: int, frame: object) -> None:
        for pid in running:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    # Installed before the first fork, so a stop that comes while forking reaches every worker.
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    failed = False
    try:
        for _ in range(settings.workers):
            pid = os.fork()
            if pid == 0:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)
                code = 0
                try:
                    _serve_one(settings, dsn, listener)
                except BaseException:
                    traceback.print_exc()
                    code = 1
                os._exit(code)
            running.add(pid)
        while running:
            pid, status = os.wait()
            running.discard(pid)
            if os.waitstatus_to_exitcode(status) != 0:
                failed = True
                stop(signal.SIGTERM, None)  # one worker down: the service stops whole
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        listener.close()
    if failed:
        raise SystemExit("a server process failed; see its error above")


def _serve_one(settings: Settings, dsn: str, listener: socket.socket | None) -> None:
    from loyalty.app import create_app

    config = uvicorn.Config(
        create_app(settings, dsn=dsn),
        host=settings.host,
        port=settings.port,
        access_log=False,
        log_config=None,
        lifespan="on",
        ws_max_size=settings.max_body_bytes,
    )
    Server(config).run(sockets=[listener] if listener is not None else None)


def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    with database(settings, migrated=False) as dsn:
        applied = asyncio.run(migrate(dsn))
        print(f"migrations applied: {len(applied)}", file=sys.stderr)
        if asyncio.run(load_demo(dsn)):
            print("demo program loaded", file=sys.stderr)
        keys = asyncio.run(demo_keys(dsn, settings))
        seed = json.loads(SEED_PATH.read_text())
        token = issue_customer_token(
            seed["customer"], settings.require_jwt_secret(), settings.jwt_algorithm
        )
        url = f"http://{settings.host}:{settings.port}"
        print(
            f"\nloyalty is serving GraphQL at {url}/graphql\n"
            f"  and the admin page at {url}/admin (sign in with the admin key)\n\n"
            f"  POS key (store S1): Bearer {keys['pos']}\n"
            f"  admin key:          Bearer {keys['admin']}\n"
            f"  customer token ({seed['customer']}):\n"
            f"                      Bearer {token}\n",
            file=sys.stderr,
        )
        serve(settings, dsn)
    return 0


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    with database(settings) as dsn:
        serve(settings, dsn)
    return 0


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    with database(settings, migrated=False) as dsn:
        applied = asyncio.run(migrate(dsn))
    print("\n".join(applied) if applied else "nothing to apply")
    return 0


def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    with database(settings, migrated=False) as dsn:
        asyncio.run(migrate(dsn))
        loaded = asyncio.run(load_demo(dsn))
    print("demo program loaded" if loaded else "the program already has rules; nothing loaded")
    return 0


def command_line() -> Actor:
    """The change log's name for whoever runs a command here."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no login name and no passwd entry, as in some containers
        user = f"uid {os.getuid()}"
    return Actor(f"command line ({user})")


def cmd_apikey(settings: Settings, args: argparse.Namespace) -> int:
    async def create(dsn: str) -> str:
        async with open_pool(dsn) as pool:
            role = Role(args.role)
            return await service.create_api_key(pool, role, args.store, args.label, command_line())

    async def revoke(dsn: str) -> bool:
        async with open_pool(dsn) as pool:
            return await service.revoke_api_key(pool, args.prefix, command_line())

    with database(settings) as dsn:
        if args.action == "revoke":
            if not asyncio.run(revoke(dsn)):
                raise CommandError(f"no live API key has the prefix {args.prefix!r}")
            print(f"revoked: servers stop accepting it within {KEY_CACHE_SECONDS:.0f} seconds")
            return 0
        print(asyncio.run(create(dsn)))
    return 0


def cmd_token(settings: Settings, args: argparse.Namespace) -> int:
    print(
        issue_customer_token(args.customer, settings.require_jwt_secret(), settings.jwt_algorithm)
    )
    return 0


def cmd_verify(settings: Settings, args: argparse.Namespace) -> int:
    async def check(dsn: str) -> list[Violation]:
        async with open_pool(dsn) as pool:
            return await service.verify_ledger(pool)

    with database(settings) as dsn:
        violations = asyncio.run(check(dsn))
    if not violations:
        print("ledger verified: every invariant holds")
        return 0
    print(f"ledger NOT verified: {len(violations)} violation(s) (at most 100 shown per check)")
    for violation in violations:
        print(f"  [{violation.check}] customer {violation.customer_id}: {violation.detail}")
    return 1


def cmd_refresh_stats(settings: Settings, args: argparse.Namespace) -> int:
    async def refresh(dsn: str) -> str:
        async with open_pool(dsn) as pool:
            done = await refresh_stats(pool)
        return str(done) if done else "another process is refreshing the statistics"

    with database(settings) as dsn:
        print(asyncio.run(refresh(dsn)))
    return 0


def cmd_expire(settings: Settings, args: argparse.Namespace) -> int:
    async def run(dsn: str) -> str:
        async with open_pool(dsn) as pool:
            book = service.RuleBook(pool, None)
            expired, reviewed = await service.run_lifecycle(pool, book)
        return (
            f"expired {expired.points} points in {expired.entries} entries "
            f"for {expired.customers} customers; reviewed {reviewed.reviewed} tiers, "
            f"{reviewed.moved} changed"
        )

    with database(settings) as dsn:
        print(asyncio.run(run(dsn)))
    return 0


def cmd_export_schema(settings: Settings, args: argparse.Namespace) -> int:
    from loyalty.api.schema import build_schema

    sdl = build_schema().as_str() + "\n"
    if args.check:
        if not SCHEMA_PATH.exists() or SCHEMA_PATH.read_text() != sdl:
            print(f"{SCHEMA_PATH} is out of date: run python -m loyalty export-schema")
            return 1
        print(f"{SCHEMA_PATH} is up to date")
        return 0
    SCHEMA_PATH.write_text(sdl)
    print(f"wrote {SCHEMA_PATH}")
    return 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m loyalty", description=__doc__)
    commands = root.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="migrate, load the demo program, print keys and serve")
    commands.add_parser("serve", help="serve GraphQL")
    commands.add_parser("migrate", help="apply database migrations")
    commands.add_parser("demo", help="load the demo pizza program")
    apikey = commands.add_parser("apikey", help="manage API keys")
    apikey_commands = apikey.add_subparsers(dest="action", required=True)
    create = apikey_commands.add_parser("create", help="print a new API key")
    create.add_argument("--role", choices=[Role.POS.value, Role.ADMIN.value], required=True)
    create.add_argument("--store", help="bind a POS key to one store")
    create.add_argument("--label", default="")
    revoke = apikey_commands.add_parser("revoke", help="revoke a key by its prefix")
    revoke.add_argument("prefix", help="the part between 'lk_' and the next '_'")
    token = commands.add_parser("token", help="print a customer token (JWT)")
    token.add_argument("customer")
    commands.add_parser("verify", help="check the ledger invariants")
    commands.add_parser(
        "refresh-stats", help="recompute co-purchases, nudge acceptance and segments now"
    )
    commands.add_parser(
        "expire", help="expire points whose day has ended and review tiers whose grace is over"
    )
    export = commands.add_parser("export-schema", help="write schema/schema.graphql")
    export.add_argument("--check", action="store_true", help="fail if the file is out of date")
    return root


HANDLERS = {
    "run": cmd_run,
    "serve": cmd_serve,
    "migrate": cmd_migrate,
    "demo": cmd_demo,
    "apikey": cmd_apikey,
    "token": cmd_token,
    "verify": cmd_verify,
    "refresh-stats": cmd_refresh_stats,
    "expire": cmd_expire,
    "export-schema": cmd_export_schema,
}


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        settings = load_settings()
        logging.basicConfig(level=settings.log_level, format="%(message)s", stream=sys.stderr)
        return HANDLERS[args.command](settings, args)
    except (CommandError, ConfigError, EmbeddedPostgresError, UnavailableError) as error:
        print(f"loyalty: {error}", file=sys.stderr)
        return 2
