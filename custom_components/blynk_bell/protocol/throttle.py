"""Rate limits for log lines that a misbehaving peer could otherwise flood."""

from __future__ import annotations

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
