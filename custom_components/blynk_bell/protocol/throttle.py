"""Rate limits: for log lines a misbehaving peer could flood, and for metered messages."""

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


class RollingBudget:
    """At most `limit` units in any `window` seconds: a hard cap, not an average."""

    def __init__(
        self, limit: int, window: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        """Start with the whole budget available."""
        self._limit = limit
        self._window = window
        self._clock = clock
        self._spent: deque[float] = deque()

    def available(self) -> int:
        """Return how many units may be spent now."""
        now = self._clock()
        while self._spent and now - self._spent[0] >= self._window:
            self._spent.popleft()
        return self._limit - len(self._spent)

    def spend(self, units: int = 1) -> None:
        """Record units spent now."""
        now = self._clock()
        self._spent.extend(now for _ in range(units))
