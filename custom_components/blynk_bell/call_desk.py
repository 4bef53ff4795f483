"""The calls of one bell's tables in Home Assistant: timers, opening hours, the day's figures.

`protocol/calls.py` says what a press, an acknowledgement or "served" does to a call; this
desk applies it at the right time, clears calls nobody served, starts a new day's figures
at local midnight, and tells the entities and the owner (who stores the calls, fires
events and tells the bell) what changed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from homeassistant.core import CALLBACK_TYPE, Context, HomeAssistant, callback
from homeassistant.helpers.event import async_track_point_in_utc_time, async_track_time_change
from homeassistant.util import dt as dt_util

from .protocol import calls
from .protocol.calls import Call, CallChange, CallState, DayFigures, Outcome


@dataclass(frozen=True, slots=True)
class CallEvent:
    """A change of one table's call, for events, the logbook and the bell's LEDs."""

    table: int
    change: CallChange
    call: Call
    response: timedelta | None
    # How long the guest had waited when it happened (None for a new call).
    wait: timedelta | None = None
    # Who did it (the user pressing "Acknowledge"), for the logbook.
    context: Context | None = None


class CallDesk:
    """Holds every table's call and the day's figures; all times are UTC."""

    def __init__(
        self,
        hass: HomeAssistant,
        tables: int,
        clear_after: timedelta,
        on_change: Callable[[int | None], None],
        on_event: Callable[[CallEvent], None],
    ) -> None:
        """Start with idle tables and today's empty figures; `start` runs the clocks."""
        self._hass = hass
        self.tables = tables
        self.clear_after = clear_after
        self._on_change = on_change
        self._on_event = on_event
        self.calls: dict[int, Call] = dict.fromkeys(range(1, tables + 1), Call())
        self.last_response: dict[int, timedelta] = {}
        self.figures = DayFigures(dt_util.now().date())
        # Opening hours: while inactive a press is an event but starts no call.
        self.active = True
        self._timers: dict[int, CALLBACK_TYPE] = {}
        self.calls_before: dict[int, Call] = {}
        self._midnight: CALLBACK_TYPE | None = None

    # Life cycle ----------------------------------------------------------------------

    @callback
    def start(self) -> None:
        """Run the clocks: calls that run out, and the figures' new day."""
        self._midnight = async_track_time_change(
            self._hass, self._new_day, hour=0, minute=0, second=0
        )
        for table in self.calls:
            self._schedule(table)
        self._check_expired(dt_util.utcnow())

    @callback
    def stop(self) -> None:
        """Stop every clock."""
        for cancel in self._timers.values():
            cancel()
        self._timers.clear()
        if self._midnight is not None:
            self._midnight()
            self._midnight = None

    def restore(self, data: object) -> None:
        """Take back what was stored before a restart (before any new message counts)."""
        if not isinstance(data, dict):
            return
        stored_calls = data.get("calls")
        if isinstance(stored_calls, dict):
            for key, value in stored_calls.items():
                if isinstance(key, str) and key.isdigit() and int(key) in self.calls:
                    self.calls[int(key)] = Call.from_dict(value)
        responses = data.get("last_response_s")
        if isinstance(responses, dict):
            for key, seconds in responses.items():
                if (
                    isinstance(key, str)
                    and key.isdigit()
                    and int(key) in self.calls
                    and isinstance(seconds, int | float)
                    and 0 <= seconds < 1e9
                ):
                    self.last_response[int(key)] = timedelta(seconds=seconds)
        self.figures = DayFigures.from_dict(data.get("figures"), dt_util.now().date())
        if isinstance(active := data.get("active"), bool):
            self.active = active

    def as_dict(self) -> dict[str, Any]:
        """Return what `restore` reads."""
        return {
            "calls": {str(table): call.as_dict() for table, call in self.calls.items()},
            "last_response_s": {
                str(table): response.total_seconds()
                for table, response in self.last_response.items()
            },
            "figures": self.figures.as_dict(),
            "active": self.active,
        }

    # What happens to a call ------------------------------------------------------------

    @callback
    def press(self, table: int, at: datetime, *, may_call: bool) -> None:
        """Count a guest's press; `may_call` is False for a press too old to be a call."""
        if may_call and self.active:
            self._apply(table, calls.press(self.calls[table], at))

    @callback
    def cancel(self, table: int, at: datetime) -> None:
        """Cancel the call: the guest held the button."""
        self._apply(table, calls.cancel(self.calls[table], at))

    @callback
    def acknowledge(self, table: int, context: Context | None = None) -> bool:
        """Mark the call seen (a waiter is on the way); False when it was not calling."""
        outcome = calls.acknowledge(self.calls[table], dt_util.utcnow())
        return self._apply(table, outcome, context)

    @callback
    def serve(self, table: int, context: Context | None = None) -> bool:
        """End the call: the table was served; False when it had no open call."""
        return self._apply(table, calls.serve(self.calls[table], dt_util.utcnow()), context)

    @callback
    def set_active(self, active: bool) -> None:
        """Open or close the bell (opening hours); open calls go on."""
        if active != self.active:
            self.active = active
            self._on_change(None)

    def _apply(
        self,
        table: int,
        outcome: Outcome,
        context: Context | None = None,
        at: datetime | None = None,
    ) -> bool:
        if outcome.change is None:
            return False
        self.calls_before[table] = self.calls[table]
        self.calls[table] = outcome.call
        if outcome.change is CallChange.STARTED:
            self._roll_day()
            self.figures = self.figures.counted_call()
        if outcome.response is not None:
            self._roll_day()
            self.figures = self.figures.counted_response(outcome.response)
            self.last_response[table] = outcome.response
        self._schedule(table)
        before = self.calls_before.pop(table)
        wait = None
        if before.open and before.started_at is not None:
            wait = max(timedelta(0), (at or dt_util.utcnow()) - before.started_at)
        self._on_event(
            CallEvent(table, outcome.change, outcome.call, outcome.response, wait, context)
        )
        self._on_change(table)
        return True

    # Clocks ------------------------------------------------------------------------------

    def _schedule(self, table: int) -> None:
        if (cancel := self._timers.pop(table, None)) is not None:
            cancel()
        deadline = calls.expires_at(self.calls[table], self.clear_after)
        if deadline is None:
            return

        @callback
        def run_out(now: datetime) -> None:
            self._timers.pop(table, None)
            self._expire(table, now)

        self._timers[table] = async_track_point_in_utc_time(self._hass, run_out, deadline)

    def _check_expired(self, now: datetime) -> None:
        for table in self.calls:
            self._expire(table, now)

    def _expire(self, table: int, now: datetime) -> None:
        outcome = calls.expire(self.calls[table], now, self.clear_after)
        if outcome.call is self.calls[table]:
            return
        if outcome.change is not None:
            self._apply(table, outcome, at=now)
            return
        self.calls[table] = outcome.call  # The "cancelled" notice ended.
        self._schedule(table)
        self._on_change(table)

    @callback
    def _new_day(self, now: datetime) -> None:
        if self._roll_day(now):
            self._on_change(None)

    def _roll_day(self, now: datetime | None = None) -> bool:
        today = dt_util.as_local(now or dt_util.utcnow()).date()
        if self.figures.day == today:
            return False
        self.figures = DayFigures(today)
        return True

    # Questions ---------------------------------------------------------------------------

    def state(self, table: int) -> CallState:
        """Return the state of `table`'s call."""
        return self.calls[table].state

    def wait(self, table: int, now: datetime | None = None) -> timedelta | None:
        """Return how long `table`'s open call has waited so far."""
        call = self.calls[table]
        if not call.open or call.started_at is None:
            return None
        return max(timedelta(0), (now or dt_util.utcnow()) - call.started_at)
