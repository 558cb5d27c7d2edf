"""Settling the nudges a purchase says it took: checked, never taken on trust."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from loyalty.domain.engine import Item
from loyalty.domain.rebates import Rebate
from loyalty.domain.rules import Rule
from loyalty.service import rebates as rebate_service
from loyalty.store import nudges as nudge_store
from loyalty.store.database import Connection
from loyalty.store.nudges import NudgeRow


@dataclass(frozen=True)
class ClaimOutcome:
    accepted: list[str]
    rejected: list[tuple[str, str]]  # nudge id, why
    codes: list[Rebate]


async def settle_claims(
    conn: Connection,
    customer_id: str,
    purchase_id: int,
    at: datetime,
    lines: Sequence[Item],
    claimed: Sequence[str],
    rules: dict[int, Rule],
) -> ClaimOutcome:
    """Check each nudge the purchase says it took against what it really holds.

    A true claim marks the nudge accepted and, if its rule says so, issues the thank-you
    code in this transaction; a false one earns nothing and is reported. Every other nudge
    still open is declined.
    """
    ids: dict[str, uuid.UUID | None] = {}
    for text in claimed:
        try:
            ids[text] = uuid.UUID(text)
        except ValueError:
            ids[text] = None
    found = await nudge_store.lock_nudges(
        conn, customer_id, [i for i in ids.values() if i is not None]
    )
    units: dict[str, int] = {}
    for line in lines:
        units[line.sku] = units.get(line.sku, 0) + line.quantity
    accepted: list[uuid.UUID] = []
    rejected: list[tuple[str, str]] = []
    codes: list[Rebate] = []
    for text, nudge_id in ids.items():
        nudge = found.get(nudge_id) if nudge_id else None
        reason = _refusal(nudge, at, units)
        if reason is not None or nudge is None:
            rejected.append((text, reason or "no such nudge for this customer"))
            continue
        accepted.append(nudge.id)
        rule = rules.get(nudge.rule_id)
        if rule is not None and rule.rebate is not None:
            offer = rebate_service.RebateOffer(
                amount_off=rule.rebate.amount_off,
                percent_off=rule.rebate.percent_off,
                min_spend=rule.rebate.min_spend,
                days_valid=rule.rebate.days_valid,
            )
            codes.append(await rebate_service.issue(conn, customer_id, offer, at, rule.id))
    await nudge_store.settle(conn, customer_id, accepted, purchase_id, at)
    return ClaimOutcome([str(i) for i in accepted], rejected, codes)


def _refusal(nudge: NudgeRow | None, at: datetime, units: dict[str, int]) -> str | None:
    if nudge is None:
        return "no such nudge for this customer"
    if nudge.outcome is not None:
        return f"this nudge was already {nudge.outcome}"
    if at > nudge.expires_at:
        return "this nudge had expired"
    if units.get(nudge.add_sku, 0) < nudge.quantity:
        return f"the purchase has no {nudge.add_sku}, which the nudge suggested"
    return None
