"""The service killed with SIGKILL under purchase load: what a till was told is what the
ledger holds, once; nothing is half-written; every unanswered purchase is safe to send again."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

import httpx

from loyalty.store.database import Pool
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

TILLS = 8


class Load:
    """Tills posting purchases as fast as they are answered, until the service is killed."""

    def __init__(self, url: str, keys: list[str], numbers: Numbers, rng: random.Random) -> None:
        self.url = url
        self.keys = keys
        self.numbers = numbers
        self.rng = rng
        self.killed = asyncio.Event()
        self.sent: dict[str, dict[str, Any]] = {}
        self.acked: dict[str, dict[str, Any]] = {}
        self.unanswered: set[str] = set()
        self.refused: list[Answer] = []

    async def till(self, key: str) -> None:
        async with httpx.AsyncClient(base_url=self.url, timeout=30) as client:
            while not self.killed.is_set():
                transaction_id = self.numbers.next()
                body = self.sent[transaction_id] = sale(transaction_id, self.rng)
                answer = await post_sale(client, key, body)
                if (recorded := answer.recorded) is not None:
                    self.acked[transaction_id] = recorded
                elif answer.status is None:
                    self.unanswered.add(transaction_id)
                else:
                    self.refused.append(answer)


async def run_until_killed(server: Service, load: Load, acks: int) -> int:
    """Start the tills, kill the service once `acks` more purchases were answered; returns
    how many posts the kill left without an answer."""
    before_acks, before_lost = len(load.acked), len(load.unanswered)
    load.killed.clear()
    tills = [asyncio.create_task(load.till(key)) for key in load.keys]
    try:
        while len(load.acked) - before_acks < acks:
            assert not any(t.done() for t in tills), [t.exception() for t in tills if t.done()]
            assert not load.refused, load.refused[0].describe()
            await asyncio.sleep(0.001)
        server.kill()
        load.killed.set()
        await server.halt()
    finally:
        load.killed.set()
        await asyncio.gather(*tills)
    return len(load.unanswered) - before_lost


async def test_sigkill_under_load_keeps_every_answered_purchase_once(
    trial: Trial, dsn: str, pool: Pool, tmp_path: Path
) -> None:
    kills = scale(2, 5)
    seed = random.randrange(1_000_000)
    rng = random.Random(seed)
    trial.describe(
        "crash: SIGKILL under purchase load",
        f"the service killed with SIGKILL {kills} times while {TILLS} tills post purchases,"
        " restarted each time; then every unanswered purchase sent again",
    )
    keys = await open_program(pool, TILLS)
    server = Service(dsn, tmp_path / "service.log")
    load = Load(server.url, keys, Numbers("crash"), rng)
    try:
        lost_per_kill = []
        for _ in range(kills):
            await server.start()
            lost_per_kill.append(await run_until_killed(server, load, rng.randint(20, 150)))
        restart_seconds = await server.start()

        stored, rows = await stored_purchases(pool)
        assert not load.refused, load.refused[0].describe()
        assert load.sent.keys() == load.acked.keys() | load.unanswered
        # A kill that caught nothing in flight would have proved nothing.
        assert all(lost > 0 for lost in lost_per_kill), lost_per_kill
        assert set(rows) <= load.sent.keys(), "a purchase no till sent"
        assert [tx for tx, count in rows.items() if count != 1] == []
        for tx, recorded in load.acked.items():
            assert tx in stored, f"{tx} was answered but is not in the ledger"
            assert stored[tx].points == recorded["pointsEarned"], tx
            assert stored[tx].purchase_id == int(recorded["purchase"]["id"]), tx
        half = [tx for tx, row in stored.items() if not row.whole(len(load.sent[tx]["lines"]))]
        assert half == [], [stored[tx] for tx in half]
        assert await orphans(pool) == 0
        committed_unanswered = sorted(load.unanswered & stored.keys())
        checked = verify(dsn)
        assert checked.returncode == 0, checked.stdout + checked.stderr

        # A till sends what it got no answer for again, with the same transaction id.
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            resent = {
                tx: await post_sale(client, keys[0], load.sent[tx])
                for tx in sorted(load.unanswered)
            }
            sample = rng.sample(sorted(load.acked), min(20, len(load.acked)))
            again = {tx: await post_sale(client, keys[0], load.sent[tx]) for tx in sample}
        for tx, answer in resent.items():
            assert answer.required()["replayed"] is (tx in stored), tx
        for tx, answer in again.items():
            assert answer.required()["replayed"] is True
            assert answer.required()["pointsEarned"] == load.acked[tx]["pointsEarned"]
            assert answer.required()["purchase"]["id"] == load.acked[tx]["purchase"]["id"]
        after, rows_after = await stored_purchases(pool)
        assert set(rows_after) == load.sent.keys()
        assert set(rows_after.values()) == {1}
        assert all(row.whole(len(load.sent[tx]["lines"])) for tx, row in after.items())
        for tx in load.unanswered:
            assert after[tx].points == resent[tx].required()["pointsEarned"]
        rechecked = verify(dsn)
        assert rechecked.returncode == 0, rechecked.stdout + rechecked.stderr
        assert await server.stop() == 0, server.output()
    finally:
        await server.halt()

    trial.saw(
        f"{len(load.sent)} purchases posted, {len(load.acked)} answered: all in the ledger once"
        f" (seed {seed})"
    )
    trial.saw(
        f"{len(load.unanswered)} left unanswered by {kills} kills ({lost_per_kill}):"
        f" {len(committed_unanswered)} had committed, the rest left no row; none half-written"
    )
    trial.saw(
        f"resent: {len(committed_unanswered)} replayed, "
        f"{len(load.unanswered) - len(committed_unanswered)} recorded once; verify exit 0;"
        f" restart to ready {restart_seconds:.1f} s"
    )
