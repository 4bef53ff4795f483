"""The tables' calls as Home Assistant reports them on <topic>/calls (protocol version 2).

    {"boot": 17, "n": 120, "open": 1, "tables": "icai", "sig": "<64 hex>"}
    signed text: <topic>/calls|<boot>|<n>|<open>|<tables>

Anyone who can publish on the broker can send one, so each message is garbage until
checked, cheapest first: the rate, the size, UTF-8, JSON, the type and range of every
member, then the signature (keyed bells), then the boot (it must be this boot: a
retained message from before a reboot shows nothing) and the order (`n` above the last
one accepted since this boot). Nothing here raises: a message is accepted or counted
under the reason it was not.
"""

import json

from .signing import signed_text
from .ticks import ticks_diff, ticks_ms

IDLE = "i"
CALLING = "c"
ACKNOWLEDGED = "a"
MAX_PAYLOAD = 1024
MAX_TABLES = 16
MAX_U32 = 0xFFFFFFFF
# A burst of this many messages, then this many a second: Home Assistant publishes
# when a call changes, a handful a minute; a flood is refused before any parsing.
BURST = 20
PER_SECOND = 5


class Calls:
    """The last accepted state of the tables, and why other messages were refused."""

    def __init__(self, topic, tables, signer=None):
        self.topic = topic  # <bell topic>/calls, exactly as it is published on.
        self.tables = tables
        self._signer = signer
        self.boot = None
        self.n = 0  # The last accepted n since `boot`.
        self.is_open = True
        self.states = IDLE * tables  # Nothing known yet: every table idle.
        self.accepted = 0
        self.refused = {}  # reason -> count
        self._tokens = BURST
        self._refilled = ticks_ms()

    def start_boot(self, boot):
        """Begin a boot: only messages for it count from now on."""
        self.boot = boot
        self.n = 0

    def state(self, table):
        """IDLE, CALLING or ACKNOWLEDGED for table 1, 2, ..."""
        return self.states[table - 1]

    def handle(self, payload):
        """Check one message; return None if accepted, else the reason it was not."""
        reason = self._check(payload)
        if reason is None:
            self.accepted += 1
        else:
            self.refused[reason] = self.refused.get(reason, 0) + 1
        return reason

    def _check(self, payload):
        if not self._allow():
            return "rate_limited"
        if payload is None or len(payload) > MAX_PAYLOAD:
            return "garbage"  # Too large (the MQTT client kept none of it).
        try:
            data = json.loads(bytes(payload).decode())
        except (ValueError, UnicodeError, MemoryError, RuntimeError):
            return "garbage"  # Not UTF-8 JSON, or nested too deep for this parser.
        if not isinstance(data, dict):
            return "garbage"
        boot = data.get("boot")
        n = data.get("n")
        is_open = data.get("open")
        tables = data.get("tables")
        for value in (boot, n, is_open):
            if type(value) is not int:  # Not bool, not float, not missing.
                return "garbage"
        if not isinstance(tables, str):
            return "garbage"
        if not 0 <= boot <= MAX_U32 or not 1 <= n <= MAX_U32 or is_open not in (0, 1):
            return "out_of_range"
        if not 1 <= len(tables) <= MAX_TABLES:
            return "out_of_range"
        for char in tables:
            if char not in "ica":
                return "garbage"
        if self._signer is not None:
            signature = data.get("sig")
            if signature is None:
                return "unsigned"
            text = signed_text(self.topic, boot, n, is_open, tables)
            if not self._signer.verify(text, signature):
                return "bad_signature"
            if boot != self.boot:
                return "other_boot"
            if n <= self.n:
                return "replay"
        self.n = n
        self.is_open = bool(is_open)
        self.states = (tables + IDLE * self.tables)[: self.tables]
        return None

    def _allow(self):
        now = ticks_ms()
        elapsed = ticks_diff(now, self._refilled)
        if elapsed >= 1000 // PER_SECOND:
            self._tokens = min(BURST, self._tokens + elapsed * PER_SECOND // 1000)
            self._refilled = now
        if self._tokens <= 0:
            return False
        self._tokens -= 1
        return True
