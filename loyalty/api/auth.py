"""Who is calling, and permission classes that read it from the context."""

from __future__ import annotations

from typing import Any

from strawberry.exceptions import StrawberryGraphQLError
from strawberry.permission import BasePermission

from loyalty import service
from loyalty.api.context import Info
from loyalty.config import Settings
from loyalty.domain.access import KEY_PREFIX, Principal, Role
from loyalty.errors import AuthenticationError
from loyalty.service import Pool
from loyalty.tokens import customer_id_from_token

NO_CREDENTIALS = "send 'Authorization: Bearer <API key or customer token>'"


async def resolve_principal(
    authorization: str | None, pool: Pool, settings: Settings
) -> tuple[Principal | None, str | None]:
    """The caller, or None and the reason the credentials were refused."""
    if not authorization:
        return None, None
    scheme, _, credential = authorization.partition(" ")
    credential = credential.strip()
    if scheme.lower() != "bearer" or not credential:
        return None, "the Authorization header must read 'Bearer <credential>'"
    if credential.startswith(f"{KEY_PREFIX}_"):
        principal = await service.principal_for_api_key(pool, credential)
        return (principal, None) if principal else (None, "the API key is not valid")
    if settings.jwt_secret is None:
        return None, "customer tokens are not enabled on this server"
    try:
        subject = customer_id_from_token(
            credential, str(settings.jwt_secret), settings.jwt_algorithm
        )
    except AuthenticationError as error:
        return None, error.message
    return Principal(Role.CUSTOMER, customer_id=subject), None


class _RolePermission(BasePermission):
    roles: frozenset[Role] = frozenset()
    what = ""

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        # Raised here rather than through self.message: one instance serves every request.
        context = info.context
        principal = context.principal
        if principal is None:
            message = context.auth_problem or f"{NO_CREDENTIALS}: {self.what}"
            raise StrawberryGraphQLError(message, extensions={"code": "UNAUTHENTICATED"})
        if principal.role not in self.roles:
            message = f"a {principal.role.value} may not do this: {self.what}"
            raise StrawberryGraphQLError(message, extensions={"code": "FORBIDDEN"})
        return True


class IsCustomer(_RolePermission):
    roles = frozenset({Role.CUSTOMER})
    what = "this needs a customer token"


class IsStaff(_RolePermission):
    roles = frozenset({Role.POS, Role.ADMIN})
    what = "this needs a POS or admin API key"


class IsAdmin(_RolePermission):
    roles = frozenset({Role.ADMIN})
    what = "this needs an admin API key"


class IsAnyone(_RolePermission):
    roles = frozenset(Role)
    what = "this needs an API key or a customer token"


def bound_elsewhere(info: Info, store_id: str) -> bool:
    """True when the caller's key belongs to one store and this is another."""
    principal = info.context.principal
    return principal is not None and principal.store_id not in (None, store_id)
