"""The "MQTT Air Cooler/Heater" device: datastreams, heater models and the controller.

The controller keeps Home Assistant and the Blynk app in sync over a `BlynkDevice`.

Blynk's free plan allows 100,000 messages a month (about 137 an hour, and the app's own
writes count too), so the controller publishes only what a user would notice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
import logging
import math
import random
from typing import Final, Protocol

from .throttle import RollingBudget, Throttle

_LOGGER = logging.getLogger(__name__)

POWER: Final = "Power"
SET_TEMPERATURE: Final = "Set Temperature"
CURRENT_TEMPERATURE: Final = "Current Temperature"
STATUS: Final = "Status"
TERMINAL: Final = "Terminal"

MIN_SET_POINT: Final = 10.0
MAX_SET_POINT: Final = 30.0
DEFAULT_SET_POINT: Final = 23.0
IDLE_BAND: Final = 1.0


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


# Blynk counts every message against the month's quota: at most one report every two
# minutes, unless the temperature moved by 1 °C or more (beyond the simulation's noise:
# ±0.15 °C a second, which wanders about ±0.5 °C), which goes out at once but never
# more than once per 10 seconds.
BLYNK_REPORTS: Final = ReportPolicy(
    interval=120.0, min_change=0.1, big_change=1.0, big_interval=10.0
)
# What the device reports by itself (Current Temperature, Status and its colour) may
# spend at most this many messages in any hour. Steady state needs about 30 (one reading
# every two minutes); the rest leaves room for a status change or a real jump, and the
# cap keeps the simulation's noise or a flapping link from ever costing more.
TELEMETRY_PER_HOUR: Final = 36

# Home Assistant records every state change: the simulated noise alone would write a
# row a second for months. Twice a minute shows a thermometer; big moves show at once.
HOME_ASSISTANT_REPORTS: Final = ReportPolicy(
    interval=30.0, min_change=0.1, big_change=1.0, big_interval=1.0
)

HELP_TEXT: Final = (
    "Available commands:\n"
    "  set N    - set target temperature (10 to 30)\n"
    "  on       - turn on\n"
    "  off      - turn off\n"
    "  help, ?  - this list"
)


class Status(IntEnum):
    """The `Status` datastream of the template."""

    OFF = 1
    IDLE = 2
    HEATING = 3
    COOLING = 4

    @property
    def color(self) -> str:
        """Return the widget colour the original demo uses for this status."""
        return _STATUS_COLORS[self]


_STATUS_COLORS: Final = {
    Status.OFF: "E4F6F7",
    Status.IDLE: "E6F7E4",
    Status.HEATING: "F7EAE4",
    Status.COOLING: "E4EDF7",
}


def status_for(power: bool, current: float | None, target: float) -> Status:
    """Idle within 1 °C of the set point, heating below it, cooling above it."""
    if not power:
        return Status.OFF
    if current is None or abs(current - target) < IDLE_BAND:
        return Status.IDLE
    return Status.HEATING if current < target else Status.COOLING


def clamp_set_point(value: float) -> float:
    """Keep a set point within what the template's slider allows."""
    return min(MAX_SET_POINT, max(MIN_SET_POINT, value))


def parse_number(text: str) -> float | None:
    """Read a finite number, or None."""
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def format_temperature(value: float) -> str:
    """Format a set point for Blynk: at most one decimal, none when whole (`22`, `22.5`)."""
    return f"{round(value, 1):g}"


class HeaterModel(Protocol):
    """Where the temperature comes from and what heating does."""

    @property
    def status_follows_heating(self) -> bool:
        """True when status comes from a real heater's switch, not from the set point."""

    def update(self, power: bool, target: float, elapsed: float) -> None:
        """Advance by `elapsed` seconds with the given power and set point."""

    def current_temperature(self) -> float | None:
        """Return the measured temperature, or None when unknown."""

    def heating(self) -> bool:
        """Tell whether the heater is heating right now."""


