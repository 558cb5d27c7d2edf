"""What a rebate code takes off a purchase, and whether it may be used now."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

ISSUED = "issued"
REDEEMED = "redeemed"
REVOKED = "revoked"
EXPIRED = "expired"


@dataclass(frozen=True)
class Rebate:
    code: str
    customer_id: str
    bound: bool
    amount_off: int | None
    percent_off: int | None
    min_spend: int
    expires_at: datetime
    state: str

    def state_at(self, now: datetime) -> str:
        return EXPIRED if self.state == ISSUED and now >= self.expires_at else self.state

    def discount_on(self, subtotal: int) -> int:
        """Minor units off the subtotal; a percentage is rounded down, never below zero."""
        if self.amount_off is not None:
            return min(self.amount_off, subtotal)
        assert self.percent_off is not None
        return subtotal * self.percent_off // 100

    def refusal(self, customer_id: str | None, subtotal: int | None, now: datetime) -> str | None:
        """Why the code cannot be used by this customer on this subtotal now, or None."""
        state = self.state_at(now)
        if state == REDEEMED:
            return "this code has already been used"
        if state == REVOKED:
            return "this code was withdrawn"
        if state == EXPIRED:
            return f"this code expired on {self.expires_at:%Y-%m-%d}"
        if self.bound and customer_id is not None and customer_id != self.customer_id:
            return "this code belongs to another customer"
        if subtotal is not None and subtotal < self.min_spend:
            gap = self.min_spend - subtotal
            return f"spend {gap // 100}.{gap % 100:02d} more to use this code"
        return None
