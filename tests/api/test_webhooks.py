"""Webhooks: events reach a real receiver signed, in order per customer, retried until taken."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import itertools
import json
import re
import socket
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from loyalty import service
from loyalty.api.webhooks import WebhookEventType
from loyalty.app import create_app
from loyalty.config import Settings
from loyalty.domain.webhooks import EVENT_TYPES, private_address
from loyalty.store import webhooks as store
from loyalty.store.database import Pool
from tests.api.test_lifecycle import program
from tests.support import gql, on_loopback, serving

REGISTER = """
mutation R($url: String!, $types: [WebhookEventType!]!) {
  registerWebhook(url: $url, eventTypes: $types) {
    __typename
    ... on WebhookRegistered { secret webhook { id url eventTypes } }
    ... on InvalidInputError { field message }
  }
}
"""
LIST = "query { webhooks { id url eventTypes pendingDeliveries lastError } }"
LIST_HEALTH = "query { webhooks { pendingDeliveries givenUpDeliveries lastError } }"
DELETE = """
mutation D($id: ID!) {
  deleteWebhook(id: $id) {
    __typename
    ... on WebhookDeleted { webhook { id } }
    ... on WebhookNotFoundError { webhookId }
  }
}
"""
QUICK = service.RetryPolicy(first=0.05, cap=0.4, timeout=2.0, private_ok=True)


def verified(secret: str, header: str, body: bytes, tolerance: int = 300) -> bool:
    """A receiver's check, as the README shows it: recompute the HMAC over "<t>.<body>"."""
    fields = dict(part.split("=", 1) for part in header.split(","))
    signed = f"{fields['t']}.".encode() + body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    fresh = abs(time.time() - int(fields["t"])) <= tolerance
    return fresh and hmac.compare_digest(expected, fields["v1"])


@dataclass
class Received:
    at: float
    headers: dict[str, str]
    body: bytes
    status: int

    @property
    def event(self) -> dict[str, Any]:
        event: dict[str, Any] = json.loads(self.body)
        return event


