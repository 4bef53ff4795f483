"""Millisecond ticks on both Pythons, and an uptime that never wraps.

MicroPython's time.ticks_ms() wraps every 2**30 ms (about 12.4 days) and
ticks_diff() is only meaningful for spans under half of that. A bell that runs for
months must not compute the age of a queued press across a wrap, so `Uptime` adds
up ticks_diff() steps into an ever-growing millisecond count; the main loop
updates it every few milliseconds, far more often than a wrap.
"""

try:
    from time import ticks_add, ticks_diff, ticks_ms  # MicroPython
except ImportError:  # CPython (host runner, tests): same arithmetic, same period.
    import time as _time

    _PERIOD = 1 << 30
    _MASK = _PERIOD - 1
    _HALF = _PERIOD >> 1

    def ticks_ms():
        return int(_time.monotonic() * 1000) & _MASK

    def ticks_diff(end, start):
        return ((end - start + _HALF) & _MASK) - _HALF

    def ticks_add(ticks, delta):
        return (ticks + delta) & _MASK


class Uptime:
    """Milliseconds since start, built from ticks so it survives ticks wrapping."""

    def __init__(self, ticks):
        self._last = ticks
        self.ms = 0

    def update(self, ticks):
        """Advance to `ticks` (read just now) and return the uptime in ms."""
        step = ticks_diff(ticks, self._last)
        if step > 0:
            self.ms += step
            self._last = ticks
        return self.ms

    def at(self, ticks, now_ticks):
        """Return the uptime of an earlier `ticks` (an IRQ timestamp), given `now_ticks`.

        Call right after update(now_ticks); the span must be under ~6 days, which an
        interrupt timestamp read by a loop polling every 10 ms always is.
        """
        return self.ms - ticks_diff(now_ticks, ticks)
