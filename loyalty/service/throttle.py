"""Slowing down guessing: after a few wrong codes, a key must wait before trying again."""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable

FREE_FAILURES = 5
WINDOW_SECONDS = 60.0
FIRST_WAIT_SECONDS = 2.0
MAX_WAIT_SECONDS = 300.0


class FailureThrottle:
    """Counts wrong guesses per caller in this process; each one past the free few doubles
    the wait, so 60-bit codes cannot be walked through from one key."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.failures: dict[str, deque[float]] = {}
        self.clock = clock

    def wait_for(self, who: str) -> float:
        """Seconds this caller must still wait; 0 when it may try now."""
        now = self.clock()
        recent = self.failures.get(who)
        if not recent:
            return 0.0
        while recent and now - recent[0] > WINDOW_SECONDS:
            recent.popleft()
        extra = len(recent) - FREE_FAILURES
        if extra < 0:
            return 0.0
        wait = min(MAX_WAIT_SECONDS, FIRST_WAIT_SECONDS * 2.0**extra)
        return max(0.0, recent[-1] + wait - now)

    def over_limit(self, who: str) -> bool:
        """True once this caller has used more than its free mistakes in the window."""
        recent = self.failures.get(who, ())
        now = self.clock()
        return sum(1 for at in recent if now - at <= WINDOW_SECONDS) > FREE_FAILURES

    def failed(self, who: str) -> None:
        self.failures.setdefault(who, deque(maxlen=64)).append(self.clock())


MAX_CALLERS = 100_000


class RateLimiter:
    """Requests per second per caller in this process: a token bucket each, `burst` deep.

    At most MAX_CALLERS buckets are kept, the least recently seen dropped first: a caller
    forgotten that way comes back with a full bucket, which a flood of new identities (each a
    valid key, token or address) cannot turn into more than one burst apiece.
    """

    def __init__(
        self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = max(1, burst)
        self.clock = clock
        self.buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def wait_for(self, who: str) -> float:
        """0 and a request is counted, or the seconds until this caller may send one."""
        if self.rate <= 0:
            return 0.0
        now = self.clock()
        tokens, then = self.buckets.pop(who, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - then) * self.rate)
        wait = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) / self.rate
        self.buckets[who] = (tokens, now)
        if len(self.buckets) > MAX_CALLERS:
            self.buckets.popitem(last=False)
        return wait
