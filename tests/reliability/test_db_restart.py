"""PostgreSQL restarted under purchase load, fast and immediate: while it is down the service
says so with a retryable 503; when it is back the service is too, by itself, within seconds;
no answered purchase is lost."""

from __future__ import annotations

import asyncio
import random
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from loyalty.embedded import EmbeddedPostgres, StopMode
from loyalty.store.database import connect, create_pool
from loyalty.store.migrations import apply_migrations
from tests.conftest import with_database
from tests.reliability.conftest import Trial, scale
from tests.reliability.pos import (
    Answer,
    Numbers,
    Service,
    open_program,
    orphans,
    post_sale,
    sale,
    stored_purchases,
    verify,
)

TILLS = 6
RECOVERY_LIMIT = 5.0
DOWN_SECONDS = 1.0
RETRY_PAUSE = 0.05  # a till tries again sooner than Retry-After, so recovery is seen closely


@pytest.fixture(scope="module")
def cluster() -> Iterator[EmbeddedPostgres]:
    """A PostgreSQL of the trial's own, with durable settings, to stop and start at will."""
    root = Path(tempfile.mkdtemp(prefix="loyalty-restart-"))
    root.chmod(0o755)  # the server may run as another user and must reach its data dir
    embedded = EmbeddedPostgres(root / "pgdata", database="postgres")
    try:
        embedded.start()
        yield embedded
    finally:
        embedded.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
async def restart_dsn(cluster: EmbeddedPostgres, request: pytest.FixtureRequest) -> str:
    """A freshly migrated database on the trial's cluster, started if a trial left it down."""
    maintenance = cluster.start()
    name = f"restart_{request.node.callspec.id}"
    admin = await asyncpg.connect(maintenance)
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.execute(f"CREATE DATABASE {name}")
    finally:
        await admin.close()
    dsn = with_database(maintenance, name)
    conn = await connect(dsn)
    try:
        await apply_migrations(conn)
    finally:
        await conn.close()
    return dsn


class Load:
    """Tills that send each purchase until it is answered, pausing briefly after a refusal."""

    def __init__(self, url: str, keys: list[str], numbers: Numbers, rng: random.Random) -> None:
        self.url = url
        self.keys = keys
        self.numbers = numbers
        self.rng = rng
        self.done = asyncio.Event()
        self.acked: dict[str, dict[str, Any]] = {}
        self.acked_at: list[float] = []
        self.refusals: list[Answer] = []
        self.retried: set[str] = set()
        self.sent: dict[str, dict[str, Any]] = {}

    async def till(self, key: str) -> None:
        async with httpx.AsyncClient(base_url=self.url, timeout=30) as client:
            while not self.done.is_set():
                transaction_id = self.numbers.next()
                body = self.sent[transaction_id] = sale(transaction_id, self.rng)
                while (recorded := (answer := await post_sale(client, key, body)).recorded) is None:
                    self.refusals.append(answer)
                    self.retried.add(transaction_id)
                    await asyncio.sleep(RETRY_PAUSE)
                self.acked[transaction_id] = recorded
                self.acked_at.append(time.monotonic())

    async def answered(self, count: int, within: float = 30) -> None:
        """Wait until `count` more purchases have been answered."""
        target = len(self.acked) + count
        deadline = time.monotonic() + within
        while len(self.acked) < target:
            assert time.monotonic() < deadline, f"{len(self.acked)} of {target} answered"
            await asyncio.sleep(0.005)


async def accepting(dsn: str, started: asyncio.Task[str]) -> float:
    """The moment the database first accepts a connection, probed every 10 ms."""
    while True:
        try:
            conn = await asyncpg.connect(dsn, timeout=1)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
            if started.done() and started.exception() is not None:
                started.result()
            await asyncio.sleep(0.01)
            continue
        up = time.monotonic()
        await conn.close()
        return up


async def ready(client: httpx.AsyncClient) -> int:
    try:
        return (await client.get("/readyz", timeout=3)).status_code
    except httpx.TransportError:
        return 0


