"""pointsChanged over graphql-transport-ws, with a real websocket client and two servers.

Changes are made through one app and followed on another, each with its own pool and
listener, as two processes behind a load balancer would be.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from starlette.types import ASGIApp
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from loyalty import service
from loyalty.app import create_app
from loyalty.config import Settings
from loyalty.domain.access import Role
from loyalty.service import live
from loyalty.store import outbox
from loyalty.store.database import Pool, transaction
from tests.support import customer_token, gql, on_loopback

SEED: dict[str, Any] = {
    "program": {"name": "Corner Pizza", "currency": "EUR", "timezone": "UTC"},
    "points_policy": {"expiry_months": 12, "pending_days": 0},
    "products": [{"sku": "PEPP-L", "name": "Pepperoni L", "category": "pizza", "price": 1499}],
    "rules": [
        {
            "kind": "BASE_EARN",
            "name": "1 a euro",
            "spec": {"baseEarn": {"mode": "per_unit", "points": 1}},
        },
    ],
}
FOLLOW = """
subscription($customerId: String, $afterEventId: BigInt) {
  pointsChanged(customerId: $customerId, afterEventId: $afterEventId) {
    eventId kind customerId points balance at payload
  }
}
"""
RECORD = """
mutation($input: PurchaseInput!) {
  recordPurchase(input: $input) { __typename ... on PurchaseRecorded { pointsEarned } }
}
"""
RETURN = """
mutation($input: ReturnInput!) {
  recordReturn(input: $input) { __typename ... on ReturnRecorded { pointsReversed } }
}
"""
QUIET_SECONDS = 0.5  # how long a subscriber that should hear nothing is listened to


@asynccontextmanager
async def served(app: ASGIApp) -> AsyncIterator[str]:
    """The app on a free loopback port, as host:port; with a dsn of its own, one more process."""
    async with on_loopback(app) as port:
        yield f"127.0.0.1:{port}"


@dataclass
class Subscriber:
    """One graphql-transport-ws connection with one subscription on it."""

    socket: ClientConnection

    async def receive(self, within: float = 2.0) -> dict[str, Any]:
        message: dict[str, Any] = json.loads(await asyncio.wait_for(self.socket.recv(), within))
        return message

    async def change(self, within: float = 2.0) -> dict[str, Any]:
        message = await self.receive(within)
        assert message["type"] == "next", message
        assert "errors" not in message["payload"], message
        change: dict[str, Any] = message["payload"]["data"]["pointsChanged"]
        return change

    async def hears_nothing(self) -> None:
        with pytest.raises(TimeoutError):
            message = await self.receive(QUIET_SECONDS)
            pytest.fail(f"expected nothing, got {message}")


@asynccontextmanager
async def subscribed(
    host: str,
    credential: str | None,
    variables: dict[str, Any],
    *,
    header: bool = False,
    query: str = FOLLOW,
) -> AsyncIterator[Subscriber]:
    """Subscribes to pointsChanged with the credential in connection_init (or a header)."""
    params = {"Authorization": f"Bearer {credential}"} if credential and not header else {}
    headers = {"Authorization": f"Bearer {credential}"} if credential and header else None
    async with connect(
        f"ws://{host}/graphql",
        subprotocols=[Subprotocol("graphql-transport-ws")],
        additional_headers=headers,
    ) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": params}))
        subscriber = Subscriber(ws)
        assert (await subscriber.receive())["type"] == "connection_ack"
        payload = {"query": query, "variables": variables}
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
        yield subscriber


async def last_event(pool: Pool, customer_id: str) -> int:
    async with transaction(pool) as conn:
        return await outbox.last_event_id(conn, customer_id)


def purchase(customer_id: str, transaction_id: str, at: datetime) -> dict[str, Any]:
    return {
        "storeId": "S1",
        "customerId": customer_id,
        "transactionId": transaction_id,
        "occurredAt": at.isoformat(),
        "lines": [{"sku": "PEPP-L", "quantity": 1, "unitPrice": 1499}],
    }


async def adjust(pool: Pool, customer_id: str, points: int) -> None:
    book = service.RuleBook(pool, None)
    await service.adjust_points(
        pool,
        book,
        customer_id=customer_id,
        points=points,
        reason="goodwill",
        idempotency_key=uuid.uuid4().hex,
    )


@pytest.fixture
async def seeded(pool: Pool) -> Pool:
    assert await service.load_seed(pool, SEED)
    return pool


async def test_a_customer_hears_their_own_changes_made_through_another_process(
    seeded: Pool, settings: Settings, dsn: str
) -> None:
    pool = seeded
    pos = await service.create_api_key(pool, Role.POS, None, "till")
    at = datetime.now(UTC) - timedelta(minutes=1)
    latencies = []
    async with (
        served(create_app(settings, dsn=dsn)) as writer,
        served(create_app(settings, dsn=dsn)) as reader,
        httpx.AsyncClient(base_url=f"http://{writer}") as http,
    ):
        alice_after, bob_after = await last_event(pool, "alice"), await last_event(pool, "bob")
        async with (
            subscribed(reader, customer_token("alice"), {"afterEventId": alice_after}) as alice,
            # bob names alice: a customer follows their own changes, whoever they name
            subscribed(
                reader, customer_token("bob"), {"customerId": "alice", "afterEventId": bob_after}
            ) as bob,
        ):
            sent = time.monotonic()
            body = await gql(http, RECORD, {"input": purchase("alice", "T-1", at)}, auth=pos)
            earned = await alice.change()
            latencies.append(time.monotonic() - sent)
            assert body["data"]["recordPurchase"] == {
                "__typename": "PurchaseRecorded",
                "pointsEarned": 14,
            }
            assert earned["kind"] == "POINTS_EARNED"
            assert (earned["customerId"], earned["points"], earned["balance"]) == ("alice", 14, 14)
            assert earned["payload"]["transactionId"] == "T-1"
            assert earned["eventId"] > alice_after

            sent = time.monotonic()
            taken_back = {
                "storeId": "S1",
                "transactionId": "T-1",
                "returnId": "R-1",
                "lines": [{"sku": "PEPP-L", "quantity": 1}],
            }
            body = await gql(http, RETURN, {"input": taken_back}, auth=pos)
            reversed_ = await alice.change()
            latencies.append(time.monotonic() - sent)
            assert body["data"]["recordReturn"]["pointsReversed"] == 14
            assert (reversed_["kind"], reversed_["points"], reversed_["balance"]) == (
                "POINTS_REVERSED",
                -14,
                0,
            )
            assert reversed_["eventId"] > earned["eventId"]

            # Points earned a year ago on another purchase, expired by the nightly run.
            body = await gql(http, RECORD, {"input": purchase("alice", "T-2", at)}, auth=pos)
            assert (await alice.change())["kind"] == "POINTS_EARNED"
            book = service.RuleBook(pool, None)
            sent = time.monotonic()
            expired = await service.expire_points(
                pool, book, datetime.now(UTC) + timedelta(days=400)
            )
            assert expired.points == 14
            gone = await alice.change()
            latencies.append(time.monotonic() - sent)
            assert (gone["kind"], gone["points"], gone["balance"]) == ("POINTS_EXPIRED", -14, 0)

            sent = time.monotonic()
            offer = service.RebateOffer(amount_off=200)
            rebate, _ = await service.issue_rebate_code(pool, "alice", offer, "thanks-alice")
            issued = await alice.change()
            latencies.append(time.monotonic() - sent)
            assert (issued["kind"], issued["points"], issued["balance"]) == (
                "CODE_ISSUED",
                None,
                None,
            )
            assert issued["payload"]["code"].replace("-", "") == rebate.code.replace("-", "")

            # Bob heard none of it, though his subscription was live all along.
            await bob.hears_nothing()
            await adjust(pool, "bob", 5)
            own = await bob.change()
            assert (own["customerId"], own["kind"], own["points"]) == ("bob", "POINTS_ADJUSTED", 5)
            await bob.hears_nothing()
            await alice.hears_nothing()
    print(f"pointsChanged latency, request sent to event received: {latencies}")
    assert max(latencies) < 1.0, latencies


async def test_an_admin_follows_any_customer_they_name(
    seeded: Pool, settings: Settings, dsn: str
) -> None:
    admin = await service.create_api_key(seeded, Role.ADMIN, None, "admin")
    async with served(create_app(settings, dsn=dsn)) as host:
        after = await last_event(seeded, "alice")
        async with subscribed(host, admin, {"customerId": "alice", "afterEventId": after}) as sub:
            await adjust(seeded, "bob", 3)
            await adjust(seeded, "alice", 7)
            change = await sub.change()
            assert (change["customerId"], change["points"], change["balance"]) == ("alice", 7, 7)
        # The API key in the upgrade request's header does as well as in connection_init;
        # without afterEventId, what committed before the subscription is not sent.
        await adjust(seeded, "bob", 2)
        async with subscribed(host, admin, {"customerId": "bob"}, header=True) as sub:
            for _ in range(20):  # until the subscription is in place
                await adjust(seeded, "bob", 1)
                with contextlib.suppress(TimeoutError):
                    change = await sub.change(within=0.25)
                    break
            else:
                pytest.fail("the subscription never heard bob's changes")
            assert (change["customerId"], change["points"]) == ("bob", 1)
        async with subscribed(host, admin, {}) as sub:
            message = await sub.receive()
            assert message["type"] == "next", message
            [error] = message["payload"]["errors"]
            assert error["extensions"]["code"] == "INVALID_INPUT"
            assert "names the customer" in error["message"]


@pytest.mark.parametrize(
    ("who", "code", "says"),
    [
        ("nobody", "UNAUTHENTICATED", "Bearer"),
        ("forged", "UNAUTHENTICATED", "the customer token is not valid"),
        ("pos", "FORBIDDEN", "a pos may not"),
    ],
)
async def test_a_caller_without_the_right_is_refused_over_the_protocol(
    seeded: Pool, settings: Settings, dsn: str, who: str, code: str, says: str
) -> None:
    credentials = {
        "nobody": None,
        "forged": customer_token("alice")[:-4] + "AAAA",
        "pos": await service.create_api_key(seeded, Role.POS, None, "till"),
    }
    async with (
        served(create_app(settings, dsn=dsn)) as host,
        subscribed(host, credentials[who], {"customerId": "alice", "afterEventId": 0}) as sub,
    ):
        message = await sub.receive()
        # The protocol's error message: the operation is over, and nothing more comes.
        assert message["type"] == "error", message
        [error] = message["payload"]
        assert (error["path"], error["extensions"]["code"]) == (["pointsChanged"], code)
        assert says in error["message"]
        await sub.hears_nothing()


async def test_changes_missed_while_away_come_first_and_in_order(
    seeded: Pool, settings: Settings, dsn: str
) -> None:
    for points in (1, 2, 3):
        await adjust(seeded, "alice", points)
    async with (
        served(create_app(settings, dsn=dsn)) as host,
        subscribed(host, customer_token("alice"), {"afterEventId": 0}) as sub,
    ):
        changes = [await sub.change() for _ in range(3)]
        assert [(c["points"], c["balance"]) for c in changes] == [(1, 1), (2, 3), (3, 6)]
        ids = [c["eventId"] for c in changes]
        assert ids == sorted(ids)
        resumed = {"afterEventId": ids[1]}
        async with subscribed(host, customer_token("alice"), resumed) as again:
            assert (await again.change())["eventId"] == ids[2]
            await again.hears_nothing()


async def test_a_lost_listener_falls_back_to_reading_and_comes_back(
    seeded: Pool, settings: Settings, dsn: str
) -> None:
    listening = """
        SELECT pid FROM pg_stat_activity
        WHERE datname = current_database() AND query = $1
    """
    statement = f'LISTEN "{outbox.CHANNEL}"'

    async def listening_pids() -> set[int]:
        return {row["pid"] for row in await seeded.fetch(listening, statement)}

    async with served(create_app(settings, dsn=dsn)) as host:
        [listener] = await seeded.fetch(listening, statement)
        after = await last_event(seeded, "alice")
        async with subscribed(host, customer_token("alice"), {"afterEventId": after}) as sub:
            assert await seeded.fetchval("SELECT pg_terminate_backend($1)", listener["pid"])
            await asyncio.sleep(0.1)
            await adjust(seeded, "alice", 4)
            # Heard within a poll, with nobody listening.
            change = await sub.change(within=live.POLL_SECONDS * 3)
            assert (change["points"], change["balance"]) == (4, 4)
            deadline = time.monotonic() + live.POLL_SECONDS * 5
            while not await listening_pids() - {listener["pid"]}:
                assert time.monotonic() < deadline, "the listener never came back"
                await asyncio.sleep(0.05)
            sent = time.monotonic()
            await adjust(seeded, "alice", 6)
            change = await sub.change()
            assert (change["points"], change["balance"]) == (6, 10)
            assert time.monotonic() - sent < 1.0


async def test_a_slow_subscriber_gets_every_event_in_order(seeded: Pool) -> None:
    count = live.QUEUE_SIZE + live.READ_BATCH + 7
    async with transaction(seeded) as conn:
        await outbox.add_events(
            conn, "alice", [("POINTS_ADJUSTED", {"n": n}) for n in range(count)]
        )
    hub = live.LiveHub(seeded, None)
    await hub.start()
    try:
        async with hub.subscribe("alice", 0) as feed:
            got = [(await asyncio.wait_for(feed.next(), 3)).payload["n"] for _ in range(count)]
            assert got == list(range(count))
            assert feed.queue.empty()
    finally:
        await hub.close()


async def test_live_connections_are_capped_per_address_and_a_closed_one_frees_its_place(
    pool: Pool, settings: Settings, dsn: str
) -> None:
    capped = dataclasses.replace(settings, max_sockets_per_client=2)
    customer = customer_token("alice")
    async with served(create_app(capped, pool=pool, dsn=dsn)) as host:
        async with subscribed(host, customer, {}), subscribed(host, customer, {}):
            async with connect(
                f"ws://{host}/graphql", subprotocols=[Subprotocol("graphql-transport-ws")]
            ) as third:
                with pytest.raises(ConnectionClosed) as refused:
                    await asyncio.wait_for(third.recv(), 2)
            assert refused.value.rcvd is not None
            assert refused.value.rcvd.code == 1013
            assert (
                refused.value.rcvd.reason == "this address holds its limit of live connections (2)"
            )
        # Both closed: their places are free again.
        async with subscribed(host, customer, {}), subscribed(host, customer, {}) as again:
            await again.hears_nothing()


async def test_a_server_refuses_live_connections_beyond_its_total(
    pool: Pool, settings: Settings, dsn: str
) -> None:
    capped = dataclasses.replace(settings, max_sockets=1)
    async with (
        served(create_app(capped, pool=pool, dsn=dsn)) as host,
        subscribed(host, customer_token("alice"), {}),
        connect(
            f"ws://{host}/graphql", subprotocols=[Subprotocol("graphql-transport-ws")]
        ) as second,
    ):
        with pytest.raises(ConnectionClosed) as refused:
            await asyncio.wait_for(second.recv(), 2)
        assert refused.value.rcvd is not None
        assert refused.value.rcvd.reason == "this server holds its limit of live connections (1)"