@dataclass
class Receiver:
    """Records every request; answers 503 while `refuse` says so."""

    url: str = ""
    requests: list[Received] = field(default_factory=list)
    refuse: Callable[[dict[str, Any], int], bool] = lambda event, seen: False
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    released: asyncio.Event = field(default_factory=asyncio.Event)
    hung: int = 0

    async def endpoint(self, request: Request) -> Response:
        body = await request.body()
        event = json.loads(body)
        seen = sum(1 for r in self.requests if r.event["id"] == event["id"])
        status = 503 if self.refuse(event, seen) else 204
        self.requests.append(Received(time.monotonic(), dict(request.headers), body, status))
        self.arrived.set()
        return Response(status_code=status)

    async def hang(self, request: Request) -> Response:
        """An endpoint that takes the request and never answers, until the test ends."""
        self.hung += 1
        await self.released.wait()
        return Response(status_code=204)

    def taken(self) -> list[dict[str, Any]]:
        return [r.event for r in self.requests if r.status == 204]

    async def until_taken(self, count: int) -> None:
        while len(self.taken()) < count:
            self.arrived.clear()
            await self.arrived.wait()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A real HTTP server on a loopback port."""
    receiver = Receiver()
    app = Starlette(
        routes=[
            Route("/hook", receiver.endpoint, methods=["POST"]),
            Route("/hang", receiver.hang, methods=["POST"]),
        ]
    )
    async with on_loopback(app, lifespan="off") as port:
        receiver.url = f"http://127.0.0.1:{port}/hook"
        try:
            yield receiver
        finally:
            receiver.released.set()


def closed_port_url() -> str:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}/hook"


async def register(
    client: httpx.AsyncClient, admin_key: str, url: str, *types: str
) -> tuple[str, str]:
    body = await gql(client, REGISTER, {"url": url, "types": list(types)}, auth=admin_key)
    result = body["data"]["registerWebhook"]
    assert result["__typename"] == "WebhookRegistered", result
    return result["webhook"]["id"], result["secret"]


async def adjust(pool: Pool, book: service.RuleBook, customer_id: str, points: int) -> None:
    await service.adjust_points(
        pool,
        book,
        customer_id=customer_id,
        points=points,
        reason=f"goodwill {points}",
        idempotency_key=f"{customer_id}-{points}",
    )


async def drain(pool: Pool, policy: service.RetryPolicy = QUICK) -> int:
    """Passes until nothing is due; how many events were delivered."""
    delivered = 0
    for _ in range(50):
        outcome = await service.deliver_due(pool, policy)
        delivered += outcome.delivered
        if not outcome.delivered and not outcome.failed:
            return delivered
    raise AssertionError("deliveries still due after 50 passes")


async def outbox(pool: Pool, kind: str) -> list[tuple[str, str]]:
    rows = await pool.fetch("SELECT customer_id, id FROM outbox WHERE kind = $1 ORDER BY id", kind)
    return [(row["customer_id"], str(row["id"])) for row in rows]


def test_the_schema_offers_every_event_type_the_outbox_writes() -> None:
    assert [kind.value for kind in WebhookEventType] == list(EVENT_TYPES)


async def test_an_admin_registers_lists_and_deletes_a_webhook_and_sees_the_secret_once(
    client: httpx.AsyncClient, admin_key: str, pool: Pool
) -> None:
    url = "https://hooks.example.com/loyalty?shop=1"
    webhook_id, secret = await register(client, admin_key, url, "POINTS_EARNED", "TIER_CHANGED")
    assert secret.startswith("whsec_") and len(secret) > 40

    listed = (await gql(client, LIST, auth=admin_key))["data"]["webhooks"]
    assert listed == [
        {
            "id": webhook_id,
            "url": url,
            "eventTypes": ["POINTS_EARNED", "TIER_CHANGED"],
            "pendingDeliveries": 0,
            "lastError": None,
        }
    ]
    asked = await gql(client, "query { webhooks { secret } }", auth=admin_key)
    assert "Cannot query field 'secret'" in asked["errors"][0]["message"]

    deleted = (await gql(client, DELETE, {"id": webhook_id}, auth=admin_key))["data"]
    assert deleted["deleteWebhook"] == {
        "__typename": "WebhookDeleted",
        "webhook": {"id": webhook_id},
    }
    for gone in (webhook_id, "nine", "0"):
        again = (await gql(client, DELETE, {"id": gone}, auth=admin_key))["data"]
        assert again["deleteWebhook"] == {"__typename": "WebhookNotFoundError", "webhookId": gone}
    assert (await gql(client, LIST, auth=admin_key))["data"]["webhooks"] == []

    log = await pool.fetch(
        "SELECT action, subject_id, before, after FROM admin_changes"
        " WHERE subject_kind = 'webhook' ORDER BY id"
    )
    assert [(row["action"], row["subject_id"]) for row in log] == [
        ("registerWebhook", webhook_id),
        ("deleteWebhook", webhook_id),
    ]
    assert log[0]["after"]["url"] == url and log[1]["before"]["url"] == url
    assert secret not in json.dumps([dict(row) for row in log])


@pytest.mark.parametrize(
    ("url", "types", "field"),
    [
        ("ftp://hooks.example.com/x", ["POINTS_EARNED"], "url"),
        ("javascript:alert(1)", ["POINTS_EARNED"], "url"),
        ("http:///no-host", ["POINTS_EARNED"], "url"),
        ("https://user:pw@hooks.example.com/", ["POINTS_EARNED"], "url"),
        ("https://hooks.example.com:99999/", ["POINTS_EARNED"], "url"),
        ("https://hooks.example.com/a b", ["POINTS_EARNED"], "url"),
        ("https://hooks.example.com/\u00e9t\u00e9", ["POINTS_EARNED"], "url"),
        ("http://[::1/", ["POINTS_EARNED"], "url"),
        ("https://hooks.example.com/", [], "eventTypes"),
    ],
)
async def test_a_webhook_needs_an_http_url_and_an_event_type(
    client: httpx.AsyncClient, admin_key: str, pool: Pool, url: str, types: list[str], field: str
) -> None:
    body = await gql(client, REGISTER, {"url": url, "types": types}, auth=admin_key)
    assert body["data"]["registerWebhook"]["__typename"] == "InvalidInputError"
    assert body["data"]["registerWebhook"]["field"] == field
    assert await pool.fetchval("SELECT count(*) FROM webhooks") == 0


async def test_events_arrive_signed_once_each_and_in_order_per_customer(
    client: httpx.AsyncClient, admin_key: str, pool: Pool, receiver: Receiver
) -> None:
    book = await program(pool)
    await adjust(pool, book, "before-registration", 5)
    webhook_id, secret = await register(client, admin_key, receiver.url, "POINTS_ADJUSTED")
    # Interleaved, so each customer's ids are not consecutive.
    for points in (10, 20, 30):
        for customer in ("alice", "bob", "carol"):
            await adjust(pool, book, customer, points)
    await service.issue_rebate_code(pool, "alice", service.RebateOffer(amount_off=100), "k-1")

    assert await drain(pool) == 9
    adjusted = [event for event in await outbox(pool, "POINTS_ADJUSTED")]
    assert adjusted[0][0] == "before-registration"
    for request in receiver.requests:
        event = request.event
        assert verified(secret, request.headers["loyalty-signature"], request.body)
        assert not verified(secret, request.headers["loyalty-signature"], request.body + b" ")
        assert not verified("whsec_other", request.headers["loyalty-signature"], request.body)
        assert request.headers["loyalty-event-id"] == event["id"]
        assert request.headers["content-type"] == "application/json"
        assert event["type"] == "POINTS_ADJUSTED"
    taken = [(event["customerId"], event["id"]) for event in receiver.taken()]
    # Every event after registration, once, and none of another type.
    assert sorted(taken, key=lambda e: int(e[1])) == adjusted[1:]
    for customer in ("alice", "bob", "carol"):
        theirs = [event for event in receiver.taken() if event["customerId"] == customer]
        assert [event["data"]["points"] for event in theirs] == [10, 20, 30]
        assert [int(e["id"]) for e in theirs] == sorted(int(e["id"]) for e in theirs)
    listed = (await gql(client, LIST, auth=admin_key))["data"]["webhooks"]
    assert [(w["id"], w["pendingDeliveries"]) for w in listed] == [(webhook_id, 0)]


async def test_a_failing_receiver_gets_the_event_again_with_growing_waits_and_in_order(
    client: httpx.AsyncClient, admin_key: str, pool: Pool, receiver: Receiver
) -> None:
    book = await program(pool)
    receiver.refuse = lambda event, seen: seen < 3
    await register(client, admin_key, receiver.url, "POINTS_ADJUSTED")
    await adjust(pool, book, "alice", 10)
    await adjust(pool, book, "alice", 20)

    task = asyncio.create_task(service.deliver_forever(pool, 0.01, QUICK))
    try:
        async with asyncio.timeout(10):
            await receiver.until_taken(2)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    shown = [(r.event["data"]["points"], r.status) for r in receiver.requests]
    assert shown == [
        (10, 503),
        (10, 503),
        (10, 503),
        (10, 204),
        (20, 503),
        (20, 503),
        (20, 503),
        (20, 204),
    ]
    first = [r.at for r in receiver.requests[:4]]
    waits = [later - earlier for earlier, later in itertools.pairwise(first)]
    # Jitter keeps each wait within the upper half of first * 2^(n-1): 25, 50, 100 ms at least.
    for n, wait in enumerate(waits):
        assert wait >= QUICK.first * 2**n / 2, waits
    assert waits[2] > waits[0]


async def test_one_customers_failing_event_and_one_dead_endpoint_hold_back_only_their_own(
    client: httpx.AsyncClient, admin_key: str, pool: Pool, receiver: Receiver
) -> None:
    book = await program(pool)
    receiver.refuse = lambda event, seen: event["customerId"] == "alice"
    await register(client, admin_key, receiver.url, "POINTS_ADJUSTED")
    dead_id, _ = await register(client, admin_key, closed_port_url(), "POINTS_ADJUSTED")
    for points in (10, 20):
        await adjust(pool, book, "alice", points)
        await adjust(pool, book, "bob", points)

    await drain(pool, service.RetryPolicy(first=60, cap=60, timeout=2.0, private_ok=True))

    assert [(e["customerId"], e["data"]["points"]) for e in receiver.taken()] == [
        ("bob", 10),
        ("bob", 20),
    ]
    refused = [r.event["data"]["points"] for r in receiver.requests if r.status == 503]
    assert refused == [10], "alice's second event waits for her first"
    listed = {w["id"]: w for w in (await gql(client, LIST, auth=admin_key))["data"]["webhooks"]}
    assert listed[dead_id]["pendingDeliveries"] == 4
    assert "Connect" in listed[dead_id]["lastError"]
    waiting = await pool.fetch(
        """
        SELECT attempts, next_attempt_at - now() AS wait FROM webhook_deliveries
        WHERE attempts > 0 ORDER BY webhook_id, customer_id
        """
    )
    # Alice's head at the live receiver; alice's and bob's heads at the dead one.
    assert [row["attempts"] for row in waiting] == [1, 1, 1]
    for row in waiting:
        assert 29 <= row["wait"].total_seconds() <= 60


async def test_an_endpoint_that_hangs_holds_back_only_its_own_deliveries(
    client: httpx.AsyncClient, admin_key: str, pool: Pool, receiver: Receiver
) -> None:
    book = await program(pool)
    hanging = receiver.url.replace("/hook", "/hang")
    await register(client, admin_key, hanging, "POINTS_ADJUSTED")
    await register(client, admin_key, receiver.url, "POINTS_ADJUSTED")
    for points in (10, 20, 30):
        await adjust(pool, book, "alice", points)

    patient = service.RetryPolicy(first=60, cap=60, timeout=5.0, private_ok=True)
    task = asyncio.create_task(service.deliver_forever(pool, 0.01, patient))
    try:
        # Three passes in turn reach the live receiver while the first post still hangs.
        async with asyncio.timeout(3):
            await receiver.until_taken(3)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert [e["data"]["points"] for e in receiver.taken()] == [10, 20, 30]
    assert receiver.hung == 1, "one post at a time to the hanging hook: alice's first event"


async def test_an_attempt_lost_with_its_process_is_made_again_when_its_lease_ends(
    client: httpx.AsyncClient, admin_key: str, pool: Pool, receiver: Receiver
) -> None:
    book = await program(pool)
    await register(client, admin_key, receiver.url, "POINTS_ADJUSTED")
    await adjust(pool, book, "alice", 10)
    async with pool.acquire() as conn:
        [lost] = await store.claim_due(conn, 10, 0.3, [])  # and the process dies
    assert lost.customer_id == "alice" and lost.attempts == 0

    assert await service.deliver_due(pool, QUICK) == service.Delivered(0, 0)
    await asyncio.sleep(0.35)
    assert await drain(pool) == 1
    assert [e["id"] for e in receiver.taken()] == [str(lost.event_id)]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://api.localhost/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data/",  # a cloud's instance metadata
        "http://[::1]/hook",
        "http://[::ffff:10.0.0.1]/hook",
        "http://[fd00::1]/hook",
        "http://0.0.0.0/hook",
    ],
)
async def test_a_private_address_is_refused_unless_the_server_allows_it(
    pool: Pool, settings: Settings, dsn: str, admin_key: str, url: str
) -> None:
    strict = dataclasses.replace(settings, webhook_private=False)
    async with serving(create_app(strict, pool=pool, dsn=dsn)) as client:
        body = await gql(client, REGISTER, {"url": url, "types": ["POINTS_EARNED"]}, auth=admin_key)
    result = body["data"]["registerWebhook"]
    assert result["__typename"] == "InvalidInputError"
    assert result["field"] == "url"
    assert "LOYALTY_WEBHOOK_PRIVATE=true" in result["message"]
    assert await pool.fetchval("SELECT count(*) FROM webhooks") == 0


def test_public_addresses_and_names_pass_the_registration_check() -> None:
    for host in ["hooks.example.com", "93.184.215.14", "2606:4700::6810:84e5", "[2606:4700::1]"]:
        assert not private_address(host), host


async def test_a_name_that_resolves_to_a_private_address_gets_no_delivery(
    client: httpx.AsyncClient, admin_key: str, pool: Pool, receiver: Receiver
) -> None:
    """Checked again when delivering, on the address actually connected to: a name that
    resolves to this machine is refused, and the attempt is retried like any failure."""
    book = await program(pool)
    url = receiver.url.replace("127.0.0.1", "localhost")
    await service.register_webhook(pool, url, ["POINTS_ADJUSTED"], private_ok=True)
    await adjust(pool, book, "alice", 10)
    outcome = await service.deliver_due(pool, dataclasses.replace(QUICK, private_ok=False))
    assert (outcome.delivered, outcome.failed) == (0, 1)
    assert receiver.requests == []
    [hook] = (await gql(client, LIST, auth=admin_key))["data"]["webhooks"]
    assert hook["pendingDeliveries"] == 1
    assert re.fullmatch(
        r"ValueError: localhost resolves to (127\.0\.0\.1|::1): deliveries go to public "
        r"addresses only \(LOYALTY_WEBHOOK_PRIVATE=true allows private ones\)",
        hook["lastError"],
    ), hook["lastError"]


RETRY = """
mutation($id: ID!) { retryWebhookDeliveries(id: $id) {
  __typename ... on WebhookDeliveriesRetried { requeued webhook { id } }
  ... on WebhookNotFoundError { code webhookId } } }
