"""Keeping the heater and Blynk in step: the user's values, and when a reading is news.

What changes here is the sync policy: which value wins when Home Assistant and the app
disagree, and how often the temperature is worth a metered message.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
import math
from typing import Final

from .template import USER_DATASTREAMS

# A get/ds answer that has not come this long after the question is not coming: the next
# value for that datastream is an app write, not the answer.
ANSWER_TIMEOUT: Final = 30.0


@dataclass(frozen=True, slots=True)
class ReportPolicy:
    """When a new temperature reading is worth telling someone.

    A move of at least `min_change` goes out once `interval` seconds have passed since
    the last report; a move of `big_change` or more once `big_interval` seconds have.
    """

    interval: float
    min_change: float
    big_change: float
    big_interval: float


# Blynk counts every message against a monthly quota shared by all of the organization's
# devices (see README, "Blynk's message quota"): the gauge moves every five minutes at most
# for small changes; a move of 1 °C (beyond the simulation's noise, which wanders about
# ±0.5 °C) goes out after a minute.
BLYNK_REPORTS: Final = ReportPolicy(
    interval=360.0, min_change=0.2, big_change=1.5, big_interval=60.0
)


class TemperatureReporter:
    """Decides, by a `ReportPolicy`, when a temperature reading is worth reporting."""

    def __init__(self, policy: ReportPolicy, clock: Callable[[], float]) -> None:
        """Nothing reported yet: the first reading goes out at once."""
        self._policy = policy
        self._clock = clock
        self._last_value: float | None = None
        self._last_time = -math.inf

    def due(self, value: float) -> bool:
        """Tell whether `value` should be reported now."""
        if self._last_value is None:
            return True
        policy = self._policy
        moved = abs(round(value, 1) - self._last_value)
        elapsed = self._clock() - self._last_time
        if moved >= policy.big_change - 1e-9:
            return elapsed >= policy.big_interval
        return moved >= policy.min_change - 1e-9 and elapsed >= policy.interval

    def sent(self, value: float) -> None:
        """Record a reported value."""
        self._last_value = round(value, 1)
        self._last_time = self._clock()

    def forget(self) -> None:
        """Report the next reading at once, whatever its value."""
        self._last_value = None


@dataclass(slots=True)
class _Question:
    """A `get/ds` for one datastream, waiting for its answer."""

    deadline: float
    superseded: bool = False


class UserValues:
    """The values a user sets (power, set point) on their way between the two sides.

    Blynk's `downlink/ds/<name>` carries both app writes and answers to `get/ds`, and
    nothing tells them apart, so two rules keep a stale value from undoing a user's change:

    - A change made in Home Assistant is pending until Blynk acknowledges it (PUBACK).
      Blynk handles a connection's messages in order, so a downlink that arrives before the
      acknowledgement left Blynk before our value arrived there: it is older, and ignored.
    - A change made after a `get/ds` went out makes the answer stale however late it comes
      (a server may answer after it acknowledged later messages): the first downlink for
      that datastream after the question is taken as the answer and ignored. A question
      unanswered after ANSWER_TIMEOUT is forgotten.

    Everything else from Blynk is the truth, so after a restart Blynk's values win except
    for what the user changed meanwhile.
    """

    def __init__(self, clock: Callable[[], float]) -> None:
        """Start with nothing pending and nothing asked."""
        self._clock = clock
        self._pending: dict[str, str] = {}
        self._questions: dict[str, _Question] = {}

    @property
    def pending(self) -> dict[str, str]:
        """Return the user's changes Blynk has not acknowledged yet."""
        return dict(self._pending)

    def restore(self, pending: Mapping[str, str]) -> None:
        """Take back changes that were pending when Home Assistant stopped."""
        for name, value in pending.items():
            if name in USER_DATASTREAMS:
                self._pending.setdefault(name, value)

    def changed(self, name: str, value: str) -> None:
        """Record a change made on our side; it is pending until acknowledged."""
        self._pending[name] = value
        if (question := self._questions.get(name)) is not None:
            question.superseded = True

    def acknowledged(self, name: str, value: str) -> None:
        """Record Blynk's acknowledgement of `value` (not of an older value)."""
        if self._pending.get(name) == value:
            del self._pending[name]

    def to_ask(self) -> list[str]:
        """Return the datastreams to ask Blynk for: those the user did not change."""
        return [name for name in USER_DATASTREAMS if name not in self._pending]

    def asked(self, names: Iterable[str]) -> None:
        """Record that a `get/ds` for `names` went out now."""
        deadline = self._clock() + ANSWER_TIMEOUT
        for name in names:
            self._questions[name] = _Question(deadline)

    def connection_lost(self) -> None:
        """Forget the questions: answers never come on another connection."""
        self._questions.clear()

    def accepts(self, name: str) -> bool:
        """Tell whether a value Blynk sent for `name` should be adopted."""
        question = self._questions.pop(name, None)
        if name in self._pending:
            return False
        return not (
            question is not None and question.superseded and self._clock() <= question.deadline
        )
