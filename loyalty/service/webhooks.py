"""Webhooks: admins register a URL, and the outbox's events reach it signed, retried, in order.

Each event is queued per webhook and customer when it is written (see 0012_webhooks.sql). A
pass leases each customer's oldest waiting event, posts it, and deletes it once the receiver
answers 2xx; a failure waits with exponential backoff. Delivery is at least once: a receiver
deduplicates on Loyalty-Event-Id.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import socket
import ssl
import time
from collections.abc import Collection
from dataclasses import dataclass
from itertools import groupby
from urllib.parse import urlsplit

from loyalty.domain.access import SYSTEM, Actor
from loyalty.domain.webhooks import (
    EVENT_ID_HEADER,
    EVENT_TYPES,
    PRIVATE_REFUSED,
    SIGNATURE_HEADER,
    RetryPolicy,
    event_body,
    new_secret,
    private_address,
    signature,
    url_problem,
)
from loyalty.errors import LoyaltyError, UnavailableError, ValidationError
from loyalty.service.changes import record_change
from loyalty.store import webhooks
from loyalty.store.database import Pool, connection, transaction
from loyalty.store.webhooks import Delivery, WebhookHealth, WebhookRow

log = logging.getLogger("loyalty.webhooks")
PER_WEBHOOK = 50  # heads one pass leases for one webhook
LEASE_MARGIN = 30.0  # seconds past the request timeout before a lost attempt is tried again
MAX_ERROR = 300


class WebhookNotFoundError(LoyaltyError):
    """No webhook has this id."""

    code = "WEBHOOK_NOT_FOUND"

    def __init__(self, webhook_id: str) -> None:
        self.webhook_id = webhook_id
        super().__init__(f"there is no webhook {webhook_id!r}")


def _public(row: WebhookRow) -> dict[str, object]:
    """What the change log keeps of a webhook: never its secret."""
    return {"id": row.id, "url": row.url, "event_types": row.event_types}


async def register_webhook(
    pool: Pool,
    url: str,
    event_types: Collection[str],
    actor: Actor = SYSTEM,
    *,
    private_ok: bool = False,
) -> tuple[WebhookRow, str]:
    """The new webhook and its signing secret, which is never shown again."""
    problem = url_problem(url)
    if problem:
        raise ValidationError("url", problem)
    if not private_ok and private_address(urlsplit(url).hostname or ""):
        raise ValidationError("url", f"the URL names a private address: {PRIVATE_REFUSED}")
    kinds = list(dict.fromkeys(event_types))
    if not kinds:
        raise ValidationError("eventTypes", "name at least one event type")
    unknown = [kind for kind in kinds if kind not in EVENT_TYPES]
    if unknown:
        raise ValidationError("eventTypes", f"unknown event types: {', '.join(unknown)}")
    secret = new_secret()
    async with transaction(pool) as conn:
        row = await webhooks.insert_webhook(conn, url, kinds, secret)
        await record_change(
            conn, actor, "registerWebhook", ("webhook", str(row.id)), None, _public(row)
        )
    return row, secret


async def list_webhooks(pool: Pool) -> list[tuple[WebhookRow, WebhookHealth]]:
    async with connection(pool) as conn:
        return await webhooks.list_webhooks(conn)


async def delete_webhook(pool: Pool, webhook_id: int, actor: Actor = SYSTEM) -> WebhookRow:
    """Deletes the webhook; events still waiting for it are dropped with it."""
    async with transaction(pool) as conn:
        row = await webhooks.delete_webhook(conn, webhook_id)
        if row is None:
            raise WebhookNotFoundError(str(webhook_id))
        await record_change(
            conn, actor, "deleteWebhook", ("webhook", str(row.id)), _public(row), None
        )
    return row


async def retry_webhook_deliveries(
    pool: Pool, webhook_id: int, actor: Actor = SYSTEM
) -> tuple[WebhookRow, int]:
    """Sends the webhook's given-up events again; how many were queued."""
    async with transaction(pool) as conn:
        row = await webhooks.lock_webhook(conn, webhook_id)
        if row is None:
            raise WebhookNotFoundError(str(webhook_id))
        count = await webhooks.retry_given_up(conn, webhook_id)
        await record_change(
            conn,
            actor,
            "retryWebhookDeliveries",
            ("webhook", str(row.id)),
            None,
            {**_public(row), "requeued": count},
        )
    return row, count


@dataclass(frozen=True)
class Delivered:
    delivered: int
    failed: int


async def deliver_due(
    pool: Pool, policy: RetryPolicy | None = None, *, skip_webhooks: Collection[int] = ()
) -> Delivered:
    """One pass: attempt every event whose turn has come, and wait for the answers."""
    policy = policy or RetryPolicy()
    claimed = await _claim(pool, policy, skip_webhooks)
    outcomes = await asyncio.gather(*(_attempt(pool, policy, d) for d in claimed))
    return Delivered(sum(outcomes), len(outcomes) - sum(outcomes))


