"""The compiled rules each process keeps in memory, reloaded when any process changes them.

Writers NOTIFY on commit; every process LISTENs on its own connection and bumps a
generation counter, and the next caller reloads once. A load remembers the generation it
started from, so a change that lands during a load is never lost. Without a listener
(the database restarted), rules are reloaded at most once a second until it is back.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, tzinfo
from zoneinfo import ZoneInfo

from loyalty.domain.lifecycle import (
    DEFAULT_TIER_POLICY,
    KEEP_FOREVER,
    PointsPolicy,
    Tier,
    TierPolicy,
)
from loyalty.domain.nudges import DEFAULT_SETTINGS, NudgeSettings
from loyalty.domain.ruleindex import RuleIndex
from loyalty.domain.rules import Rule, parse_rule
from loyalty.errors import LoyaltyError
from loyalty.service.listening import KeptListener
from loyalty.store import catalog, rules, tiers
from loyalty.store.database import Pool, connection

log = logging.getLogger("loyalty.rules")
POLL_SECONDS = 1.0


@dataclass(frozen=True)
class Compiled:
    rules: tuple[Rule, ...]
    timezone: tzinfo
    nudging: NudgeSettings = DEFAULT_SETTINGS
    tiers: tuple[Tier, ...] = ()
    tier_policy: TierPolicy = DEFAULT_TIER_POLICY
    points: PointsPolicy = KEEP_FOREVER
    by_id: dict[int, Rule] = field(init=False, compare=False)
    index: RuleIndex = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_id", {rule.id: rule for rule in self.rules})
        object.__setattr__(self, "index", RuleIndex(self.rules))


def compile_rows(rows: list[rules.RuleRow]) -> tuple[Rule, ...]:
    compiled = []
    for row in rows:
        try:
            compiled.append(
                parse_rule(
                    rule_id=row.id,
                    version=row.version,
                    kind=row.kind,
                    name=row.name,
                    spec=row.spec,
                    priority=row.priority,
                    exclusive=row.exclusive,
                    message=row.message,
                )
            )
        except LoyaltyError:
            log.exception("rule %s version %s does not compile; it is skipped", row.id, row.version)
    return tuple(compiled)


async def load_compiled(pool: Pool) -> Compiled:
    async with connection(pool) as conn:
        rows = await rules.list_rules(conn, include_archived=False)
        program = await catalog.get_program(conn)
        defined = tuple(await tiers.list_tiers(conn))
    if program is None:
        return Compiled(compile_rows(rows), UTC, tiers=defined)
    nudging = NudgeSettings(
        max_add_on_percent=program.nudge_add_on_max_percent,
        max_gap_percent=program.nudge_gap_max_percent,
    )
    return Compiled(
        compile_rows(rows),
        ZoneInfo(program.timezone),
        nudging,
        tiers=defined,
        tier_policy=TierPolicy(program.tier_window, program.tier_grace_days),
        points=PointsPolicy(program.expiry_months, program.pending_days),
    )


class RuleBook:
    def __init__(self, pool: Pool, dsn: str | None) -> None:
        self.pool = pool
        self.dsn = dsn
        self.generation = 0
        self.loaded_generation = -1
        self.loaded_at = 0.0
        self.compiled: Compiled | None = None
        self.lock = asyncio.Lock()
        # Whatever changed while nobody listened counts as a change: on_back invalidates too.
        self.listener = (
            KeptListener(dsn, rules.CHANNEL, lambda _: self.invalidate(), self.invalidate)
            if dsn is not None
            else None
        )

    async def start(self) -> None:
        if self.listener is not None:
            await self.listener.start()

    async def close(self) -> None:
        if self.listener is not None:
            await self.listener.close()

    def invalidate(self) -> None:
        self.generation += 1

    async def current(self) -> Compiled:
        if self._fresh():
            assert self.compiled is not None
            return self.compiled
        async with self.lock:
            if not self._fresh():
                generation = self.generation
                self.compiled = await load_compiled(self.pool)
                self.loaded_generation = generation
                self.loaded_at = time.monotonic()
        assert self.compiled is not None
        return self.compiled

    def _fresh(self) -> bool:
        if self.compiled is None or self.loaded_generation != self.generation:
            return False
        listening = self.listener is not None and self.listener.listening
        return listening or time.monotonic() - self.loaded_at < POLL_SECONDS
