"""Loading a whole program (its timezone, catalog and rules) into an empty database."""

from __future__ import annotations

from typing import Any

from loyalty.domain.access import SYSTEM, Actor
from loyalty.domain.lifecycle import (
    PointsPolicy,
    Tier,
    TierPolicy,
    check_points_policy,
    check_policy,
    check_tiers,
)
from loyalty.errors import ValidationError
from loyalty.service.catalog import seed_products
from loyalty.service.changes import record_change
from loyalty.service.rulebook import RuleBook
from loyalty.service.rules import RuleDraft, insert_draft
from loyalty.store import catalog, rewards, rules, tiers
from loyalty.store.catalog import ProgramRow
from loyalty.store.database import Pool, connection, transaction


async def load_seed(pool: Pool, seed: dict[str, Any], actor: Actor = SYSTEM) -> bool:
    """Load the seed unless the program already has rules; True when it was loaded.

    Nothing is refreshed on a program that exists, so an admin's edits survive restarts.
    """
    program = seed["program"]
    products = seed_products(seed)
    async with transaction(pool) as conn:
        if await rules.count_rules(conn) > 0:
            return False
        await catalog.ensure_program(
            conn, program["name"], program["currency"], program["timezone"]
        )
        await catalog.upsert_products(conn, products)
        if policy := seed.get("points_policy"):
            points = check_points_policy(PointsPolicy(**policy))
            await catalog.set_points_policy(conn, points.expiry_months, points.pending_days)
        if tiered := seed.get("tiers"):
            window = check_policy(TierPolicy(tiered["window"], tiered["grace_days"]))
            await catalog.set_tier_policy(conn, window.window, window.grace_days)
            await tiers.replace_tiers(conn, check_tiers([Tier(**t) for t in tiered["tiers"]]))
        for rule in seed["rules"]:
            await insert_draft(conn, RuleDraft(**rule))
        for reward in seed.get("rewards", []):
            await rewards.insert_reward(
                conn, reward["name"], reward["description"], reward["points_cost"], 30
            )
        await record_change(conn, actor, "loadProgram", ("program", ""), None, seed)
    return True


async def get_program(pool: Pool) -> ProgramRow | None:
    async with connection(pool) as conn:
        return await catalog.get_program(conn)


async def set_points_policy(
    pool: Pool, book: RuleBook | None, policy: PointsPolicy, actor: Actor = SYSTEM
) -> None:
    """When points expire and how long they stay pending; lots already earned keep theirs."""
    policy = check_points_policy(policy)
    async with transaction(pool) as conn:
        program = await catalog.lock_program(conn)
        if program is None:
            raise ValidationError("program", "the program is not set up yet")
        await catalog.set_points_policy(conn, policy.expiry_months, policy.pending_days)
        before = {"expiryMonths": program.expiry_months, "pendingDays": program.pending_days}
        after = {"expiryMonths": policy.expiry_months, "pendingDays": policy.pending_days}
        await record_change(conn, actor, "setPointsPolicy", ("program", ""), before, after)
        await rules.notify_rules_changed(conn)
    if book is not None:
        book.invalidate()