async def deliver_forever(pool: Pool, every: float, policy: RetryPolicy | None = None) -> None:
    """The server's delivery task: each webhook's deliveries run on their own, so an endpoint
    that hangs holds back only its own events. Safe in every process at once: an attempt in
    flight is leased."""
    policy = policy or RetryPolicy()
    busy: dict[int, asyncio.Task[None]] = {}
    try:
        while True:
            try:
                claimed = await _claim(pool, policy, list(busy))
            except UnavailableError:
                log.warning("webhooks not delivered: the database is unavailable")
                claimed = []
            except Exception:
                log.exception("webhooks not delivered; trying again later")
                claimed = []
            for webhook_id, group in groupby(claimed, key=lambda d: d.webhook_id):
                busy[webhook_id] = asyncio.create_task(_attempt_all(pool, policy, list(group)))
            await asyncio.sleep(every)
            busy = {webhook_id: task for webhook_id, task in busy.items() if not task.done()}
    finally:
        pending = list(busy.values())
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


async def _claim(pool: Pool, policy: RetryPolicy, skip_webhooks: Collection[int]) -> list[Delivery]:
    async with transaction(pool) as conn:
        return await webhooks.claim_due(
            conn, PER_WEBHOOK, policy.timeout + LEASE_MARGIN, list(skip_webhooks)
        )


async def _attempt_all(pool: Pool, policy: RetryPolicy, deliveries: list[Delivery]) -> None:
    outcomes = await asyncio.gather(
        *(_attempt(pool, policy, d) for d in deliveries), return_exceptions=True
    )
    for outcome in outcomes:
        if isinstance(outcome, Exception):
            log.error("webhook delivery failed unexpectedly", exc_info=outcome)


async def _attempt(pool: Pool, policy: RetryPolicy, delivery: Delivery) -> bool:
    """Post one event; True when the receiver took it. A lost write leaves the lease to end."""
    error = await _post_event(delivery, policy.timeout, policy.private_ok)
    try:
        async with transaction(pool) as conn:
            if error is None:
                await webhooks.delete_delivery(conn, delivery)
            elif delivery.attempts + 1 >= policy.max_attempts:
                await webhooks.give_up_delivery(conn, delivery, error)
                log.warning(
                    "webhook %s: event %s given up after %s attempts: %s",
                    delivery.webhook_id,
                    delivery.event_id,
                    delivery.attempts + 1,
                    error,
                )
                return False
            else:
                delay = policy.delay(delivery.attempts + 1)
                await webhooks.postpone_delivery(conn, delivery, delay, error)
    except UnavailableError:
        log.warning(
            "webhook %s: event %s outcome not saved", delivery.webhook_id, delivery.event_id
        )
        return False
    if error is not None:
        log.info(
            "webhook %s: event %s failed (attempt %s): %s",
            delivery.webhook_id,
            delivery.event_id,
            delivery.attempts + 1,
            error,
        )
    return error is None


async def _post_event(delivery: Delivery, seconds: float, private_ok: bool) -> str | None:
    """None when the receiver answered 2xx, else why not."""
    body = event_body(
        delivery.event_id,
        delivery.kind,
        delivery.customer_id,
        delivery.created_at,
        delivery.payload,
    )
    headers = {
        "Content-Type": "application/json",
        EVENT_ID_HEADER: str(delivery.event_id),
        "Loyalty-Event-Type": delivery.kind,
        SIGNATURE_HEADER: signature(delivery.secret, int(time.time()), body),
    }
    try:
        async with asyncio.timeout(seconds):
            status = await post(delivery.url, headers, body, private_ok=private_ok)
    except TimeoutError:
        return f"no answer within {seconds:g} seconds"
    except (OSError, ValueError, asyncio.IncompleteReadError) as error:
        return f"{type(error).__name__}: {error}"[:MAX_ERROR]
    return None if 200 <= status < 300 else f"HTTP {status}"


async def _address(host: str, port: int, private_ok: bool) -> str:
    """The address to connect to, checked after resolving and then used as it is, so a name
    that resolves elsewhere a moment later cannot point a delivery at a private address."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    address = str(infos[0][4][0])
    if not private_ok and private_address(address):
        raise ValueError(f"{host} resolves to {address}: {PRIVATE_REFUSED}")
    return address


@functools.cache
def _tls() -> ssl.SSLContext:
    return ssl.create_default_context()


async def post(url: str, headers: dict[str, str], body: bytes, *, private_ok: bool = False) -> int:
    """POST body over HTTP/1.1 and return the status; redirects are not followed."""
    parts = urlsplit(url)
    secure = parts.scheme == "https"
    port = parts.port or (443 if secure else 80)
    host = await _address(parts.hostname or "", port, private_ok)
    reader, writer = await asyncio.open_connection(
        host,
        port,
        ssl=_tls() if secure else None,
        server_hostname=parts.hostname if secure else None,
    )
    try:
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        lines = [
            f"POST {target} HTTP/1.1",
            f"Host: {parts.netloc}",
            f"Content-Length: {len(body)}",
            "Connection: close",
            "User-Agent: loyalty-webhooks",
            *(f"{name}: {value}" for name, value in headers.items()),
        ]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("ascii") + body)
        await writer.drain()
        status_line = await reader.readuntil(b"\r\n")
        version, _, rest = status_line.decode("latin-1").partition(" ")
        if not version.startswith("HTTP/") or not rest[:3].isdigit():
            raise ValueError(f"not an HTTP answer: {status_line[:40]!r}")
        return int(rest[:3])
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
