"""Presses waiting for the broker's PUBACK, and the sequence numbers they carry.

A press stays in the PressQueue from the moment the debouncer reports it until the
broker acknowledges it (PUBACK for QoS 1). While Wi-Fi or the broker is down the
queue fills; it is bounded, and when full the oldest press is dropped and counted.
The count since boot goes out in the health report (health.py), so the loss is
visible on the other side as well as in the log.

After a reconnect every unacknowledged press is sent again, in order, with its
original (boot, seq); the Home Assistant integration recognises repeats by it.
"""

MAX_SEQ = 0xFFFFFFFF


class SeqCounter:
    """Hands out 1, 2, 3 ... from every boot; (boot, seq) orders all presses ever.

    The boot counter (bootcount.py) makes each boot's numbers newer than the last
    boot's, so seq never needs to wrap; at 2**32 - 1 (a press a second for 136 years)
    it stays there and the integration drops the repeats.
    """

    def __init__(self, start=1):
        self._next = start

    def next(self):
        value = self._next
        if value < MAX_SEQ:
            self._next = value + 1
        return value

    def peek(self):
        return self._next


class Press:
    """One press of one button, from detection until the broker acknowledged it."""

    def __init__(self, button, kind, seq, pressed_at):
        self.button = button
        self.kind = kind
        self.seq = seq
        self.pressed_at = pressed_at  # Uptime ms of the first edge.
        self.pid = None  # MQTT packet id while in flight on the current connection.
        self.sends = 0  # How many times it went out (1 = never re-sent).

    def __repr__(self):
        return "<Press button=%d %s seq=%d>" % (self.button, self.kind, self.seq)


class PressQueue:
    """Undelivered presses in press order, at most `size` of them."""

    def __init__(self, size):
        if size < 1:
            raise ValueError("queue size must be at least 1")
        self.size = size
        self.items = []
        self.total_dropped = 0

    def __len__(self):
        return len(self.items)

    def push(self, press):
        """Append `press`; return the press dropped to make room, or None."""
        dropped = None
        if len(self.items) >= self.size:
            dropped = self.items.pop(0)
            self.total_dropped += 1
        self.items.append(press)
        return dropped

    def next_to_send(self):
        """Return the oldest press not in flight on this connection, or None."""
        for press in self.items:
            if press.pid is None:
                return press
        return None

    def in_flight(self):
        count = 0
        for press in self.items:
            if press.pid is not None:
                count += 1
        return count

    def mark_sent(self, press, pid):
        """Record that `press` went out with packet id `pid` (None for QoS 0)."""
        press.pid = pid
        press.sends += 1

    def acknowledge(self, pid):
        """Remove and return the press in flight with packet id `pid`, or None."""
        for index, press in enumerate(self.items):
            if press.pid == pid:
                self.items.pop(index)
                press.pid = None
                return press
        return None

    def remove(self, press):
        """Remove `press` (delivered at QoS 0, where no PUBACK comes)."""
        if press in self.items:
            self.items.remove(press)

    def connection_lost(self):
        """Forget packet ids: every unacknowledged press goes out again, in order."""
        for press in self.items:
            press.pid = None