class SimulatedHeater:
    """The original demo's physics, so the Blynk dashboard works out of the box.

    Once per second the temperature approaches the set point by 5 % (10 °C when off),
    is kept within 10..35 °C, and gets uniform noise of ±0.15 °C.
    """

    status_follows_heating = False

    def __init__(
        self,
        current: float = 15.0,
        rand: Callable[[float, float], float] = random.uniform,
    ) -> None:
        """Start at `current` °C."""
        self._current = current
        self._target = DEFAULT_SET_POINT
        self._power = False
        self._rand = rand
        self._carry = 0.0

    def update(self, power: bool, target: float, elapsed: float) -> None:
        """Take one model step per elapsed second (at most an hour's worth)."""
        self._power, self._target = power, target
        self._carry += elapsed
        steps = min(int(self._carry), 3600)
        self._carry -= int(self._carry)
        goal = target if power else MIN_SET_POINT
        for _ in range(steps):
            following = self._current + (goal - self._current) * 0.05
            following = max(10.0, min(following, 35.0))
            self._current = following + (0.5 - self._rand(0.0, 1.0)) * 0.3

    def current_temperature(self) -> float:
        """Return the simulated temperature."""
        return self._current

    def heating(self) -> bool:
        """Tell whether the simulated heater pushes the temperature up."""
        return self._power and self._current < self._target


def thermostat_wants_heat(current: float, target: float, hysteresis: float, heating: bool) -> bool:
    """Heat below `target - hysteresis`, stop at the target, keep going in between."""
    if current < target - hysteresis:
        return True
    if current >= target:
        return False
    return heating


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
        """Record a published value."""
        self._last_value = round(value, 1)
        self._last_time = self._clock()

    def forget(self) -> None:
        """Send the next reading at once (after a reconnect)."""
        self._last_value = None


