"""Reconnect delays that double from `initial` to `maximum`, with jitter.

No reset loop: a bell that cannot reach its broker waits longer and longer (up to
a minute by default) and keeps its queued presses, instead of rebooting the way the
tutorial did. Jitter keeps a room full of bells from hammering a broker in lockstep
after a shared outage.
"""


def _default_random():
    import random

    return random.getrandbits(16) / 65536


class Backoff:
    """next_delay() returns seconds: initial, 2*initial, 4*initial ... maximum."""

    def __init__(self, initial=1.0, maximum=60.0, jitter=0.2, rand=None):
        if initial <= 0 or maximum < initial:
            raise ValueError("need 0 < initial <= maximum")
        self.initial = initial
        self.maximum = maximum
        self.jitter = jitter
        self._rand = rand or _default_random  # Returns a float in [0, 1).
        self.attempts = 0

    def next_delay(self):
        base = min(self.initial * (1 << min(self.attempts, 20)), self.maximum)
        self.attempts += 1
        return min(base * (1 - self.jitter + 2 * self.jitter * self._rand()), self.maximum)

    def reset(self):
        self.attempts = 0
