"""The heater's controller: one state, kept in sync with the Blynk app both ways.

The model (`model.py`) says what the heater does, the template (`template.py`) what the
datastreams mean, the sync rules (`sync.py`) which value wins; the controller ties them
together over a `BlynkPort` and tells its owner when anything changed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
import logging
from typing import Protocol

from .model import HeaterModel, status_for
from .sync import BLYNK_REPORTS, TemperatureReporter, UserValues
from .template import (
    ASK_FOR_HELP,
    CURRENT_TEMPERATURE,
    DEFAULT_SET_POINT,
    HELP_TEXT,
    POWER,
    SET_TEMPERATURE,
    SET_USAGE,
    STATUS,
    TERMINAL,
    Command,
    Status,
    clamp_set_point,
    format_power,
    format_temperature,
    parse_number,
    parse_power,
    parse_terminal,
)
from .throttle import Throttle

_LOGGER = logging.getLogger(__name__)


class BlynkPort(Protocol):
    """The parts of `BlynkDevice` the controller uses."""

    @property
    def connected(self) -> bool:
        """Tell whether Blynk accepts messages now."""

    def write_user_values(self, values: Mapping[str, str], on_ack: Callable[[], None]) -> bool:
        """Send a user's change at once; `on_ack` runs when Blynk has it."""

    def request_datastreams(self, names: list[str]) -> bool:
        """Ask for the latest values (`get/ds`)."""

    def print_terminal(self, text: str) -> bool:
        """Print to the Terminal widget."""

    def report(self, values: Mapping[str, str]) -> None:
        """Report datastream values the device measures itself (batched, metered)."""

    def report_property(self, name: str, prop: str, value: str) -> None:
        """Report a widget property (metered)."""


@dataclass(slots=True)
class HeaterState:
    """What Home Assistant shows; None until known."""

    power: bool | None = None
    target: float | None = None
    current: float | None = None
    status: Status = Status.OFF


