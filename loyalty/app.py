"""Builds the Starlette app; the lifespan opens and closes the database pool."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from loyalty.api.schema import LoyaltyGraphQL
from loyalty.config import Settings
from loyalty.errors import UnavailableError
from loyalty.requestlog import RequestGuard
from loyalty.store.database import Pool, create_pool, ping


@dataclass
class PoolHolder:
    """The pool, opened by the lifespan or handed in by the caller."""

    dsn: str | None
    pool: Pool | None = None
    owned: bool = field(default=False)

    def __call__(self) -> Pool:
        if self.pool is None:
            raise RuntimeError("the database pool is not open")
        return self.pool


def create_app(settings: Settings, *, dsn: str | None = None, pool: Pool | None = None) -> ASGIApp:
    settings.require_jwt_secret()
    holder = PoolHolder(dsn=dsn, pool=pool)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if holder.pool is None:
            assert holder.dsn is not None, "create_app needs a dsn or a pool"
            holder.pool = await create_pool(
                holder.dsn, min_size=settings.pool_min_size, max_size=settings.pool_max_size
            )
            holder.owned = True
        try:
            yield
        finally:
            if holder.owned and holder.pool is not None:
                await holder.pool.close()
                holder.pool = None

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        ready = holder.pool is not None and await ping(holder.pool)
        return JSONResponse(
            {"status": "ok" if ready else "unavailable", "database": ready},
            status_code=200 if ready else 503,
        )

    async def home(request: Request) -> Response:
        return RedirectResponse("/graphql")

    async def unavailable(request: Request, exc: Exception) -> Response:
        error = {"message": str(exc), "extensions": {"code": UnavailableError.code}}
        return JSONResponse({"errors": [error]}, status_code=503, headers={"Retry-After": "1"})

    graphql = LoyaltyGraphQL(holder, settings)
    app = Starlette(
        routes=[
            Route("/", home),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/graphql", graphql, methods=["GET", "POST"]),
        ],
        lifespan=lifespan,
        exception_handlers={UnavailableError: unavailable},
    )
    return RequestGuard(app, settings.max_body_bytes)
