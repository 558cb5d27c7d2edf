"""Admins create, version and archive rules; every change reaches every process's RuleBook."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from loyalty.domain.earning import allocate_largest_remainder
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
from loyalty.service.rulebook import RuleBook
from loyalty.store import catalog, rules
from loyalty.store.database import Connection, Pool, connection, transaction
from loyalty.store.rules import RuleFields, RuleRow

# A budget lives in this many rows so concurrent purchases rarely wait on one another.
BUDGET_SLICES = 16


class RuleNotFoundError(LoyaltyError):
    """No active rule has this id."""

    code = "RULE_NOT_FOUND"

    def __init__(self, rule_id: int) -> None:
        self.rule_id = rule_id
        super().__init__(f"there is no active rule {rule_id}")


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
    families = []
    if isinstance(params, AddOn):
        matches = [params.trigger, params.add_on]
    elif isinstance(params, Bundle):
        matches = list(params.items)
    elif isinstance(params, ProductBonus):
        matches = [params.target]
    elif isinstance(params, Upsize) and params.family:
        families = [params.family]
    skus = [m.sku for m in matches if m.sku]
    sizes = await catalog.family_sizes(conn, families)
    return CatalogFacts(
        categories=frozenset(await catalog.categories(conn)),
        skus=frozenset(await catalog.existing_skus(conn, skus)),
        family_sizes={family: frozenset(ranks) for family, ranks in sizes.items()},
    )


async def check_draft(conn: Connection, draft: RuleDraft, rule_id: int = 0) -> Rule:
    rule = draft.parse(rule_id)
    check_against_catalog(rule, await catalog_facts(conn, rule))
    return rule


async def create_rule(pool: Pool, book: RuleBook | None, draft: RuleDraft) -> RuleRow:
    async with transaction(pool) as conn:
        row = await insert_draft(conn, draft)
    if book is not None:
        book.invalidate()
    return row


async def insert_draft(conn: Connection, draft: RuleDraft) -> RuleRow:
    """Check a draft against the catalog and save it as version 1, telling every process."""
    rule = await check_draft(conn, draft)
    row = await rules.insert_rule(conn, draft.fields())
    await rules.insert_rule_version(conn, row)
    if rule.caps.budget is not None:
        await _add_budget(conn, row.id, rule.caps.budget)
    await rules.notify_rules_changed(conn)
    return row


async def update_rule(pool: Pool, book: RuleBook | None, rule_id: int, draft: RuleDraft) -> RuleRow:
    """A new version; ledger entries keep pointing at the version that paid them."""
    async with transaction(pool) as conn:
        rule = await check_draft(conn, draft, rule_id)
        before = await rules.get_rule(conn, rule_id)
        row = await rules.update_rule(conn, rule_id, draft.fields())
        if before is None or row is None:
            raise RuleNotFoundError(rule_id)
        await rules.insert_rule_version(conn, row)
        old_budget = (before.spec.get("caps") or {}).get("budget") or 0
        new_budget = rule.caps.budget or 0
        if new_budget > old_budget:
            await _add_budget(conn, rule_id, new_budget - old_budget)
        elif new_budget < old_budget:
            await rules.take_from_slices(conn, rule_id, old_budget - new_budget)
        await rules.notify_rules_changed(conn)
    if book is not None:
        book.invalidate()
    return row


async def archive_rule(pool: Pool, book: RuleBook | None, rule_id: int) -> RuleRow:
    async with transaction(pool) as conn:
        row = await rules.archive_rule(conn, rule_id)
        if row is None:
            raise RuleNotFoundError(rule_id)
        await rules.notify_rules_changed(conn)
    if book is not None:
        book.invalidate()
    return row


async def _add_budget(conn: Connection, rule_id: int, points: int) -> None:
    slices = allocate_largest_remainder(points, [1] * BUDGET_SLICES)
    await rules.insert_budget_slices(conn, rule_id, slices)


async def list_rules(pool: Pool, include_archived: bool) -> list[RuleRow]:
    async with connection(pool) as conn:
        return await rules.list_rules(conn, include_archived)


async def get_rule(pool: Pool, rule_id: int) -> RuleRow | None:
    async with connection(pool) as conn:
        return await rules.get_rule(conn, rule_id)


async def remaining_budgets(pool: Pool, rule_ids: list[int]) -> dict[int, int]:
    async with connection(pool) as conn:
        return await rules.remaining_budgets(conn, rule_ids)
