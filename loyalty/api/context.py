"""What every resolver sees: the caller, the pool, and loaders made for this request."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.dataloader import DataLoader
from strawberry.types import Info as StrawberryInfo

from loyalty import service
from loyalty.config import Settings
from loyalty.domain.access import Actor, Principal
from loyalty.service import AccountRow, FailureThrottle, LineRow, Pool, PurchaseRow, RuleBook


@dataclass
class Loaders:
    pool: Pool
    purchases: DataLoader[tuple[str, int], PurchaseRow | None] = field(init=False)
    lines: DataLoader[tuple[str, int], list[LineRow]] = field(init=False)
    accounts: DataLoader[str, AccountRow | None] = field(init=False)
    unspendable: DataLoader[str, tuple[int, int]] = field(init=False)

    def __post_init__(self) -> None:
        self.purchases = DataLoader(partial(service.purchases_by_keys, self.pool))
        self.lines = DataLoader(partial(service.lines_by_keys, self.pool))
        self.accounts = DataLoader(partial(service.accounts_by_ids, self.pool))
        self.unspendable = DataLoader(partial(service.unspendable_by_ids, self.pool))


@dataclass
class Context:
    request: Request | WebSocket
    response: Response | WebSocket | None
    pool: Pool
    rulebook: RuleBook
    throttle: FailureThrottle
    settings: Settings
    principal: Principal | None
    auth_problem: str | None
    loaders: Loaders

    @property
    def actor(self) -> Actor:
        """Who the change log says made a change; only signed-in callers make changes."""
        assert self.principal is not None, "a permission class lets no anonymous change through"
        return self.principal.actor

    @property
    def rate_key(self) -> str:
        """Whose budget a request spends: a key's, a customer's, or an address's."""
        if self.principal is None:
            client = self.request.client
            return f"address:{client.host if client else 'unknown'}"
        return self.caller

    @property
    def caller(self) -> str:
        """Who is calling, as the throttle counts them."""
        principal = self.principal
        if principal is None:
            return "anonymous"
        if principal.key_id is not None:
            return f"key:{principal.key_id}"
        return f"customer:{principal.customer_id}"


Info = StrawberryInfo[Context, None]