class BlynkPort(Protocol):
    """The parts of `BlynkDevice` the controller uses."""

    @property
    def connected(self) -> bool:
        """Tell whether Blynk accepts messages now."""

    def write_datastream(
        self, name: str, value: str, *, on_ack: Callable[[], None] | None = None
    ) -> bool:
        """Publish a datastream value."""

    def set_property(self, name: str, prop: str, value: str) -> bool:
        """Publish a widget property."""

    def request_datastreams(self, names: list[str]) -> bool:
        """Ask for the latest values."""


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
    (QoS 1 PUBACK) and are re-sent after every reconnect, the last value winning.
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
        self._pending: dict[str, str] = {}
        self._reporter = TemperatureReporter(BLYNK_REPORTS, clock)
        self._telemetry = RollingBudget(TELEMETRY_PER_HOUR, 3600.0, clock)
        self._shown = TemperatureReporter(HOME_ASSISTANT_REPORTS, clock)
        self._published_status: Status | None = None
        self._published_disabled: bool | None = None
        self._last_tick: float | None = None
        self._shown_unknown = False
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
        return dict(self._pending)

    def attach(self, blynk: BlynkPort) -> None:
        """Use this Blynk device for publishing."""
        self._blynk = blynk

    def restore(
        self, power: bool | None, target: float | None, pending: dict[str, str] | None = None
    ) -> None:
        """Show the last known state after a restart until Blynk answers."""
        if self.state.power is None and power is not None:
            self.state.power = power
        if self.state.target is None and target is not None:
            self.state.target = clamp_set_point(target)
        for name, value in (pending or {}).items():
            if name in (POWER, SET_TEMPERATURE):
                self._pending.setdefault(name, value)
        self._refresh_status()

    # From Home Assistant -------------------------------------------------------------

    def set_power(self, on: bool) -> None:
        """Switch the heater from Home Assistant (UI, automation, voice)."""
        self.state.power = on
        self._send_user_value(POWER, "1" if on else "0")
        self._after_power_change()

    def set_target(self, value: float) -> None:
        """Move the set point from Home Assistant."""
        self.state.target = clamp_set_point(value)
        self._send_user_value(SET_TEMPERATURE, format_temperature(self.state.target))
        self._refresh_status()
        self._on_change()

    # From Blynk ----------------------------------------------------------------------

    def connected(self) -> None:
        """Bring Blynk up to date after (re)connecting."""
        for name, value in self._pending.items():
            self._write_acked(name, value)
        self.request_latest()
        self._published_status = None
        self._published_disabled = None
        self._reporter.forget()
        self._publish_widgets()
        self._report_temperature()

    def request_latest(self) -> None:
        """Ask Blynk for power and set point, except what the user changed meanwhile."""
        if self._blynk is not None:
            wanted = [name for name in (POWER, SET_TEMPERATURE) if name not in self._pending]
            if wanted:
                self._blynk.request_datastreams(wanted)

    def datastream_changed(self, name: str, value: str) -> None:
        """Adopt a value written in the Blynk app (or answered to get/ds)."""
        if name == POWER:
            self._power_from_blynk(value)
        elif name == SET_TEMPERATURE:
            self._target_from_blynk(value)
        elif name == TERMINAL:
            self.terminal(value)
        else:
            _LOGGER.debug("Ignored a write to the %s datastream", name)

    def _power_from_blynk(self, value: str) -> None:
        number = parse_number(value)
        if number is None or number not in (0, 1):
            self._reject(POWER, value)
            return
        self._pending.pop(POWER, None)
        self.state.power = number == 1
        self._after_power_change()

    def _target_from_blynk(self, value: str) -> None:
        number = parse_number(value)
        if number is None:
            self._reject(SET_TEMPERATURE, value)
            return
        self._pending.pop(SET_TEMPERATURE, None)
        clamped = clamp_set_point(number)
        self.state.target = clamped
        if clamped != number:  # Show the app the value we really use.
            self._send_user_value(SET_TEMPERATURE, format_temperature(clamped))
        self._refresh_status()
        self._on_change()

    def terminal(self, text: str) -> None:
        """Answer a command typed in the app's Terminal widget; never raise."""
        words = text.split()
        if not words:
            self._print('Type "help" for the list of commands')
            return
        command = words[0].lower()
        if command == "set":
            self._terminal_set(words[1:])
        elif command in ("on", "off"):
            self.set_power(command == "on")
            self._print("Turned ON" if command == "on" else "Turned OFF")
        elif command in ("help", "?"):
            self._print(HELP_TEXT)
        else:
            self._print(f'Unknown command: {command[:40]}. Type "help" for the list of commands')

    def _terminal_set(self, arguments: list[str]) -> None:
        number = parse_number(arguments[0]) if len(arguments) == 1 else None
        if number is None:
            self._print("Usage: set N, where N is a temperature from 10 to 30")
            return
        self.set_target(number)
        note = "" if self.target == number else " (limited to 10..30)"
        self._print(f"Temperature set to {format_temperature(self.target)}{note}")

    # Every second ------------------------------------------------------------------

    def tick(self) -> None:
        """Advance the heater model and report what changed."""
        now = self._clock()
        elapsed = 0.0 if self._last_tick is None else now - self._last_tick
        self._last_tick = now
        self.model.update(self.power, self.target, elapsed)
        before = self.state.status
        current = self.model.current_temperature()
        self.state.current = None if current is None else round(current, 1)
        self._refresh_status()
        self._publish_widgets()
        self._report_temperature()
        if self.state.status != before or self._temperature_news():
            self._on_change()

    def _temperature_news(self) -> bool:
        """Tell whether Home Assistant should see the current reading now."""
        current = self.state.current
        if current is None:
            news = not self._shown_unknown
            self._shown_unknown = True
            self._shown.forget()  # The next reading is news whatever its value.
            return news
        self._shown_unknown = False
        if not self._shown.due(current):
            return False
        self._shown.sent(current)
        return True

    # Publishing --------------------------------------------------------------------

    def _after_power_change(self) -> None:
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
            self.state.status = status_for(self.power, self.state.current, self.target)

    def _publish_widgets(self) -> None:
        """Status, its colour and the set point's lock: only when they change."""
        blynk = self._blynk
        if blynk is None or not blynk.connected or self.state.power is None:
            return
        status = self.state.status
        if (
            status != self._published_status
            and self._telemetry.available() >= 2
            and blynk.write_datastream(STATUS, str(int(status)))
        ):
            blynk.set_property(STATUS, "color", status.color)
            self._telemetry.spend(2)
            self._published_status = status
        disabled = not self.power
        if disabled != self._published_disabled and blynk.set_property(
            SET_TEMPERATURE, "isDisabled", "1" if disabled else "0"
        ):
            self._published_disabled = disabled

    def _report_temperature(self) -> None:
        blynk, current = self._blynk, self.state.current
        if blynk is None or not blynk.connected or current is None:
            return
        if (
            self._reporter.due(current)
            and self._telemetry.available() >= 1
            and blynk.write_datastream(CURRENT_TEMPERATURE, f"{current:.1f}")
        ):
            self._telemetry.spend()
            self._reporter.sent(current)

    def _send_user_value(self, name: str, value: str) -> None:
        self._pending[name] = value
        self._write_acked(name, value)

    def _write_acked(self, name: str, value: str) -> None:
        if self._blynk is None or not self._blynk.connected:
            return

        def acknowledged() -> None:
            if self._pending.get(name) == value:
                del self._pending[name]

        self._blynk.write_datastream(name, value, on_ack=acknowledged)

    def _print(self, text: str) -> None:
        if self._blynk is not None:
            self._blynk.write_datastream(TERMINAL, text + "\n")

    def _reject(self, name: str, value: str) -> None:
        log = _LOGGER.warning if self._bad_value_warning.allow() else _LOGGER.debug
        log("Ignored an invalid %s value from Blynk: %r", name, value[:40])
