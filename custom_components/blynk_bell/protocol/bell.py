"""What a service bell says on the wire (docs/bell-protocol.md): presses and its status.

Every message is garbage until checked. The checks run cheapest first: size, UTF-8,
form, the type and range of every number, then (for a keyed bell) the signature.
Freshness, which needs memory of what came before, is `PressOrder`'s job. A rejected
message raises `Rejected` with the reason counted in diagnostics.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
import json
import math
import re
from typing import Any, Final

from .signing import health_text, press_text, signature_matches, status_text

MAX_PAYLOAD_BYTES: Final = 1024
MAX_TABLES: Final = 16
MAX_U32: Final = 2**32 - 1
MAX_AGE_MS: Final = 86_400_000
# Unkeyed bells: a QoS 1 redelivery repeats a recent (boot, seq); remembering this many
# covers the firmware's whole offline queue (at most 500 presses). Bounded.
REMEMBERED_PRESSES: Final = 512
TUTORIAL_TOPIC: Final = "SunFounder MQTT Test"

MAX_VSYS_MV: Final = 6000
_FIRMWARE_VERSION = re.compile(r"[0-9A-Za-z.+-]{1,16}")
_TEXT_PRESS = re.compile(r"button\s+(\d{1,6})\s+is\s+pressed", re.IGNORECASE)
_STRIPPED = " \t\r\n\x00"


class Rejection(StrEnum):
    """Why a message from the bell topic was ignored; diagnostics count each."""

    UNSIGNED = "unsigned"
    BAD_SIGNATURE = "bad_signature"
    REPLAY = "replay"
    OUT_OF_RANGE = "out_of_range"
    GARBAGE = "garbage"
    RATE_LIMITED = "rate_limited"
    # A keyed bell signing with a boot below the last one accepted: its flash was erased
    # or the board replaced (a new key fixes it), or someone replays old presses.
    OLD_BOOT = "old_boot"
    # Expected traffic, counted but never warned about: the tutorial firmware's switch
    # bounces, retained presses a broker replays to every new subscriber, and QoS 1
    # redeliveries after a lost acknowledgement.
    BOUNCE = "bounce"
    RETAINED = "retained"

    @property
    def quiet(self) -> bool:
        """Tell whether this refusal is normal traffic rather than news."""
        return self in (Rejection.BOUNCE, Rejection.RETAINED, Rejection.REPLAY)


class Rejected(ValueError):
    """A message that is not acted on, and why."""

    def __init__(self, reason: Rejection, detail: str) -> None:
        """Keep the reason for counting and the detail for the log."""
        super().__init__(detail)
        self.reason = reason


class PressType(StrEnum):
    """How a button was pressed; the event entity's event types."""

    PRESS = "press"
    LONG_PRESS = "long_press"
    DOUBLE_PRESS = "double_press"


@dataclass(frozen=True, slots=True)
class Press:
    """One press of one button, as the bell reported it; every number within its range."""

    button: int
    type: PressType = PressType.PRESS
    seq: int | None = None
    age_ms: int | None = None
    boot: int | None = None
    signed: bool = False

    @property
    def order(self) -> tuple[int, int] | None:
        """Return `(boot, seq)`, the press's place in the bell's history, when it has one."""
        return None if self.seq is None else (self.boot or 0, self.seq)


@dataclass(frozen=True, slots=True)
class BellStatus:
    """The bell's own `online` / `offline` status."""

    online: bool
    boot: int | None = None


@dataclass(frozen=True, slots=True)
class BellHealth:
    """The bell's own report (protocol version 2): firmware, Wi-Fi, uptime, supply."""

    boot: int
    n: int
    firmware: str
    rssi: int
    uptime_s: int
    dropped: int
    vsys_mv: int | None = None
    started_at: datetime | None = None  # Filled in by the receiver: now - uptime.


def parse_press(
    payload: bytes, *, topic: str, tables: int = MAX_TABLES, key: bytes | None = None
) -> Press:
    """Read a press, or raise Rejected saying why it is not one.

    With `key`, only a JSON press signed with it for `topic` is accepted.
    """
    text = _text(payload)
    if not text.startswith(("{", "[")):
        if key is not None:
            raise Rejected(Rejection.UNSIGNED, "an unsigned press; this bell signs its presses")
        if match := _TEXT_PRESS.fullmatch(text):
            return Press(button=_bounded(int(match.group(1)), "button", 1, tables))
        raise Rejected(Rejection.GARBAGE, "neither 'button N is pressed' nor press JSON")
    data = _json_object(text)
    if key is not None:
        return _signed_press(data, topic, tables, key)
    return _unsigned_press(data, tables)


