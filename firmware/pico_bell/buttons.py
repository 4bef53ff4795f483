"""Button edges recorded by interrupts, turned into presses by the main loop.

The interrupt handler does nothing but EdgeLog.record(): store the pin level and
ticks_ms() in preallocated arrays (no heap allocation, so it is safe in a hard IRQ).
The main loop drains the log and feeds the edges, in order and with their own
timestamps, to a Debouncer. Because every edge keeps its time, a main loop held up
for a few seconds (a slow DNS lookup, a TLS handshake) still sees each press with
the right start time and the right length; it just learns of it later.

Debounce: the first edge after a quiet period starts a lockout of `lockout_ms`;
edges inside the lockout (contact bounce) only update the level, and when the
lockout ends the level at that moment decides. A blip shorter than the lockout is
ignored. A press is reported when the button is released, as "press", or as soon
as it has been held for `long_ms`, as "long_press" (and then nothing on release).

Double press (DoublePress, after the debouncer): a short press that starts within
`window_ms` of the previous short press's release makes the two one "double_press".
So a single short press can only be sent once that window has passed with the button
up: it goes out `window_ms` (400 ms by default) after its release.
"""

from array import array

PRESS = "press"
LONG_PRESS = "long_press"
DOUBLE_PRESS = "double_press"


class EdgeLog:
    """A single-producer ring of (ticks, level) written from an interrupt handler.

    The IRQ only advances `_head`, the main loop only advances `_tail`, so no lock is
    needed. When the ring is full new edges are counted in `overflows` and dropped;
    the debouncer's level polling brings the state back in line.
    """

    def __init__(self, size=32):
        self._size = size
        self._wrap = 2 * size  # Indices run over 2*size so full and empty differ.
        self._times = array("i", [0] * size)
        self._levels = bytearray(size)
        self._head = 0
        self._tail = 0
        self.overflows = 0

    def record(self, level, ticks):
        """Store one edge; called from the IRQ handler, allocates nothing."""
        head = self._head
        if (head - self._tail) % self._wrap >= self._size:
            self.overflows += 1
            return
        slot = head % self._size
        self._times[slot] = ticks
        self._levels[slot] = 1 if level else 0
        self._head = (head + 1) % self._wrap

    def drain(self):
        """Return the recorded edges, oldest first, as a list of (ticks, level)."""
        head = self._head
        tail = self._tail
        edges = []
        while tail != head:
            slot = tail % self._size
            edges.append((self._times[slot], self._levels[slot]))
            tail = (tail + 1) % self._wrap
        self._tail = tail
        return edges


class Debouncer:
    """Debounce one button and classify its presses; times are uptime ms.

    edge() and poll() return None or a (kind, pressed_at) tuple, kind being PRESS
    or LONG_PRESS and pressed_at the uptime of the first edge of the press.
    """

    def __init__(self, lockout_ms=50, long_ms=1000):
        self.lockout_ms = lockout_ms
        self.long_ms = long_ms
        self.pressed = False  # Debounced state.
        self._raw = False  # Latest known raw level (True = pressed).
        self._burst_at = None  # First edge of a burst still inside its lockout.
        self._pressed_at = 0
        self._long_sent = False
        self.released_at = 0  # First edge of the last release.

    def press_started_at(self):
        """When the press now under way began (debounced or still settling), or None."""
        if self.pressed:
            return self._pressed_at
        if self._burst_at is not None and self._raw:
            return self._burst_at
        return None

    def assume(self, pressed):
        """Start from the level read at boot; a button held then is not a press."""
        self.pressed = self._raw = pressed
        self._burst_at = None
        self._long_sent = pressed

    def edge(self, at, pressed):
        """Feed one recorded edge: at `at` the raw level became `pressed`."""
        event = self._settle(at)
        if event is None:
            event = self._check_long(at)
        self._raw = pressed
        if self._burst_at is None:
            self._burst_at = at
        return event

    def poll(self, now, pressed):
        """Feed the level read now; catches edges the interrupt missed."""
        if self._burst_at is None and pressed != self.pressed:
            self._burst_at = now  # An edge the log lost (overflow) or never saw.
        if self._burst_at is not None:
            self._raw = pressed
        event = self._settle(now)
        if event is None:
            event = self._check_long(now)
        return event

    def _settle(self, now):
        start = self._burst_at
        if start is None or now - start < self.lockout_ms:
            return None
        self._burst_at = None
        level = self._raw
        if level == self.pressed:
            return None  # A glitch shorter than the lockout.
        self.pressed = level
        if level:
            self._pressed_at = start
            self._long_sent = False
            return None
        self.released_at = start
        if self._long_sent:
            return None  # The long press was already reported when it reached long_ms.
        return (PRESS, self._pressed_at)

    def _check_long(self, now):
        if self.pressed and not self._long_sent and now - self._pressed_at >= self.long_ms:
            self._long_sent = True
            return (LONG_PRESS, self._pressed_at)
        return None


class DoublePress:
    """Holds one button's short press back for `window_ms` to see if a second follows.

    event() takes what the Debouncer reported and poll() is called with the time; both
    return a list of (kind, pressed_at) to send, in order. A window of 0 passes every
    press straight through.
    """

    def __init__(self, window_ms=400):
        self.window_ms = window_ms
        self._waiting = None  # (pressed_at, released_at) of a short press held back.

    def event(self, event, debouncer):
        if event is None:
            return []
        kind, pressed_at = event
        waiting = self._waiting
        if not self.window_ms:
            return [event]
        if kind == LONG_PRESS:
            self._waiting = None
            return [(PRESS, waiting[0]), event] if waiting else [event]
        released_at = debouncer.released_at
        if waiting is None:
            self._waiting = (pressed_at, released_at)
            return []
        if pressed_at - waiting[1] <= self.window_ms:
            self._waiting = None
            return [(DOUBLE_PRESS, waiting[0])]
        self._waiting = (pressed_at, released_at)  # Too late to pair: two presses.
        return [(PRESS, waiting[0])]

    def poll(self, now, debouncer):
        waiting = self._waiting
        if waiting is None:
            return []
        started = debouncer.press_started_at()
        if started is not None and started - waiting[1] <= self.window_ms:
            return []  # The second press is under way: wait for how it ends.
        if now - waiting[1] <= self.window_ms:
            return []
        self._waiting = None
        return [(PRESS, waiting[0])]
