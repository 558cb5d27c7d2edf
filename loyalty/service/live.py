"""Points events pushed to this process's subscribers moments after they commit.

Writers NOTIFY with the customer's id when an event commits; each process LISTENs on one
connection and reads that customer's outbox after the last event each subscriber was given.
A customer's events commit in id order, so reading by id neither skips nor repeats one, and
merged or lost notifications only delay an event. Without a listener (the database
restarted) the hub reads for every subscribed customer once a second until it is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from loyalty.errors import UnavailableError
from loyalty.service.listening import KeptListener
from loyalty.store import outbox
from loyalty.store.database import Pool, connection
from loyalty.store.outbox import EventRow

log = logging.getLogger("loyalty.live")
POLL_SECONDS = 1.0
QUEUE_SIZE = 100  # events a subscriber may have waiting; past it, the hub stops reading for it
READ_BATCH = 100  # events read per customer at a time
CUSTOMERS_PER_READ = 500


class Feed:
    """One subscriber's events, in order, through a bounded queue the hub fills."""

    def __init__(self, hub: LiveHub, customer_id: str) -> None:
        self.hub = hub
        self.customer_id = customer_id
        self.after_id: int | None = None  # the last event queued; None until subscribed
        self.queue: asyncio.Queue[EventRow] = asyncio.Queue(QUEUE_SIZE)
        self.full = False

    async def next(self) -> EventRow:
        event = await self.queue.get()
        if self.full and self.queue.qsize() <= QUEUE_SIZE // 2:
            # The hub stopped at the last event it could queue; it reads on from there.
            self.full = False
            self.hub.wake(self.customer_id)
        return event

    def offer(self, event: EventRow) -> bool:
        """Queues the event unless the queue is full; False when it was."""
        if self.after_id is None or event.id <= self.after_id:
            return True
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.full = True
            return False
        self.after_id = event.id
        return True


class LiveHub:
    """This process's subscribers by customer, and the one connection that hears of changes."""

    def __init__(self, pool: Pool, dsn: str | None) -> None:
        self.pool = pool
        self.dsn = dsn
        self.feeds: dict[str, set[Feed]] = {}
        self.dirty: set[str] = set()
        self.wakeup = asyncio.Event()
        self.running: asyncio.Task[None] | None = None
        self.closing = False
        # A dropped connection wakes the reader, which then reads once a second until the
        # listener is back; on_back reads for everyone: whatever committed meanwhile.
        self.listener = (
            KeptListener(dsn, outbox.CHANNEL, self.wake, lambda: self.wake(""), self.wakeup.set)
            if dsn is not None
            else None
        )

    @property
    def listening(self) -> bool:
        return self.listener is not None and self.listener.listening

    async def start(self) -> None:
        self.running = asyncio.get_running_loop().create_task(self._run())
        if self.listener is not None:
            await self.listener.start()

    async def close(self) -> None:
        self.closing = True
        self.wakeup.set()
        if self.running is not None:
            self.running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.running
        if self.listener is not None:
            await self.listener.close()

    @asynccontextmanager
    async def subscribe(self, customer_id: str, after_id: int | None) -> AsyncIterator[Feed]:
        """A feed of the customer's events after after_id, or after the newest one now."""
        feed = Feed(self, customer_id)
        self.feeds.setdefault(customer_id, set()).add(feed)
        try:
            if after_id is None:
                async with connection(self.pool) as conn:
                    after_id = await outbox.last_event_id(conn, customer_id)
            feed.after_id = after_id
            self.wake(customer_id)  # whatever committed while the feed was being set up
            yield feed
        finally:
            feeds = self.feeds.get(customer_id, set())
            feeds.discard(feed)
            if not feeds:
                self.feeds.pop(customer_id, None)

    def wake(self, customer_id: str) -> None:
        """Reads the customer's new events soon; "" reads for every subscribed customer."""
        if customer_id == "":
            self.dirty.update(self.feeds)
        elif customer_id in self.feeds:
            self.dirty.add(customer_id)
        else:
            return
        self.wakeup.set()

    async def _run(self) -> None:
        while not self.closing:
            if not self.listening:
                # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(POLL_SECONDS):
                        await self.wakeup.wait()
                if not self.listening:
                    self.dirty.update(self.feeds)
            else:
                await self.wakeup.wait()
            self.wakeup.clear()
            try:
                await self._deliver()
            except Exception as error:
                if not isinstance(error, UnavailableError):
                    log.exception("cannot read new points events; trying again in a second")
                self.dirty.update(self.feeds)
                await asyncio.sleep(POLL_SECONDS)
                self.wakeup.set()

    async def _deliver(self) -> None:
        while self.dirty:
            cursors = []
            for customer_id in sorted(self.dirty):
                ready = [
                    feed.after_id
                    for feed in self.feeds.get(customer_id, ())
                    if feed.after_id is not None and not feed.full
                ]
                if ready:
                    cursors.append((customer_id, min(ready)))
            self.dirty.clear()
            for start in range(0, len(cursors), CUSTOMERS_PER_READ):
                chunk = cursors[start : start + CUSTOMERS_PER_READ]
                async with connection(self.pool) as conn:
                    events = await outbox.events_after(conn, chunk, READ_BATCH)
                self._hand_out(events)

    def _hand_out(self, events: list[EventRow]) -> None:
        for customer_id, group in itertools.groupby(events, key=lambda event: event.customer_id):
            read = list(group)
            for feed in list(self.feeds.get(customer_id, ())):
                for event in read:
                    if not feed.offer(event):
                        break
            if len(read) == READ_BATCH:
                self.dirty.add(customer_id)  # more are waiting


__all__ = ["EventRow", "Feed", "LiveHub"]