class HeaterController:
    """Keeps power and set point in sync both ways and reports the temperature.

    Values the user sets in Home Assistant stay pending until Blynk acknowledges them
    (QoS 1 PUBACK) and are sent again after every reconnect, the last value winning.
    `on_change` runs after every change of `state` and after every tick (a reading held
    back may be due by now); how often to show it is the owner's business.
    """

    def __init__(
        self,
        model: HeaterModel,
        clock: Callable[[], float],
        on_change: Callable[[], None],
    ) -> None:
        """Start with unknown power and set point."""
        self.model = model
        self.state = HeaterState()
        self._clock = clock
        self._on_change = on_change
        self._blynk: BlynkPort | None = None
        self._values = UserValues(clock)
        self._reporter = TemperatureReporter(BLYNK_REPORTS, clock)
        self._reported_status: Status | None = None
        self._reported_disabled: bool | None = None
        self._last_tick: float | None = None
        self._status_target: float | None = None
        self._bad_value_warning = Throttle(60.0, clock)

    @property
    def power(self) -> bool:
        """Return whether the heater is on (off while unknown)."""
        return bool(self.state.power)

    @property
    def target(self) -> float:
        """Return the set point (the template's default while unknown)."""
        return self.state.target if self.state.target is not None else DEFAULT_SET_POINT

    @property
    def pending(self) -> dict[str, str]:
        """Return the user's values Blynk has not acknowledged yet."""
        return self._values.pending

    def attach(self, blynk: BlynkPort) -> None:
        """Use this Blynk device for publishing."""
        self._blynk = blynk

    def restore(
        self, power: bool | None, target: float | None, pending: Mapping[str, str] | None = None
    ) -> None:
        """Show the last known state after a restart until Blynk answers."""
        if self.state.power is None and power is not None:
            self.state.power = power
        if self.state.target is None and target is not None:
            self.state.target = clamp_set_point(target)
        self._values.restore(pending or {})
        self._refresh_status()

    # From Home Assistant -------------------------------------------------------------

    def set_power(self, on: bool) -> None:
        """Switch the heater from Home Assistant (UI, automation, voice)."""
        self.change(power=on)

    def set_target(self, value: float) -> None:
        """Move the set point from Home Assistant."""
        self.change(target=value)

    def change(self, *, power: bool | None = None, target: float | None = None) -> None:
        """Apply a user's change of power and/or set point; Blynk gets it in one message."""
        values: dict[str, str] = {}
        if power is not None:
            self.state.power = power
            values[POWER] = format_power(power)
        if target is not None:
            self.state.target = clamp_set_point(target)
            values[SET_TEMPERATURE] = format_temperature(self.state.target)
        if values:
            self._send_user_values(values)
            self._after_change()

    # From Blynk ----------------------------------------------------------------------

    def connected(self) -> None:
        """Bring Blynk up to date after (re)connecting, and ask for what the user set."""
        if (pending := self._values.pending) and self._blynk is not None:
            self._write(pending)
        self.request_latest()
        self._publish_widgets()
        self._report_temperature()

    def disconnected(self) -> None:
        """Forget questions asked on the lost connection."""
        self._values.connection_lost()

    def request_latest(self) -> None:
        """Ask Blynk for power and set point, except what the user changed meanwhile."""
        names = self._values.to_ask()
        if names and self._blynk is not None and self._blynk.request_datastreams(names):
            self._values.asked(names)

    def datastream_changed(self, name: str, value: str) -> None:
        """Adopt a value written in the Blynk app (or answered to get/ds)."""
        if name == TERMINAL:
            self.terminal(value)
        elif name not in (POWER, SET_TEMPERATURE):
            _LOGGER.debug("Ignored a write to the %s datastream", name)
        elif not self._values.accepts(name):
            _LOGGER.debug("Ignored %s from Blynk: older than the user's change", name)
        elif name == POWER:
            self._power_from_blynk(value)
        else:
            self._target_from_blynk(value)

    def _power_from_blynk(self, value: str) -> None:
        power = parse_power(value)
        if power is None:
            self._reject(POWER, value)
            return
        self.state.power = power
        self._after_change()

    def _target_from_blynk(self, value: str) -> None:
        number = parse_number(value)
        if number is None:
            self._reject(SET_TEMPERATURE, value)
            return
        clamped = clamp_set_point(number)
        self.state.target = clamped
        if clamped != number:  # Show the app the value we really use.
            self._send_user_values({SET_TEMPERATURE: format_temperature(clamped)})
        self._after_change()

    def terminal(self, text: str) -> None:
        """Answer a line typed in the app's Terminal widget; never raise."""
        line = parse_terminal(text)
        match line.command:
            case Command.SET if line.number is not None:
                self.set_target(line.number)
                note = "" if self.target == line.number else " (limited to 10..30)"
                self._print(f"Temperature set to {format_temperature(self.target)}{note}")
            case Command.ON | Command.OFF:
                self.set_power(line.command is Command.ON)
                self._print("Turned ON" if line.command is Command.ON else "Turned OFF")
            case Command.HELP:
                self._print(HELP_TEXT)
            case Command.EMPTY:
                self._print(ASK_FOR_HELP)
            case Command.UNKNOWN:
                self._print(f"Unknown command: {line.word}. {ASK_FOR_HELP}")
            case _:
                self._print(SET_USAGE)

    # Every second ------------------------------------------------------------------

    def tick(self) -> None:
        """Advance the heater model and report what changed."""
        now = self._clock()
        elapsed = 0.0 if self._last_tick is None else now - self._last_tick
        self._last_tick = now
        self.model.update(self.power, self.target, elapsed)
        current = self.model.current_temperature()
        self.state.current = None if current is None else round(current, 1)
        self._refresh_status()
        self._publish_widgets()
        self._report_temperature()
        self._on_change()

    # Publishing --------------------------------------------------------------------

    def _after_change(self) -> None:
        self._refresh_status()
        self._publish_widgets()
        self._on_change()

    def _refresh_status(self) -> None:
        if self.model.status_follows_heating:
            heating = self.power and self.model.heating()
            self.state.status = (
                Status.HEATING if heating else Status.IDLE if self.power else Status.OFF
            )
        else:
            same_target = self.target == self._status_target
            previous = self.state.status if same_target else None
            self.state.status = status_for(self.power, self.state.current, self.target, previous)
            self._status_target = self.target

    def _publish_widgets(self) -> None:
        """Status, its colour and the set point's lock: only when they change.

        Blynk keeps what it was told across our reconnects, so a reconnect sends nothing.
        """
        blynk = self._blynk
        if blynk is None or self.state.power is None:
            return
        status = self.state.status
        if status != self._reported_status:
            blynk.report({STATUS: str(int(status))})
            blynk.report_property(STATUS, "color", status.color)
            self._reported_status = status
        disabled = not self.power
        if disabled != self._reported_disabled:
            blynk.report_property(SET_TEMPERATURE, "isDisabled", "1" if disabled else "0")
            self._reported_disabled = disabled

    def _report_temperature(self) -> None:
        blynk, current = self._blynk, self.state.current
        if blynk is not None and current is not None and self._reporter.due(current):
            blynk.report({CURRENT_TEMPERATURE: f"{current:.1f}"})
            self._reporter.sent(current)

    def _send_user_values(self, values: dict[str, str]) -> None:
        for name, value in values.items():
            self._values.changed(name, value)
        self._write(values)

    def _write(self, values: dict[str, str]) -> None:
        """Send values the user set; each stays pending until Blynk acknowledges it."""
        if self._blynk is None or not self._blynk.connected:
            return
        sent = dict(values)

        def acknowledged() -> None:
            for name, value in sent.items():
                self._values.acknowledged(name, value)

        self._blynk.write_user_values(sent, acknowledged)

    def _print(self, text: str) -> None:
        if self._blynk is not None:
            self._blynk.print_terminal(text + "\n")

    def _reject(self, name: str, value: str) -> None:
        log = _LOGGER.warning if self._bad_value_warning.allow() else _LOGGER.debug
        log("Ignored an invalid %s value from Blynk: %r", name, value[:40])