"""


async def test_an_event_that_keeps_failing_is_given_up_and_an_admin_sends_it_again(
    client: httpx.AsyncClient, admin_key: str, pool: Pool, receiver: Receiver
) -> None:
    book = await program(pool)
    receiver.refuse = lambda event, seen: event["data"]["points"] == 10
    webhook_id, _ = await register(client, admin_key, receiver.url, "POINTS_ADJUSTED")
    await adjust(pool, book, "alice", 10)
    await adjust(pool, book, "alice", 20)

    # Three attempts, then alice's next event is no longer held back by the first.
    task = asyncio.create_task(
        service.deliver_forever(pool, 0.01, dataclasses.replace(QUICK, max_attempts=3))
    )
    try:
        async with asyncio.timeout(10):
            await receiver.until_taken(1)
            waiting = "SELECT count(*) FROM webhook_deliveries WHERE gave_up_at IS NULL"
            for _ in itertools.count():  # until the delivery's deletion commits
                if not await pool.fetchval(waiting):
                    break
                await asyncio.sleep(0.01)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert [(r.event["data"]["points"], r.status) for r in receiver.requests] == [
        (10, 503),
        (10, 503),
        (10, 503),
        (20, 204),
    ]
    [hook] = (await gql(client, LIST_HEALTH, auth=admin_key))["data"]["webhooks"]
    assert (hook["pendingDeliveries"], hook["givenUpDeliveries"]) == (0, 1)
    assert hook["lastError"] == "HTTP 503"

    receiver.refuse = lambda event, seen: False
    retried = (await gql(client, RETRY, {"id": webhook_id}, auth=admin_key))["data"]
    assert retried["retryWebhookDeliveries"] == {
        "__typename": "WebhookDeliveriesRetried",
        "requeued": 1,
        "webhook": {"id": webhook_id},
    }
    assert await drain(pool) == 1
    assert [event["data"]["points"] for event in receiver.taken()] == [20, 10]
    [hook] = (await gql(client, LIST_HEALTH, auth=admin_key))["data"]["webhooks"]
    assert (hook["pendingDeliveries"], hook["givenUpDeliveries"]) == (0, 0)
    logged = await pool.fetchval(
        "SELECT after FROM admin_changes WHERE action = 'retryWebhookDeliveries'"
    )
    assert logged["requeued"] == 1
    again = (await gql(client, RETRY, {"id": webhook_id}, auth=admin_key))["data"]
    assert again["retryWebhookDeliveries"]["requeued"] == 0
    missing = (await gql(client, RETRY, {"id": "999"}, auth=admin_key))["data"]
    assert missing["retryWebhookDeliveries"] == {
        "__typename": "WebhookNotFoundError",
        "code": "WEBHOOK_NOT_FOUND",
        "webhookId": "999",
    }
