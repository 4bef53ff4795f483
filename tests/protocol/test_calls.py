"""A table's call, step by step, and the day's figures: pure logic, no Home Assistant."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from custom_components.blynk_bell.protocol import calls
from custom_components.blynk_bell.protocol.calls import (
    Call,
    CallChange,
    CallState,
    DayFigures,
)

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
CLEAR = timedelta(minutes=5)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_a_call_goes_calling_acknowledged_served() -> None:
    started = calls.press(Call(), at(0))
    assert started.change is CallChange.STARTED
    assert started.call.state is CallState.CALLING
    seen = calls.acknowledge(started.call, at(90))
    assert seen.change is CallChange.ACKNOWLEDGED
    assert seen.call.state is CallState.ACKNOWLEDGED
    assert seen.response == timedelta(seconds=90)
    served = calls.serve(seen.call, at(200))
    assert served.change is CallChange.SERVED
    assert served.call.state is CallState.IDLE
    assert served.response is None  # Answered at the acknowledgement already.


def test_a_repeat_press_is_a_reminder_that_keeps_the_start() -> None:
    call = calls.press(Call(), at(0)).call
    again = calls.press(call, at(60))
    assert again.change is CallChange.REMINDED
    assert again.call.started_at == at(0)
    assert again.call.last_press_at == at(60)
    assert again.call.reminders == 1
    # An acknowledged table pressed again calls again, still from its first press.
    seen = calls.acknowledge(again.call, at(90)).call
    recalled = calls.press(seen, at(120)).call
    assert recalled.state is CallState.CALLING
    assert recalled.reminders == 2
    assert calls.acknowledge(recalled, at(150)).response is None  # Answered once only.


def test_served_without_acknowledgement_is_the_response() -> None:
    call = calls.press(Call(), at(0)).call
    assert calls.serve(call, at(42)).response == timedelta(seconds=42)


def test_the_guest_cancels_and_the_notice_clears() -> None:
    call = calls.press(Call(), at(0)).call
    cancelled = calls.cancel(call, at(10))
    assert cancelled.change is CallChange.CANCELLED
    assert cancelled.call.state is CallState.CANCELLED
    assert calls.expire(cancelled.call, at(30), CLEAR).call.state is CallState.CANCELLED
    assert calls.expire(cancelled.call, at(71), CLEAR).call.state is CallState.IDLE
    assert calls.cancel(Call(), at(0)).change is None


def test_an_unserved_call_clears_after_its_last_press() -> None:
    call = calls.press(calls.press(Call(), at(0)).call, at(100)).call
    assert calls.expires_at(call, CLEAR) == at(400)
    assert calls.expire(call, at(399), CLEAR).change is None
    cleared = calls.expire(call, at(400), CLEAR)
    assert cleared.change is CallChange.CLEARED
    assert cleared.call.state is CallState.IDLE


def test_actions_that_do_not_apply_change_nothing() -> None:
    idle = Call()
    assert calls.acknowledge(idle, at(0)).change is None
    assert calls.serve(idle, at(0)).change is None
    seen = calls.acknowledge(calls.press(idle, at(0)).call, at(1)).call
    assert calls.acknowledge(seen, at(2)).change is None


def test_calls_survive_their_stored_form_and_garbage_is_idle() -> None:
    call = calls.press(calls.press(Call(), at(0)).call, at(5)).call
    assert Call.from_dict(call.as_dict()) == call
    for garbage in (None, [], {"state": "party"}, {"state": "calling"}, {"state": 3}):
        assert Call.from_dict(garbage) == Call()


def test_the_days_figures() -> None:
    figures = DayFigures(date(2026, 12, 1))
    assert figures.average_response is None
    figures = figures.counted_call().counted_call()
    figures = figures.counted_response(timedelta(seconds=60))
    figures = figures.counted_response(timedelta(seconds=180))
    assert figures.calls == 2
    assert figures.average_response == timedelta(seconds=120)
    assert figures.longest_response == timedelta(seconds=180)
    today = date(2026, 12, 1)
    assert DayFigures.from_dict(figures.as_dict(), today) == figures
    assert DayFigures.from_dict(figures.as_dict(), date(2026, 12, 2)) == DayFigures(
        date(2026, 12, 2)
    )
    assert DayFigures.from_dict({"day": "2026-12-01", "calls": -4}, today) == DayFigures(today)
