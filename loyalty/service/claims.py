"""Settling the nudges a purchase says it took: checked, never taken on trust."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

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
    lines: Sequence[Item],
    claimed: Sequence[str],
    rules: dict[int, Rule],
    paid_rules: set[int],
) -> ClaimOutcome:
    """Check each nudge the purchase says it took against what it really holds.

    A claim holds when the nudge is this customer's, still live by the server's clock,
    unused, the purchase holds what it suggested (each unit counted for one claim only) and
    the nudge's rule paid for this purchase. A true claim marks the nudge accepted and, if
    its rule says so, issues the thank-you code in this transaction, once per rule and
    change; a false one earns nothing and is reported. Every other live nudge is declined.
    """
    now = datetime.now(UTC)
    ids: dict[uuid.UUID | None, str] = {}
    rejected: list[tuple[str, str]] = []
    for text in claimed:
        nudge_id = _uuid(text)
        if nudge_id in ids:
            rejected.append((text, "the same nudge is claimed twice"))
        else:
            ids[nudge_id] = text
    found = await nudge_store.lock_nudges(conn, customer_id, [i for i in ids if i is not None])
    units: dict[str, int] = {}
    for line in lines:
        units[line.sku] = units.get(line.sku, 0) + line.quantity
    accepted: list[uuid.UUID] = []
    taken: set[tuple[int, str]] = set()
    codes: list[Rebate] = []
    for nudge_id, text in ids.items():
        nudge = found.get(nudge_id) if nudge_id else None
        reason = _refusal(nudge, now, units, paid_rules, taken)
        if reason is not None or nudge is None:
            rejected.append((text, reason or NOT_FOUND))
            continue
        accepted.append(nudge.id)
        units[nudge.add_sku] -= nudge.quantity
        taken.add(_change(nudge))
        rule = rules.get(nudge.rule_id)
        if rule is not None and rule.rebate is not None:
            offer = rebate_service.RebateOffer(
                amount_off=rule.rebate.amount_off,
                percent_off=rule.rebate.percent_off,
                min_spend=rule.rebate.min_spend,
                days_valid=rule.rebate.days_valid,
            )
            earned_by = (purchase_id, nudge.add_sku)
            codes.append(
                await rebate_service.issue(conn, customer_id, offer, now, rule.id, earned_by)
            )
    await nudge_store.settle(conn, customer_id, accepted, purchase_id, now)
    return ClaimOutcome([str(i) for i in accepted], rejected, codes)


NOT_FOUND = "no such nudge for this customer"


def _uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


def _change(nudge: NudgeRow) -> tuple[int, str]:
    return nudge.rule_id, f"{nudge.replace_sku or ''}>{nudge.add_sku}"


def _refusal(
    nudge: NudgeRow | None,
    now: datetime,
    units: dict[str, int],
    paid_rules: set[int],
    taken: set[tuple[int, str]],
) -> str | None:
    if nudge is None:
        return NOT_FOUND
    if nudge.outcome is not None:
        return f"this nudge was already {nudge.outcome}"
    if now > nudge.expires_at:
        return "this nudge had expired"
    if _change(nudge) in taken:
        return "this purchase already took the same nudge"
    if units.get(nudge.add_sku, 0) < nudge.quantity:
        return f"the purchase has no {nudge.add_sku}, which the nudge suggested"
    if nudge.rule_id not in paid_rules:
        return "the nudge's rule did not pay for this purchase"
    return None
