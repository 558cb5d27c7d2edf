"""Settings, read once from the environment."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from starlette.config import Config
from starlette.datastructures import Secret

DEVELOPMENT = "development"
PRODUCTION = "production"
JWT_ALGORITHMS = ("HS256", "HS384", "HS512")


class ConfigError(Exception):
    """The service is misconfigured."""


@dataclass(frozen=True)
class Settings:
    environment: str
    host: str
    port: int
    database_url: Secret | None
    state_dir: Path
    jwt_secret: Secret | None
    jwt_algorithm: str
    max_body_bytes: int
    max_query_depth: int
    max_query_cost: int
    introspection: bool
    rate_limit: float
    rate_burst: int
    pool_min_size: int
    pool_max_size: int
    log_level: str
    stats_seconds: float
    lifecycle_seconds: float
    workers: int
    webhook_seconds: float = 2.0
    max_sockets: int = 1000
    webhook_private: bool = False
    max_sockets_per_client: int = 20

    @property
    def development(self) -> bool:
        return self.environment == DEVELOPMENT

    def require_jwt_secret(self) -> str:
        if self.jwt_secret is None:
            raise ConfigError("LOYALTY_JWT_SECRET is required outside development")
        return str(self.jwt_secret)


def project_root() -> Path:
    """The checkout this package runs from, or the working directory when it is installed."""
    checkout = Path(__file__).resolve().parents[1]
    return checkout if (checkout / "pyproject.toml").is_file() else Path.cwd()


def resource(*parts: str) -> Path:
    """A file shipped beside the package (db/, schema/)."""
    return project_root().joinpath(*parts)


def load_settings(environ: Mapping[str, str] = os.environ) -> Settings:
    config = Config(environ=environ)
    environment = config("LOYALTY_ENV", default=PRODUCTION)
    if environment not in (DEVELOPMENT, PRODUCTION):
        raise ConfigError(f"LOYALTY_ENV must be {DEVELOPMENT} or {PRODUCTION}, not {environment!r}")
    state_dir = Path(config("LOYALTY_STATE_DIR", default=str(project_root() / ".loyalty")))
    state_dir = state_dir.resolve()
    algorithm = config("LOYALTY_JWT_ALGORITHM", default="HS256")
    if algorithm not in JWT_ALGORITHMS:
        raise ConfigError(f"LOYALTY_JWT_ALGORITHM must be one of {', '.join(JWT_ALGORITHMS)}")
    url = config("LOYALTY_DATABASE_URL", cast=Secret, default=None)
    url = url if url and str(url) else None
    return Settings(
        environment=environment,
        host=config("LOYALTY_HOST", default="127.0.0.1"),
        port=config("LOYALTY_PORT", cast=int, default=8000),
        database_url=url,
        state_dir=state_dir,
        jwt_secret=_jwt_secret(config, environment == DEVELOPMENT or url is None, state_dir),
        jwt_algorithm=algorithm,
        max_body_bytes=config("LOYALTY_MAX_BODY_BYTES", cast=int, default=1_000_000),
        max_query_depth=config("LOYALTY_MAX_QUERY_DEPTH", cast=int, default=10),
        max_query_cost=config("LOYALTY_MAX_QUERY_COST", cast=int, default=5_000),
        introspection=config(
            "LOYALTY_INTROSPECTION", cast=bool, default=environment == DEVELOPMENT
        ),
        rate_limit=config("LOYALTY_RATE_LIMIT", cast=float, default=100.0),
        rate_burst=config("LOYALTY_RATE_BURST", cast=int, default=200),
        pool_min_size=config("LOYALTY_POOL_MIN_SIZE", cast=int, default=2),
        pool_max_size=config("LOYALTY_POOL_MAX_SIZE", cast=int, default=10),
        log_level=config("LOYALTY_LOG_LEVEL", default="INFO"),
        stats_seconds=config("LOYALTY_STATS_SECONDS", cast=float, default=600.0),
        lifecycle_seconds=config("LOYALTY_LIFECYCLE_SECONDS", cast=float, default=3600.0),
        workers=config("LOYALTY_WORKERS", cast=int, default=1),
        # How often each process looks for webhook deliveries that are due; 0 turns it off.
        webhook_seconds=config("LOYALTY_WEBHOOK_SECONDS", cast=float, default=2.0),
        # Whether webhooks may deliver to loopback and private networks (a developer's receiver).
        webhook_private=config(
            "LOYALTY_WEBHOOK_PRIVATE", cast=bool, default=environment == DEVELOPMENT
        ),
        # Live connections (subscriptions) each process holds open, in all and per address.
        max_sockets=config("LOYALTY_MAX_SOCKETS", cast=int, default=1000),
        max_sockets_per_client=config("LOYALTY_MAX_SOCKETS_PER_CLIENT", cast=int, default=20),
    )


def _jwt_secret(config: Config, local: bool, state_dir: Path) -> Secret | None:
    secret = config("LOYALTY_JWT_SECRET", default="")
    if secret:
        if len(secret) < 32:
            raise ConfigError("LOYALTY_JWT_SECRET must be at least 32 characters")
        return Secret(secret)
    if not local:
        return None
    # In development, or on the embedded database, a secret generated into the state folder
    # keeps demo tokens valid across restarts and lets `loyalty token` sign what `run` accepts.
    path = state_dir / "jwt-secret"
    if not path.exists():
        state_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return Secret(path.read_text().strip())