def _signed_press(data: dict[str, Any], topic: str, tables: int, key: bytes) -> Press:
    signature = data.get("sig")
    if signature is None:
        raise Rejected(Rejection.UNSIGNED, "an unsigned press; this bell signs its presses")
    button = _integer(data, "button", 1, tables)
    event = _event(data)
    boot = _integer(data, "boot", 0, MAX_U32)
    seq = _integer(data, "seq", 1, MAX_U32)
    age_ms = _integer(data, "age_ms", 0, MAX_AGE_MS)
    if not signature_matches(
        key,
        press_text(topic, button=button, event=event, boot=boot, seq=seq, age_ms=age_ms),
        signature,
    ):
        raise Rejected(Rejection.BAD_SIGNATURE, "the signature does not match the bell key")
    return Press(button, event, seq, age_ms, boot, signed=True)


def _unsigned_press(data: dict[str, Any], tables: int) -> Press:
    button = _integer(data, "button", 1, tables)
    event = _event(data)
    boot = _optional_integer(data, "boot", 0, MAX_U32)
    # Older firmware counted seq from a random 30-bit value, 0 included.
    seq = _optional_integer(data, "seq", 0, MAX_U32)
    age_ms = data.get("age_ms")
    if age_ms is not None:
        if isinstance(age_ms, float) and math.isfinite(age_ms):
            age_ms = int(age_ms)  # Older senders wrote fractions.
        age_ms = _optional_integer({"age_ms": age_ms}, "age_ms", 0, MAX_AGE_MS)
    return Press(button, event, seq, age_ms, boot)


def parse_status(payload: bytes, *, topic: str, key: bytes | None = None) -> BellStatus:
    """Read the bell's status from `<topic>/status`, or raise Rejected."""
    text = _text(payload)
    if not text.startswith("{"):
        if key is not None:
            raise Rejected(Rejection.UNSIGNED, "an unsigned status; this bell signs its status")
        word = text.lower()
        if word not in ("online", "offline"):
            raise Rejected(Rejection.GARBAGE, "status is neither 'online' nor 'offline'")
        return BellStatus(online=word == "online")
    data = _json_object(text)
    state = data.get("state")
    if not isinstance(state, str) or state not in ("online", "offline"):
        raise Rejected(Rejection.GARBAGE, "status 'state' is neither 'online' nor 'offline'")
    if key is None:
        return BellStatus(state == "online", _optional_integer(data, "boot", 0, MAX_U32))
    signature = data.get("sig")
    if signature is None:
        raise Rejected(Rejection.UNSIGNED, "an unsigned status; this bell signs its status")
    boot = _integer(data, "boot", 0, MAX_U32)
    if not signature_matches(key, status_text(topic, state=state, boot=boot), signature):
        raise Rejected(Rejection.BAD_SIGNATURE, "the status signature does not match")
    return BellStatus(state == "online", boot)


def parse_health(payload: bytes, *, topic: str, key: bytes | None = None) -> BellHealth:
    """Read the bell's health report from `<topic>/health`, or raise Rejected."""
    data = _json_object(_text(payload))
    firmware = data.get("fw")
    if not isinstance(firmware, str) or not _FIRMWARE_VERSION.fullmatch(firmware):
        raise Rejected(Rejection.GARBAGE, "'fw' is not a firmware version")
    health = BellHealth(
        boot=_integer(data, "boot", 0, MAX_U32),
        n=_integer(data, "n", 1, MAX_U32),
        firmware=firmware,
        rssi=_integer(data, "rssi", -120, 0),
        uptime_s=_integer(data, "uptime_s", 0, MAX_U32),
        dropped=_integer(data, "dropped", 0, MAX_U32),
        vsys_mv=_optional_integer(data, "vsys_mv", 0, MAX_VSYS_MV),
    )
    if key is None:
        return health
    signature = data.get("sig")
    if signature is None:
        raise Rejected(Rejection.UNSIGNED, "an unsigned health report; this bell signs")
    text = health_text(
        topic,
        boot=health.boot,
        n=health.n,
        firmware=health.firmware,
        rssi=health.rssi,
        uptime_s=health.uptime_s,
        dropped=health.dropped,
        vsys_mv=health.vsys_mv,
    )
    if not signature_matches(key, text, signature):
        raise Rejected(Rejection.BAD_SIGNATURE, "the health signature does not match")
    return health


# Checks --------------------------------------------------------------------------------


