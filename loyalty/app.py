"""Builds the Starlette app; the lifespan opens the pool and the rule book, and closes them."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp

from loyalty.api.schema import LoyaltyGraphQL
from loyalty.config import Settings
from loyalty.errors import UnavailableError
from loyalty.metrics import Metrics
from loyalty.requestlog import RequestGuard
from loyalty.service import FailureThrottle, Pool, RateLimiter, RetryPolicy, RuleBook
from loyalty.service.expiry import lifecycle_forever
from loyalty.service.live import LiveHub
from loyalty.service.stats import refresh_forever
from loyalty.service.webhooks import deliver_forever
from loyalty.sockets import SocketLimit
from loyalty.store.database import create_pool, ping
from loyalty.web import routes as admin_routes


class Runtime:
    """The pool, rule book and live hub, opened by the lifespan or handed in by the caller."""

    def __init__(self, dsn: str | None, pool: Pool | None, limiter: RateLimiter) -> None:
        self.dsn = dsn
        self.given_pool = pool
        self._pool = pool
        self._rulebook: RuleBook | None = None
        self._live: LiveHub | None = None
        self.throttle = FailureThrottle()
        self.limiter = limiter
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def pool(self) -> Pool:
        if self._pool is None:
            raise RuntimeError("the database pool is not open")
        return self._pool

    @property
    def rulebook(self) -> RuleBook:
        if self._rulebook is None:
            raise RuntimeError("the rule book is not open")
        return self._rulebook

    @property
    def live(self) -> LiveHub:
        if self._live is None:
            raise RuntimeError("the live hub is not open")
        return self._live

    @property
    def open(self) -> bool:
        return self._pool is not None

    async def start(self, settings: Settings) -> None:
        if self._pool is None:
            assert self.dsn is not None, "create_app needs a dsn or a pool"
            self._pool = await create_pool(
                self.dsn, min_size=settings.pool_min_size, max_size=settings.pool_max_size
            )
        self._rulebook = RuleBook(self._pool, self.dsn)
        await self._rulebook.start()
        self._live = LiveHub(self._pool, self.dsn)
        await self._live.start()
        loop = asyncio.get_running_loop()
        if settings.stats_seconds > 0:
            self._tasks.append(
                loop.create_task(refresh_forever(self._pool, settings.stats_seconds))
            )
        if settings.lifecycle_seconds > 0:
            self._tasks.append(
                loop.create_task(
                    lifecycle_forever(self._pool, self._rulebook, settings.lifecycle_seconds)
                )
            )
        if settings.webhook_seconds > 0:
            self._tasks.append(
                loop.create_task(
                    deliver_forever(
                        self._pool,
                        settings.webhook_seconds,
                        RetryPolicy(private_ok=settings.webhook_private),
                    )
                )
            )

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self._live is not None:
            await self._live.close()
            self._live = None
        if self._rulebook is not None:
            await self._rulebook.close()
            self._rulebook = None
        if self._pool is not None and self.given_pool is None:
            await self._pool.close()
            self._pool = None


def create_app(settings: Settings, *, dsn: str | None = None, pool: Pool | None = None) -> ASGIApp:
    """The service; with a pool it uses that pool, with a dsn it also LISTENs for rule and
    points changes (without one, subscribers are served by reading once a second)."""
    settings.require_jwt_secret()
    runtime = Runtime(dsn, pool, RateLimiter(settings.rate_limit, settings.rate_burst))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await runtime.start(settings)
        try:
            yield
        finally:
            await runtime.stop()

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        ready = runtime.open and await ping(runtime.pool)
        return JSONResponse(
            {"status": "ok" if ready else "unavailable", "database": ready},
            status_code=200 if ready else 503,
        )

    metrics = Metrics()

    async def metrics_text(request: Request) -> Response:
        gauges = []
        if runtime.open:
            size, idle = runtime.pool.get_size(), runtime.pool.get_idle_size()
            text = "Database connections in this process's pool."
            gauges += [
                ("loyalty_db_pool_connections", text, {"state": "idle"}, idle),
                ("loyalty_db_pool_connections", text, {"state": "used"}, size - idle),
            ]
        return PlainTextResponse(
            metrics.render(gauges), media_type="text/plain; version=0.0.4; charset=utf-8"
        )

    async def home(request: Request) -> Response:
        return RedirectResponse("/graphql")

    async def unavailable(request: Request, exc: Exception) -> Response:
        error = {"message": str(exc), "extensions": {"code": UnavailableError.code}}
        return JSONResponse({"errors": [error]}, status_code=503, headers={"Retry-After": "1"})

    graphql = LoyaltyGraphQL(runtime, settings)
    app = Starlette(
        routes=[
            Route("/", home),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics_text),
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute(
                "/graphql",
                SocketLimit(graphql, settings.max_sockets, settings.max_sockets_per_client),
            ),
            *admin_routes(),
        ],
        lifespan=lifespan,
        exception_handlers={UnavailableError: unavailable},
    )
    return RequestGuard(app, settings.max_body_bytes, metrics)
