"""Admins create, version and archive rules; every change reaches every process's RuleBook."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from loyalty.domain.access import SYSTEM, Actor
from loyalty.domain.rounding import allocate_largest_remainder
from loyalty.domain.rules import (
    AddOn,
    Bundle,
    CatalogFacts,
    ProductBonus,
    Rule,
    Upsize,
    check_against_catalog,
    parse_rule,
)
from loyalty.errors import LoyaltyError
from loyalty.service.changes import record_change
from loyalty.service.rulebook import RuleBook
from loyalty.store import catalog, rules, tiers
from loyalty.store.database import Connection, Pool, connection, transaction
from loyalty.store.rules import RuleFields, RuleRow

# A budget lives in this many rows so concurrent purchases rarely wait on one another.
BUDGET_SLICES = 16


class RuleNotFoundError(LoyaltyError):
    """No active rule has this id."""

    code = "RULE_NOT_FOUND"

    def __init__(self, rule_id: str) -> None:
        self.rule_id = rule_id
        super().__init__(f"there is no active rule {rule_id!r}")


@dataclass(frozen=True)
class RuleDraft:
    kind: str
    name: str
    spec: dict[str, Any]
    priority: int = 0
    exclusive: bool = False
    message: str = ""

    def parse(self, rule_id: int = 0, version: int = 0) -> Rule:
        return parse_rule(
            rule_id=rule_id,
            version=version,
            kind=self.kind,
            name=self.name,
            spec=self.spec,
            priority=self.priority,
            exclusive=self.exclusive,
            message=self.message,
        )

    def fields(self) -> RuleFields:
        rule = self.parse()
        return RuleFields(
            rule.kind, rule.name, rule.priority, rule.exclusive, rule.message, self.spec
        )


async def catalog_facts(conn: Connection, rule: Rule) -> CatalogFacts:
    """What the catalog holds of the things this rule names."""
    params = rule.params
    matches = []
    if isinstance(params, AddOn):
        matches = [params.trigger, params.add_on]
    elif isinstance(params, Bundle):
        matches = list(params.items)
    elif isinstance(params, ProductBonus):
        matches = [params.target]
    upsize = params if isinstance(params, Upsize) else None
    families = [upsize.family] if upsize and upsize.family else []
    sized = [upsize.category] if upsize and upsize.category else []
    skus = await catalog.sku_categories(conn, [m.sku for m in matches if m.sku])
    return CatalogFacts(
        categories=frozenset(await catalog.categories(conn)),
        skus=frozenset(skus),
        family_sizes={
            family: frozenset(ranks)
            for family, ranks in (await catalog.family_sizes(conn, families)).items()
        },
        category_sizes={
            category: frozenset(ranks)
            for category, ranks in (await catalog.category_sizes(conn, sized)).items()
        },
        sku_categories=skus,
        tiers=frozenset(tier.name for tier in await tiers.list_tiers(conn)),
    )


async def check_draft(conn: Connection, draft: RuleDraft, rule_id: int = 0) -> Rule:
    rule = draft.parse(rule_id)
    check_against_catalog(rule, await catalog_facts(conn, rule))
    return rule


async def create_rule(
    pool: Pool, book: RuleBook | None, draft: RuleDraft, actor: Actor = SYSTEM
) -> RuleRow:
    async with transaction(pool) as conn:
        row = await insert_draft(conn, draft)
        await record_change(conn, actor, "createRule", ("rule", str(row.id)), None, row)
    if book is not None:
        book.invalidate()
    return row


async def insert_draft(conn: Connection, draft: RuleDraft) -> RuleRow:
    """Check a draft against the catalog and save it as version 1, telling every process."""
    rule = await check_draft(conn, draft)
    row = await rules.insert_rule(conn, draft.fields())
    await rules.insert_rule_version(conn, row)
    if rule.caps.budget is not None:
        await set_budget(conn, row.id, rule.caps.budget)
    await rules.notify_rules_changed(conn)
    return row


async def update_rule(
    pool: Pool, book: RuleBook | None, rule_id: int, draft: RuleDraft, actor: Actor = SYSTEM
) -> RuleRow:
    """A new version; ledger entries keep pointing at the version that paid them."""
    async with transaction(pool) as conn:
        rule = await check_draft(conn, draft, rule_id)
        # Locked first: concurrent updates of one rule take turns, each seeing the last.
        before = await rules.lock_rule(conn, rule_id)
        row = await rules.update_rule(conn, rule_id, draft.fields())
        if row is None:
            raise RuleNotFoundError(str(rule_id))
        await record_change(conn, actor, "updateRule", ("rule", str(rule_id)), before, row)
        await rules.insert_rule_version(conn, row)
        if rule.caps.budget is not None:
            await set_budget(conn, rule_id, rule.caps.budget)
        await rules.notify_rules_changed(conn)
    if book is not None:
        book.invalidate()
    return row


async def archive_rule(
    pool: Pool, book: RuleBook | None, rule_id: int, actor: Actor = SYSTEM
) -> RuleRow:
    async with transaction(pool) as conn:
        before = await rules.lock_rule(conn, rule_id)
        row = await rules.archive_rule(conn, rule_id)
        if row is None:
            raise RuleNotFoundError(str(rule_id))
        await record_change(conn, actor, "archiveRule", ("rule", str(rule_id)), before, row)
        await rules.notify_rules_changed(conn)
    if book is not None:
        book.invalidate()
    return row


async def set_budget(conn: Connection, rule_id: int, budget: int) -> None:
    """Make the rule's total budget `budget`: what is left is budget minus what was paid.

    Every slice is locked (in slice order; purchases never wait for slices, so this cannot
    deadlock with them) and what it has paid out is kept, so lowering and raising a budget
    never lets the rule pay more than the latest total.
    """
    slices = await rules.lock_budget_slices(conn, rule_id)
    paid = [granted - remaining for _, granted, remaining in slices] or [0] * BUDGET_SLICES
    left = allocate_largest_remainder(max(budget - sum(paid), 0), [1] * BUDGET_SLICES)
    await rules.write_budget_slices(
        conn, rule_id, [p + r for p, r in zip(paid, left, strict=True)], left
    )


async def list_rules(pool: Pool, include_archived: bool) -> list[RuleRow]:
    async with connection(pool) as conn:
        return await rules.list_rules(conn, include_archived)


async def get_rule(pool: Pool, rule_id: int) -> RuleRow | None:
    async with connection(pool) as conn:
        return await rules.get_rule(conn, rule_id)
