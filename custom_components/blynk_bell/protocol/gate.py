"""Which of the bell topic's messages are acted on: the trust rules of docs/bell-protocol.md.

Anyone can publish on a public broker, so every message passes this gate before it may
change a table: the payload checks of `bell.py`, then a keyed bell's freshness
(`(boot, seq)` above the last accepted pair, kept across restarts by the owner through
`memory`), an unkeyed bell's redelivery filter, a bounce filter for presses without a
`seq` (the tutorial's firmware does not debounce), and a retained press (an old
press the broker replays to every new subscriber) is never acted on. Every refusal is
counted by reason for diagnostics.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
import hashlib
from typing import Any, Final

from .bell import (
    BellHealth,
    BellStatus,
    BounceFilter,
    Press,
    PressOrder,
    RedeliveryFilter,
    Rejected,
    Rejection,
    parse_health,
    parse_press,
    parse_status,
)

# Unsigned presses of one button closer than this (by press time) are one press.
BOUNCE_WINDOW: Final = 0.5


@dataclass(frozen=True, slots=True)
class GateMemory:
    """What the gate must remember across restarts, for the keyed bell it was made for."""

    key_id: str | None = None
    last_press: tuple[int, int] | None = None
    status_boot: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """Return the stored form."""
        return {
            "key_id": self.key_id,
            "last_press": list(self.last_press) if self.last_press else None,
            "status_boot": self.status_boot,
        }

    @classmethod
    def from_dict(cls, data: object) -> GateMemory:
        """Read the stored form back; anything malformed is forgotten, not trusted."""
        if not isinstance(data, dict):
            return cls()
        key_id = data.get("key_id")
        last = data.get("last_press")
        boot = data.get("status_boot")
        pair = (
            (last[0], last[1])
            if isinstance(last, list)
            and len(last) == 2
            and all(isinstance(n, int) and not isinstance(n, bool) for n in last)
            else None
        )
        return cls(
            key_id=key_id if isinstance(key_id, str) else None,
            last_press=pair,
            status_boot=boot if isinstance(boot, int) and not isinstance(boot, bool) else None,
        )


def key_id(key: bytes | None) -> str | None:
    """Return a short fingerprint of a key: remembered order belongs to one key."""
    return None if key is None else hashlib.sha256(b"blynk_bell key id|" + key).hexdigest()[:16]


class BellGate:
    """Checks one bell's presses and status; `rejected` counts what it refused."""

    def __init__(
        self,
        topic: str,
        tables: int,
        key: bytes | None,
        memory: GateMemory | None = None,
    ) -> None:
        """Start from what was remembered for this key, or from nothing."""
        self.topic = topic
        self.tables = tables
        self._key = key
        self._key_id = key_id(key)
        memory = memory or GateMemory()
        if memory.key_id != self._key_id:
            memory = GateMemory(key_id=self._key_id)  # A new key: a new bell's history.
        self._order = PressOrder(memory.last_press)
        self._status_boot = memory.status_boot
        # Health reports are fresh when (boot, n) grows; kept in memory only.
        self._last_health: tuple[int, int] | None = None
        self._redeliveries = RedeliveryFilter()
        self._bounces = BounceFilter(BOUNCE_WINDOW)
        self.rejected: Counter[Rejection] = Counter()
        self.accepted = 0

    @property
    def key(self) -> bytes | None:
        """Return the bell's key, None for an unkeyed bell."""
        return self._key

    @property
    def keyed(self) -> bool:
        """Tell whether only signed messages are accepted."""
        return self._key is not None

    @property
    def memory(self) -> GateMemory:
        """Return what must survive a restart."""
        return GateMemory(self._key_id, self._order.last, self._status_boot)

    def press(self, payload: bytes, *, retained: bool, received_at: float) -> tuple[Press, float]:
        """Return an accepted press and when it happened (seconds), or raise Rejected."""
        try:
            press = self._check_press(payload, retained)
        except Rejected as err:
            self.rejected[err.reason] += 1
            raise
        pressed_at = received_at - (press.age_ms or 0) / 1000
        if press.seq is None and self._bounces.is_bounce(press, pressed_at):
            self.rejected[Rejection.BOUNCE] += 1
            raise Rejected(Rejection.BOUNCE, "a bounce of the press just before")
        if press.signed and press.order is not None:
            self._order.accept(press.order)
        self.accepted += 1
        return press, pressed_at

    def _check_press(self, payload: bytes, retained: bool) -> Press:
        if retained:
            raise Rejected(Rejection.RETAINED, "a retained message: an old press")
        press = parse_press(payload, topic=self.topic, tables=self.tables, key=self._key)
        order = press.order
        if press.signed and order is not None and not self._order.is_fresh(order):
            last = self._order.last
            if last is not None and order[0] < last[0]:
                raise Rejected(
                    Rejection.OLD_BOOT,
                    f"signed in boot {order[0]}, but boot {last[0]} was seen already: if the "
                    "bell's board was replaced or its flash erased, give it a new key",
                )
            raise Rejected(Rejection.REPLAY, f"press {order} is not newer than {last}")
        if not press.signed and order is not None and not self._redeliveries.first_time(order):
            raise Rejected(Rejection.REPLAY, f"press {order} was delivered already")
        return press

    def status(self, payload: bytes) -> BellStatus:
        """Return an accepted status, or raise Rejected."""
        try:
            status = self._check_status(payload)
        except Rejected as err:
            self.rejected[err.reason] += 1
            raise
        if self._key is not None:
            self._status_boot = status.boot
        return status

    def _check_status(self, payload: bytes) -> BellStatus:
        status = parse_status(payload, topic=self.topic, key=self._key)
        if (
            self._key is not None
            and status.boot is not None
            and self._status_boot is not None
            and status.boot < self._status_boot
        ):
            raise Rejected(Rejection.REPLAY, "a status from an older boot")
        return status

    def health(self, payload: bytes) -> BellHealth:
        """Return an accepted health report, or raise Rejected."""
        try:
            health = parse_health(payload, topic=self.topic, key=self._key)
            order = (health.boot, health.n)
            if self._last_health is not None and order <= self._last_health:
                raise Rejected(Rejection.REPLAY, "a health report that is not newer")  # noqa: TRY301
        except Rejected as err:
            self.rejected[err.reason] += 1
            raise
        self._last_health = order
        return health

    def count(self, reason: Rejection) -> None:
        """Count a refusal decided outside the gate (the owner's rate limit)."""
        self.rejected[reason] += 1
