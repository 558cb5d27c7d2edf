"""`loyalty verify`: the ledger invariants, checked in one consistent snapshot."""

from __future__ import annotations

from loyalty.store import audit
from loyalty.store.audit import Violation
from loyalty.store.database import Pool, connection


async def verify_ledger(pool: Pool, limit: int = 100) -> list[Violation]:
    async with connection(pool) as conn, conn.transaction(isolation="repeatable_read"):
        return [
            *await audit.balance_mismatches(conn, limit),
            *await audit.lots_disagree_with_balances(conn, limit),
            *await audit.unauthorized_debts(conn, limit),
            *await audit.broken_balance_chains(conn, limit),
            *await audit.purchases_without_entries(conn, limit),
            *await audit.lines_disagree_with_purchases(conn, limit),
        ]
