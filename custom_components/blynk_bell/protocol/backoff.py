"""Exponential reconnect delays with jitter, forgotten only after a connection proved itself."""

from __future__ import annotations

from collections.abc import Callable
import random
from typing import Final

# A connection that stayed up this long was a real one: the next loss starts again from
# the shortest delay. One that the server drops sooner (another client with our client id,
# a broker refusing us after CONNACK) counts as a failure, so such a fight costs a few
# attempts a minute instead of one a second.
STABLE_AFTER: Final = 30.0


class Backoff:
    """Delays that double from `initial` up to `maximum`, each shaken by +/-`jitter`.

    Jitter keeps many clients that lost the same broker from returning in lockstep.
    """

    def __init__(
        self,
        initial: float = 1.0,
        maximum: float = 60.0,
        jitter: float = 0.2,
        rand: Callable[[float, float], float] = random.uniform,
        *,
        stable_after: float = STABLE_AFTER,
    ) -> None:
        """Start at the shortest delay."""
        self._initial = initial
        self._maximum = maximum
        self._jitter = jitter
        self._rand = rand
        self.stable_after = stable_after
        self._attempt = 0

    def next_delay(self) -> float:
        """Return the delay before the next attempt and grow the following one."""
        base: float = min(self._maximum, self._initial * float(2**self._attempt))
        self._attempt = min(self._attempt + 1, 32)
        return min(self._maximum, self.shake(base))

    def shake(self, delay: float) -> float:
        """Return `delay` shaken by the jitter, for delays that do not grow."""
        return delay * float(self._rand(1 - self._jitter, 1 + self._jitter))

    def connection_ended(self, uptime: float) -> None:
        """Forget past failures if the connection that just ended stayed up long enough."""
        if uptime >= self.stable_after:
            self.reset()

    def reset(self) -> None:
        """Start again from the shortest delay."""
        self._attempt = 0
