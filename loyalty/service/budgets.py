"""Rule budgets: split over slice rows, so purchases that pay from one budget rarely meet."""

from __future__ import annotations

import asyncio
import random
import time
import zlib

from loyalty.domain.engine import Award, Evaluation, Reason, cut_award
from loyalty.service.rulebook import Compiled
from loyalty.service.rules import BUDGET_SLICES
from loyalty.store import rules
from loyalty.store.database import Connection

BUDGET_WAIT_SECONDS = 1.0


async def budgets_left(conn: Connection, compiled: Compiled) -> dict[int, int]:
    budgeted = [rule.id for rule in compiled.rules if rule.caps.budget is not None and rule.id > 0]
    if not budgeted:
        return {}
    left = await rules.remaining_budgets(conn, budgeted)
    return {rule_id: left.get(rule_id, 0) for rule_id in budgeted}


async def reserve_budgets(
    conn: Connection, compiled: Compiled, evaluation: Evaluation, customer_id: str
) -> Evaluation:
    """Take each budgeted award's points from its rule's budget, cutting what is not there.

    A budget is split over BUDGET_SLICES rows; a purchase starts at a slice picked by its
    customer and locks only slices no one else holds (SKIP LOCKED), so concurrent purchases
    spread over the rows instead of queueing on one, and never wait for one another in a
    cycle. No slice goes below zero: nothing is overspent.
    """
    preferred = zlib.crc32(customer_id.encode()) % BUDGET_SLICES
    awards: list[Award] = []
    reasons = list(evaluation.reasons)
    for award in evaluation.awards:
        if compiled.by_id[award.rule_id].caps.budget is None:
            awards.append(award)
            continue
        taken = await _take_budget(conn, award.rule_id, preferred, award.points)
        if taken == award.points:
            awards.append(award)
        elif taken > 0:
            awards.append(cut_award(award, taken))
        else:
            message = "the rule's points budget is spent"
            reasons.append(Reason(award.rule_id, award.name, award.kind, "BUDGET_SPENT", message))
    return Evaluation(tuple(awards), tuple(reasons))


async def _take_budget(conn: Connection, rule_id: int, preferred: int, points: int) -> int:
    """Spend up to points from the budget's slices; return the points spent.

    The slices are gathered in a savepoint: when the free ones do not hold enough, rolling
    it back lets go of them, so two purchases holding half of what each needs never wait
    on each other; they back off and try again. Only what the budget no longer has (or, past
    a deadline, what the free slices hold) is cut.
    """
    deadline = time.monotonic() + BUDGET_WAIT_SECONDS
    while points > 0:
        last_try = time.monotonic() > deadline
        try:
            async with conn.transaction():
                return await _spend_from_free_slices(conn, rule_id, preferred, points, last_try)
        except _ShortOfFreeSlices:
            pass
        points = min(points, await rules.budget_elsewhere(conn, rule_id, []))
        await asyncio.sleep(random.uniform(0.001, 0.01))
    return 0


class _ShortOfFreeSlices(Exception):
    pass


async def _spend_from_free_slices(
    conn: Connection, rule_id: int, preferred: int, points: int, take_what_is_free: bool
) -> int:
    held: list[tuple[int, int]] = []
    while sum(remaining for _, remaining in held) < points:
        taken = [slice_no for slice_no, _ in held]
        found = await rules.lock_free_slice(conn, rule_id, preferred, BUDGET_SLICES, taken)
        if found is None:
            if take_what_is_free:
                break
            raise _ShortOfFreeSlices
        held.append(found)
    wanted = points
    for slice_no, remaining in held:
        take = min(remaining, wanted)
        await rules.spend_from_slice(conn, rule_id, slice_no, take)
        wanted -= take
    return points - wanted
