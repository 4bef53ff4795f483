"""What a service bell says on the wire: presses and its own online status.

Two payload forms arrive on the bell topic:
- the SunFounder tutorial's text, `button N is pressed`;
- our firmware's JSON, `{"button": N, "event": "press", "seq": K, "age_ms": A}`.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from enum import StrEnum
import json
import math
import re
from typing import Any, Final

# Our firmware's JSON is under 100 bytes; anything far larger is not a press.
MAX_PAYLOAD_BYTES: Final = 1024
# A QoS 1 redelivery repeats a recent seq; remembering this many covers any backlog
# the firmware queues while offline.
REMEMBERED_SEQS: Final = 512

_TEXT_PRESS = re.compile(r"button\s+(\d{1,6})\s+is\s+pressed", re.IGNORECASE)
_STRIPPED = " \t\r\n\x00"


class PressType(StrEnum):
    """How a button was pressed; the event entity's event types."""

    PRESS = "press"
    LONG_PRESS = "long_press"
    DOUBLE_PRESS = "double_press"


@dataclass(frozen=True, slots=True)
class Press:
    """One press of one button, as the bell reported it."""

    button: int
    type: PressType = PressType.PRESS
    seq: int | None = None
    age_ms: int | None = None


class InvalidPayload(ValueError):
    """A message on the bell topic that is not a press."""


def parse_press(payload: bytes) -> Press:
    """Read a press from either payload form, or raise InvalidPayload saying why."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise InvalidPayload(f"payload of {len(payload)} bytes is too large")
    try:
        text = payload.decode("utf-8").strip(_STRIPPED)
    except UnicodeDecodeError as err:
        raise InvalidPayload("payload is not UTF-8") from err
    if text.startswith(("{", "[")):
        return _parse_json_press(text)
    if match := _TEXT_PRESS.fullmatch(text):
        return Press(button=int(match.group(1)))
    raise InvalidPayload("payload is neither 'button N is pressed' nor press JSON")


def _parse_json_press(text: str) -> Press:
    try:
        data: Any = json.loads(text)
    except ValueError as err:
        raise InvalidPayload(f"invalid JSON: {err}") from err
    if not isinstance(data, dict):
        raise InvalidPayload("JSON payload is not an object")
    button = data.get("button")
    if not isinstance(button, int) or isinstance(button, bool):
        raise InvalidPayload("'button' must be an integer")
    event = data.get("event", PressType.PRESS.value)
    if not isinstance(event, str) or event not in PressType:
        raise InvalidPayload(f"unknown event {event!r}")
    seq = data.get("seq")
    if seq is not None and not _is_int(seq):
        raise InvalidPayload("'seq' must be an integer")
    age_ms = data.get("age_ms")
    if age_ms is not None and (not _is_number(age_ms) or age_ms < 0):
        raise InvalidPayload("'age_ms' must be a non-negative number")
    return Press(
        button=button,
        type=PressType(event),
        seq=seq,
        age_ms=None if age_ms is None else int(age_ms),
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return _is_int(value) or (isinstance(value, float) and math.isfinite(value))


def parse_status(payload: bytes) -> bool | None:
    """Read the bell's `online`/`offline` status message; None when it is neither."""
    try:
        text = payload.decode("utf-8").strip(_STRIPPED).lower()
    except UnicodeDecodeError:
        return None
    return {"online": True, "offline": False}.get(text)


class RedeliveryFilter:
    """Recognises a press the broker delivers twice by its repeated `seq`.

    Keeps a bounded set rather than "highest seq so far" so that a late delivery
    of an older queued press still counts, and a rebooted bell is not ignored.
    """

    def __init__(self, size: int = REMEMBERED_SEQS) -> None:
        """Remember up to `size` recent seqs."""
        self._size = size
        self._seen: OrderedDict[int, None] = OrderedDict()

    def first_time(self, seq: int) -> bool:
        """Record `seq`; return False when it was seen recently (a redelivery)."""
        if seq in self._seen:
            self._seen.move_to_end(seq)
            return False
        self._seen[seq] = None
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
