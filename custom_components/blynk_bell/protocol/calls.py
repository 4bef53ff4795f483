"""A table's call, from the guest's press to the waiter serving it, and the day's figures.

    idle ──press──▶ calling ──acknowledge──▶ acknowledged ──served──▶ idle
                      │  ▲ press again: a reminder (the wait still counts from the
                      │  └────────────── first press; an acknowledged call calls again)
                      └──long press──▶ cancelled ──(a minute)──▶ idle

A call that nobody serves clears `clear_after` after its last press. The response time
is the wait from the first press to the acknowledgement (or to "served", when nobody
acknowledged first).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any, Final, TypeGuard

# How long "cancelled" shows before the table is idle again.
CANCELLED_SHOWN: Final = timedelta(minutes=1)


class CallState(StrEnum):
    """The state of a table's call; the call sensor's options."""

    IDLE = "idle"
    CALLING = "calling"
    ACKNOWLEDGED = "acknowledged"
    CANCELLED = "cancelled"


class CallChange(StrEnum):
    """What happened to a call; the device triggers and logbook entries."""

    STARTED = "call_started"
    REMINDED = "call_reminded"
    ACKNOWLEDGED = "call_acknowledged"
    SERVED = "call_served"
    CANCELLED = "call_cancelled"
    CLEARED = "call_cleared"


@dataclass(frozen=True, slots=True)
class Call:
    """One table's call; `IDLE` holds no times."""

    state: CallState = CallState.IDLE
    started_at: datetime | None = None
    last_press_at: datetime | None = None
    acknowledged_at: datetime | None = None
    reminders: int = 0
    ended_at: datetime | None = None

    @property
    def open(self) -> bool:
        """Tell whether a guest is waiting (calling, or a waiter is on the way)."""
        return self.state in (CallState.CALLING, CallState.ACKNOWLEDGED)

    def as_dict(self) -> dict[str, Any]:
        """Return the stored form."""
        return {
            "state": self.state.value,
            "started_at": _iso(self.started_at),
            "last_press_at": _iso(self.last_press_at),
            "acknowledged_at": _iso(self.acknowledged_at),
            "reminders": self.reminders,
            "ended_at": _iso(self.ended_at),
        }

    @classmethod
    def from_dict(cls, data: object) -> Call:
        """Read the stored form; anything malformed is an idle table."""
        if not isinstance(data, dict):
            return cls()
        try:
            state = CallState(str(data.get("state")))
        except ValueError:
            return cls()
        reminders = data.get("reminders")
        call = cls(
            state=state,
            started_at=_parse(data.get("started_at")),
            last_press_at=_parse(data.get("last_press_at")),
            acknowledged_at=_parse(data.get("acknowledged_at")),
            reminders=reminders if isinstance(reminders, int) and 0 <= reminders < 10**6 else 0,
            ended_at=_parse(data.get("ended_at")),
        )
        if call.open and (call.started_at is None or call.last_press_at is None):
            return cls()
        return call


@dataclass(frozen=True, slots=True)
class Outcome:
    """What an action did: the change (None: nothing) and, once known, the response time."""

    change: CallChange | None
    call: Call
    response: timedelta | None = None


def press(call: Call, at: datetime) -> Outcome:
    """Return a guest's press: a new call, or a reminder of the open one."""
    if call.open:
        assert call.started_at is not None  # noqa: S101 - an open call has one
        reminded = replace(
            call,
            state=CallState.CALLING,
            last_press_at=max(at, call.last_press_at or at),
            reminders=call.reminders + 1,
        )
        return Outcome(CallChange.REMINDED, reminded)
    return Outcome(CallChange.STARTED, Call(CallState.CALLING, at, at))


def cancel(call: Call, at: datetime) -> Outcome:
    """Return the guest's cancel (a long press)."""
    if not call.open:
        return Outcome(None, call)
    return Outcome(CallChange.CANCELLED, Call(CallState.CANCELLED, ended_at=at))


def acknowledge(call: Call, at: datetime) -> Outcome:
    """Return the call seen by a waiter, who is on the way."""
    if call.state is not CallState.CALLING:
        return Outcome(None, call)
    acknowledged = replace(call, state=CallState.ACKNOWLEDGED, acknowledged_at=at)
    first = call.acknowledged_at is None
    return Outcome(CallChange.ACKNOWLEDGED, acknowledged, _wait(call, at) if first else None)


def serve(call: Call, at: datetime) -> Outcome:
    """Return the call ended: the waiter served the table."""
    if not call.open:
        return Outcome(None, call)
    response = _wait(call, at) if call.acknowledged_at is None else None
    return Outcome(CallChange.SERVED, Call(ended_at=at), response)


def expire(call: Call, now: datetime, clear_after: timedelta) -> Outcome:
    """Clear what has run out: an unserved call, or the "cancelled" notice."""
    deadline = expires_at(call, clear_after)
    if deadline is None or now < deadline:
        return Outcome(None, call)
    change = CallChange.CLEARED if call.open else None
    return Outcome(change, Call(ended_at=now if call.open else call.ended_at))


def expires_at(call: Call, clear_after: timedelta) -> datetime | None:
    """Return when the call (or the "cancelled" notice) clears by itself."""
    if call.open and call.last_press_at is not None:
        return call.last_press_at + clear_after
    if call.state is CallState.CANCELLED and call.ended_at is not None:
        return call.ended_at + CANCELLED_SHOWN
    return None


def _wait(call: Call, at: datetime) -> timedelta:
    assert call.started_at is not None  # noqa: S101 - only open calls are answered
    return max(timedelta(0), at - call.started_at)


@dataclass(frozen=True, slots=True)
class DayFigures:
    """The bell's figures of one local day: calls, and how fast they were answered."""

    day: date
    calls: int = 0
    responses: int = 0
    total_response: timedelta = timedelta(0)
    longest_response: timedelta | None = None

    @property
    def average_response(self) -> timedelta | None:
        """Return the mean response time, None before the first response."""
        return self.total_response / self.responses if self.responses else None

    def counted_call(self) -> DayFigures:
        """Return the figures with one more call."""
        return replace(self, calls=self.calls + 1)

    def counted_response(self, response: timedelta) -> DayFigures:
        """Return the figures with one more response time."""
        longest = max(response, self.longest_response or response)
        return replace(
            self,
            responses=self.responses + 1,
            total_response=self.total_response + response,
            longest_response=longest,
        )

    def as_dict(self) -> dict[str, Any]:
        """Return the stored form."""
        return {
            "day": self.day.isoformat(),
            "calls": self.calls,
            "responses": self.responses,
            "total_response_s": self.total_response.total_seconds(),
            "longest_response_s": (
                None if self.longest_response is None else self.longest_response.total_seconds()
            ),
        }

    @classmethod
    def from_dict(cls, data: object, today: date) -> DayFigures:
        """Read the stored form if it is today's; otherwise a fresh day."""
        if not isinstance(data, dict) or data.get("day") != today.isoformat():
            return cls(today)
        calls, responses = data.get("calls"), data.get("responses")
        total, longest = data.get("total_response_s"), data.get("longest_response_s")
        if not (_count(calls) and _count(responses) and _seconds(total)):
            return cls(today)
        return cls(
            today,
            calls,
            responses,
            timedelta(seconds=total),
            timedelta(seconds=longest) if _seconds(longest) else None,
        )


def _count(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**9


def _seconds(value: object) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value < 1e9


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _parse(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None
