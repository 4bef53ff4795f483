"""Exponential reconnect delays with jitter."""

from __future__ import annotations

from collections.abc import Callable
import random


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
    ) -> None:
        """Start at the shortest delay."""
        self._initial = initial
        self._maximum = maximum
        self._jitter = jitter
        self._rand = rand
        self._attempt = 0

    def next_delay(self) -> float:
        """Return the delay before the next attempt and grow the following one."""
        base: float = min(self._maximum, self._initial * float(2**self._attempt))
        self._attempt = min(self._attempt + 1, 32)
        shaken = base * float(self._rand(1 - self._jitter, 1 + self._jitter))
        return min(self._maximum, shaken)

    def reset(self) -> None:
        """Start again from the shortest delay, after a success."""
        self._attempt = 0