def _text(payload: bytes) -> str:
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise Rejected(Rejection.GARBAGE, f"payload of {len(payload)} bytes is too large")
    try:
        return payload.decode("utf-8").strip(_STRIPPED)
    except UnicodeDecodeError as err:
        raise Rejected(Rejection.GARBAGE, "payload is not UTF-8") from err


def _json_object(text: str) -> dict[str, Any]:
    try:
        data: Any = json.loads(text)
    except (ValueError, RecursionError) as err:
        raise Rejected(Rejection.GARBAGE, "invalid JSON") from err
    if not isinstance(data, dict):
        raise Rejected(Rejection.GARBAGE, "JSON payload is not an object")
    return data


def _event(data: dict[str, Any]) -> PressType:
    event = data.get("event", PressType.PRESS.value)
    if not isinstance(event, str) or event not in PressType.__members__.values():
        raise Rejected(Rejection.GARBAGE, "unknown event")
    return PressType(event)


def _integer(data: dict[str, Any], name: str, low: int, high: int) -> int:
    if (value := _optional_integer(data, name, low, high)) is None:
        raise Rejected(Rejection.GARBAGE, f"'{name}' is missing")
    return value


def _optional_integer(data: dict[str, Any], name: str, low: int, high: int) -> int | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise Rejected(Rejection.GARBAGE, f"'{name}' must be an integer")
    return _bounded(value, name, low, high)


def _bounded(value: int, name: str, low: int, high: int) -> int:
    if not low <= value <= high:
        # Not the value itself: it may be thousands of digits long.
        raise Rejected(Rejection.OUT_OF_RANGE, f"'{name}' is outside {low}..{high}")
    return value


# Order ---------------------------------------------------------------------------------


class PressOrder:
    """A keyed bell's freshness rule: only a `(boot, seq)` above the last accepted one.

    The same rule drops QoS 1 redeliveries and replays. The last pair is persisted by the
    owner (`last`) so it holds across restarts.
    """

    def __init__(self, last: tuple[int, int] | None = None) -> None:
        """Start after `last`, or accept anything first."""
        self.last = last

    def is_fresh(self, order: tuple[int, int]) -> bool:
        """Tell whether a press at `order` is newer than every accepted one."""
        return self.last is None or order > self.last

    def accept(self, order: tuple[int, int]) -> None:
        """Record an accepted press."""
        self.last = order


class BounceFilter:
    """Unnumbered presses of one button and kind closer than `window` seconds are one.

    The tutorial's firmware does not debounce: one press arrives as two or three
    messages a few milliseconds apart. Times are press times (arrival minus `age_ms`),
    so a backlog of real presses delivered together is not mistaken for bounces.
    Presses with a `seq` are never merged: a bell that numbers its presses debounces
    them itself, and a number says each one is a press of its own.
    Bounded: one entry per button and kind.
    """

    def __init__(self, window: float) -> None:
        """Merge presses closer than `window` seconds."""
        self._window = window
        self._last: dict[tuple[int, PressType], float] = {}

    def is_bounce(self, press: Press, pressed_at: float) -> bool:
        """Record a press at `pressed_at` (seconds); True when it repeats the previous one."""
        key = (press.button, press.type)
        previous = self._last.get(key)
        if previous is not None and abs(pressed_at - previous) < self._window:
            return True
        self._last[key] = pressed_at
        return False


class RedeliveryFilter:
    """An unkeyed bell's duplicates: a repeated `(boot, seq)` is a redelivery.

    A bounded set rather than "highest so far": an unkeyed bell may be old firmware with
    random seqs, and a late delivery of an older queued press still counts.
    """

    def __init__(self, size: int = REMEMBERED_PRESSES) -> None:
        """Remember up to `size` recent presses."""
        self._size = size
        self._seen: OrderedDict[tuple[int, int], None] = OrderedDict()

    def first_time(self, order: tuple[int, int]) -> bool:
        """Record `order`; return False when it was seen recently (a redelivery)."""
        if order in self._seen:
            self._seen.move_to_end(order)
            return False
        self._seen[order] = None
        if len(self._seen) > self._size:
            self._seen.popitem(last=False)
        return True


def validate_topic(topic: str) -> str | None:
    """Return why `topic` cannot be subscribed to as a bell topic, or None if it can."""
    if not topic:
        return "empty"
    if "+" in topic or "#" in topic:
        return "wildcard"
    if "\x00" in topic:
        return "nul"
    if len(topic.encode("utf-8")) > 65535:
        return "too_long"
    return None