async def restart(
    cluster: EmbeddedPostgres, dsn: str, mode: StopMode, load: Load, client: httpx.AsyncClient
) -> tuple[float, int, int]:
    """Stop the database, hold it down, start it; returns the seconds from accepting
    connections to the next answered purchase, and readiness while down and after."""
    await asyncio.to_thread(cluster.stop, mode)
    refused_before = len(load.refusals)
    await asyncio.sleep(DOWN_SECONDS)
    down_ready = await ready(client)
    assert len(load.refusals) > refused_before, "no till was refused while the database was down"
    started = asyncio.create_task(asyncio.to_thread(cluster.start))
    up = await accepting(dsn, started)
    await started
    deadline = up + RECOVERY_LIMIT + 5
    while not any(at >= up for at in load.acked_at):
        assert time.monotonic() < deadline, "no purchase answered after the database came back"
        await asyncio.sleep(0.005)
    recovered = min(at for at in load.acked_at if at >= up) - up
    up_ready = await ready(client)
    return recovered, down_ready, up_ready


@pytest.mark.parametrize("mode", ["fast", "immediate"])
async def test_a_database_restart_is_a_retryable_pause_that_loses_nothing(
    trial: Trial,
    mode: StopMode,
    cluster: EmbeddedPostgres,
    restart_dsn: str,
    tmp_path: Path,
) -> None:
    restarts = scale(1, 5)
    seed = random.randrange(1_000_000)
    trial.describe(
        f"database restart: {mode} shutdown",
        f"PostgreSQL stopped -m {mode}, held down {DOWN_SECONDS:.0f} s and started again,"
        f" {restarts} times, while {TILLS} tills post purchases and retry what is refused",
    )
    pool = await create_pool(restart_dsn, min_size=1, max_size=2)
    try:
        keys = await open_program(pool, TILLS)
    finally:
        await pool.close()
    server = Service(restart_dsn, tmp_path / "service.log")
    load = Load(server.url, keys, Numbers(mode), random.Random(seed))
    recoveries: list[float] = []
    try:
        await server.start()
        tills = [asyncio.create_task(load.till(key)) for key in load.keys]
        async with httpx.AsyncClient(base_url=server.url) as client:
            try:
                for _ in range(restarts):
                    await load.answered(30)
                    recovered, down_ready, up_ready = await restart(
                        cluster, restart_dsn, mode, load, client
                    )
                    assert down_ready == 503
                    assert up_ready == 200
                    recoveries.append(recovered)
                await load.answered(30)
            finally:
                load.done.set()
                await asyncio.gather(*tills)
        assert await server.stop() == 0, server.output()
    finally:
        await server.halt()

    wrong = [
        a for a in load.refusals if (a.status, a.code, a.retry_after) != (503, "UNAVAILABLE", "1")
    ]
    kinds = Counter((a.status, a.code, a.retry_after) for a in load.refusals)
    assert wrong == [], (
        f"refusals must be (503, 'UNAVAILABLE', Retry-After '1'); seen {dict(kinds)}",
        [a.describe() for a in wrong[:3]],
    )
    assert "unexpected error" not in server.output()
    assert max(recoveries) < RECOVERY_LIMIT, recoveries

    pool = await create_pool(restart_dsn, min_size=1, max_size=2)
    try:
        stored, rows = await stored_purchases(pool)
        lost = sorted(load.acked.keys() - stored.keys())
        assert lost == [], f"{len(lost)} answered purchases lost: {lost[:5]}"
        assert rows.keys() == load.sent.keys()
        assert set(rows.values()) == {1}
        for tx, recorded in load.acked.items():
            assert stored[tx].points == recorded["pointsEarned"], tx
            assert stored[tx].whole(len(load.sent[tx]["lines"])), stored[tx]
        assert await orphans(pool) == 0
    finally:
        await pool.close()
    checked = verify(restart_dsn)
    assert checked.returncode == 0, checked.stdout + checked.stderr

    replayed = sum(load.acked[tx]["replayed"] for tx in load.retried)
    trial.saw(
        f"{len(load.acked)} purchases answered, all in the ledger once; verify exit 0 (seed {seed})"
    )
    trial.saw(
        f"{len(load.refusals)} refusals while down, every one 503 UNAVAILABLE Retry-After: 1;"
        f" /readyz 503 down, 200 back; {len(load.retried)} purchases retried,"
        f" {replayed} of them had committed"
    )
    trial.saw(
        "back to answering purchases "
        + ", ".join(f"{seconds:.2f}" for seconds in recoveries)
        + f" s after PostgreSQL accepted connections (limit {RECOVERY_LIMIT:.0f} s)"
    )
