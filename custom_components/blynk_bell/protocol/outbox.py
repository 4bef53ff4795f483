"""What goes out to Blynk, and when: priorities, batching, the rate limit and one quota.

Every publish counts against Blynk's monthly message quota, the connection's own
(`info/mcu`, `get/ds`) included, and Blynk cuts off a device that sends more than 50
messages in a second. So:

- A user's change (power, set point) goes first and at once: it never waits behind the
  device's own reports, and the quota never holds it back.
- Connection messages (`info/mcu`, `get/ds`) and Terminal replies follow, in order.
- What the device reports by itself (temperature, status, widget properties) is
  coalesced, the latest value winning: values in one `batch_ds` message (one message
  however many datastreams; widget properties cannot be batched), and only while the
  hour's budget has room. It may use half of the rate limit, so a user's change
  finds it free.

Nothing here knows about sockets or event loops: the sender, the clock and the timer are
given, so the quota can be proven over hours of simulated time.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum
import json
import logging
import math
import re
from typing import Final, Protocol

_LOGGER = logging.getLogger(__name__)

MAX_MESSAGE_BYTES: Final = 1024
# Blynk cuts a device off above 50 messages in a second. At most 40 go out in any 1.25 s,
# so even if the network bunches them up by a quarter of a second Blynk never counts 50.
RATE_WINDOW: Final = 1.25
MAX_MESSAGES_PER_WINDOW: Final = 40
# What the device reports by itself goes out only while fewer than this many did.
BACKGROUND_PER_WINDOW: Final = 20
# One device's fair share of the free plan is about 27 messages an hour (README). Reports
# stop while fewer than BACKGROUND_RESERVE of these are left in the last hour, keeping
# room for a reconnect and the user's own changes, which are always sent.
HOURLY_BUDGET: Final = 24
BACKGROUND_RESERVE: Final = 4
QUEUE_LIMIT: Final = 200
BATCH_TOPIC: Final = "batch_ds"

_NUMBER: Final = re.compile(r"-?(0|[1-9]\d{0,15})(\.\d{1,6})?")

type Ack = Callable[[], None]
# Hands a message to the connection: topic, payload, QoS, on_ack; False if it cannot.
type Send = Callable[[str, bytes, int, Ack | None], bool]


class Handle(Protocol):
    """A scheduled call that can be cancelled (asyncio.TimerHandle is one)."""

    def cancel(self) -> None:
        """Do not make the call."""


# Calls the callback after the delay in seconds (the event loop's call_later).
type Scheduler = Callable[[float, Callable[[], None]], Handle]


def message_size(topic: str, payload: bytes) -> int:
    """Return the size of a PUBLISH packet, headers included, as Blynk counts it."""
    body = 2 + len(topic.encode()) + len(payload)  # topic length prefix, topic, payload
    length_bytes = 1 if body < 128 else 2 if body < 16384 else 3
    return 1 + length_bytes + body


def batch_payload(values: Mapping[str, str]) -> str:
    """Return `batch_ds` JSON: numbers as JSON numbers, anything else as strings."""
    items = (
        f"{json.dumps(name)}:{value if _NUMBER.fullmatch(value) else json.dumps(value)}"
        for name, value in values.items()
    )
    return "{" + ",".join(items) + "}"


class Priority(IntEnum):
    """Who a message is for, most urgent first."""

    USER = 0
    CONNECTION = 1
    BACKGROUND = 2


class HourlyBudget:
    """Messages sent in the last hour, counted in one-minute buckets (bounded memory)."""

    def __init__(self, limit: int, clock: Callable[[], float]) -> None:
        """Start with nothing spent."""
        self.limit = limit
        self._clock = clock
        self._buckets: deque[list[float]] = deque()  # [minute start, count], oldest first

    def spent(self) -> int:
        """Return how many messages went out in the last hour."""
        self._expire()
        return int(sum(count for _start, count in self._buckets))

    def available(self) -> int:
        """Return how many more messages fit in the hour."""
        return self.limit - self.spent()

    def spend(self) -> None:
        """Count one message sent now."""
        minute = math.floor(self._clock() / 60.0) * 60.0
        if self._buckets and self._buckets[-1][0] == minute:
            self._buckets[-1][1] += 1
        else:
            self._buckets.append([minute, 1])

    def next_release(self) -> float:
        """Return when the oldest counted message leaves the hour (now if none)."""
        self._expire()
        return self._buckets[0][0] + 3600.0 if self._buckets else self._clock()

    def _expire(self) -> None:
        now = self._clock()
        while self._buckets and now - self._buckets[0][0] >= 3600.0:
            self._buckets.popleft()


@dataclass(slots=True)
class _Message:
    topic: str
    payload: bytes
    qos: int
    on_ack: Ack | None


@dataclass(slots=True)
class _UserValues:
    values: dict[str, str] = field(default_factory=dict)
    acks: list[Ack] = field(default_factory=list)


class Outbox:
    """Orders, batches and paces what one Blynk connection publishes."""

    def __init__(
        self,
        send: Send,
        clock: Callable[[], float],
        schedule: Scheduler,
        *,
        hourly_budget: int = HOURLY_BUDGET,
    ) -> None:
        """Start closed: nothing is sent before `open`."""
        self._send = send
        self._clock = clock
        self._schedule = schedule
        self.budget = HourlyBudget(hourly_budget, clock)
        self._open = False
        self._user = _UserValues()
        self._queue: deque[_Message] = deque()
        self._reports: dict[str, str] = {}
        self._properties: dict[tuple[str, str], str] = {}
        self._window: deque[float] = deque()  # when the last RATE_WINDOW's messages went out
        self._timer: Handle | None = None
        self._timer_at = math.inf
        self.sent = 0
        self.dropped = 0

    @property
    def is_open(self) -> bool:
        """Tell whether messages go out (connected, and past the wait for a redirect)."""
        return self._open

    def open(self) -> None:
        """Start sending: what waited goes out, most urgent first.

        Reports wait for the next turn of the event loop, behind what the owner sends
        when told that the connection is ready.
        """
        self._open = True
        self._drain(reports=False)

    def close(self) -> None:
        """Stop sending (the connection is gone).

        Users' changes and connection messages are dropped: the owner sends again what
        matters after reconnecting. Reports are kept, so Blynk gets the latest later.
        """
        self._open = False
        self._user = _UserValues()
        self._queue.clear()
        self._cancel_timer()

    # What to send ------------------------------------------------------------------

    def user_values(self, values: Mapping[str, str], on_ack: Ack | None = None) -> bool:
        """Send a user's change now (QoS 1); a later value for the same name replaces it."""
        if not self._fits(BATCH_TOPIC, batch_payload({**self._user.values, **values})):
            return False
        self._user.values.update(values)
        if on_ack is not None:
            self._user.acks.append(on_ack)
        self._drain(reports=False)
        return True

    def message(self, topic: str, payload: str, *, qos: int = 0, on_ack: Ack | None = None) -> bool:
        """Send a connection message or a Terminal reply, after users' changes, in order."""
        data = payload.encode()
        if not self._fits(topic, payload):
            return False
        if len(self._queue) >= QUEUE_LIMIT:
            self.dropped += 1
            return False
        self._queue.append(_Message(topic, data, qos, on_ack))
        self._drain(reports=False)
        return True

    def report(self, values: Mapping[str, str]) -> None:
        """Report datastream values by the device itself; batched with others of this turn."""
        if self._fits(BATCH_TOPIC, batch_payload({**self._reports, **values})):
            self._reports.update(values)
            self._wake(0.0)

    def report_property(self, name: str, prop: str, value: str) -> None:
        """Report a widget property (`color`, `isDisabled`); the latest value wins."""
        if self._fits(f"ds/{name}/prop/{prop}", value):
            self._properties[name, prop] = value
            self._wake(0.0)

    # Sending -----------------------------------------------------------------------

    def _drain(self, *, reports: bool = True) -> None:
        """Send what the limits allow; reports only from the timer, after this turn's rest."""
        self._cancel_timer()
        if not self._open:
            return
        if self._user.values and self._room(MAX_MESSAGES_PER_WINDOW):
            user = self._user

            def acknowledged() -> None:
                for ack in user.acks:
                    ack()

            if not self._publish(*_as_message(user.values), 1, acknowledged):
                return
            self._user = _UserValues()
        while self._queue and self._room(MAX_MESSAGES_PER_WINDOW):
            item = self._queue[0]
            if not self._publish(item.topic, item.payload, item.qos, item.on_ack):
                return
            self._queue.popleft()
        # Reports go with QoS 1 although nothing waits for their PUBACK: Blynk acknowledges
        # at once, so TCP (Nagle's algorithm, with the receiver's delayed ACK) does not hold
        # the next small message, often a user's change, for tens of milliseconds. A PUBACK
        # is not a publish: it costs no quota.
        if reports and self._reports and self._background_allowed():
            if not self._publish(*_as_message(self._reports), 1, None):
                return
            self._reports = {}
        while reports and self._properties and self._background_allowed():
            (name, prop), value = next(iter(self._properties.items()))
            if not self._publish(f"ds/{name}/prop/{prop}", value.encode(), 1, None):
                return
            del self._properties[name, prop]
        self._plan_next()

    def _publish(self, topic: str, payload: bytes, qos: int, on_ack: Ack | None) -> bool:
        if not self._send(topic, payload, qos, on_ack):
            return False
        self._window.append(self._clock())
        self.budget.spend()
        self.sent += 1
        return True

    def _reports_waiting(self) -> bool:
        return bool(self._reports or self._properties)

    def _room(self, limit: int) -> bool:
        now = self._clock()
        while self._window and now - self._window[0] >= RATE_WINDOW:
            self._window.popleft()
        return len(self._window) < limit

    def _background_allowed(self) -> bool:
        return self._room(BACKGROUND_PER_WINDOW) and self.budget.available() > BACKGROUND_RESERVE

    def _plan_next(self) -> None:
        """Come back when the rate limit or the budget lets the rest go out."""
        now = self._clock()
        waits: list[float] = []
        rate_free = self._window[0] + RATE_WINDOW - now if self._window else 0.0
        if self._user.values or self._queue:
            waits.append(rate_free)
        if self._reports_waiting():
            if self.budget.available() > BACKGROUND_RESERVE:
                # Room in the budget: the rate limit holds it back.
                waits.append(rate_free if not self._room(BACKGROUND_PER_WINDOW) else 0.0)
            else:
                waits.append(self.budget.next_release() - now)
        if waits:
            self._wake(max(0.001, min(waits)))

    def _wake(self, delay: float) -> None:
        at = self._clock() + delay
        if self._timer is not None and self._timer_at <= at:
            return
        self._cancel_timer()
        self._timer_at = at
        self._timer = self._schedule(delay, self._drain)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = None
        self._timer_at = math.inf

    def _fits(self, topic: str, payload: str) -> bool:
        if message_size(topic, payload.encode()) <= MAX_MESSAGE_BYTES:
            return True
        _LOGGER.warning("Not sent to Blynk: %s would exceed 1024 bytes", topic)
        self.dropped += 1
        return False


def _as_message(values: Mapping[str, str]) -> tuple[str, bytes]:
    """One value goes to its own `ds/<name>` topic; several to one `batch_ds` message."""
    if len(values) == 1:
        ((name, value),) = values.items()
        return f"ds/{name}", value.encode()
    return BATCH_TOPIC, batch_payload(values).encode()
