"""Rate limits: for log lines a misbehaving peer could flood, and for a flood of messages.

Blynk's metered messages have their own budget, in outbox.py.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
import time


class Throttle:
    """Says yes at most once per `interval` seconds."""

    def __init__(self, interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        """Allow the first call at once."""
        self._interval = interval
        self._clock = clock
        self._next_allowed = float("-inf")
        self.suppressed = 0

    def allow(self) -> bool:
        """Return True if the caller may act now; count the calls that may not."""
        now = self._clock()
        if now < self._next_allowed:
            self.suppressed += 1
            return False
        self._next_allowed = now + self._interval
        return True

    def take_suppressed(self) -> int:
        """Return how many calls were refused since the last allowed one, and reset."""
        count, self.suppressed = self.suppressed, 0
        return count


class Pacer[T]:
    """Lets `burst` items through at once, then `rate` a second; holds back at most `limit`.

    A token bucket with a bounded waiting line: short bursts pass untouched, a steady
    flood is slowed to `rate`, and what would overflow the line is refused (the caller
    counts it).
    """

    def __init__(
        self,
        burst: int,
        rate: float,
        limit: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Start with a full bucket and nobody waiting."""
        self._burst = burst
        self._rate = rate
        self._clock = clock
        self._tokens = float(burst)
        self._filled_at = clock()
        self.waiting: deque[T] = deque(maxlen=limit)
        self._limit = limit

    def offer(self, item: T) -> bool:
        """Queue `item`; False when the line is full and it was refused."""
        if len(self.waiting) >= self._limit:
            return False
        self.waiting.append(item)
        return True

    def take_ready(self) -> list[T]:
        """Return the items that may go now, in the order offered."""
        self._refill()
        ready: list[T] = []
        while self.waiting and self._tokens >= 1.0:
            self._tokens -= 1.0
            ready.append(self.waiting.popleft())
        return ready

    def next_ready_in(self) -> float | None:
        """Return the seconds until the next waiting item may go, None when none waits."""
        if not self.waiting:
            return None
        self._refill()
        return max(0.0, (1.0 - self._tokens) / self._rate)

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(float(self._burst), self._tokens + (now - self._filled_at) * self._rate)
        self._filled_at = now
