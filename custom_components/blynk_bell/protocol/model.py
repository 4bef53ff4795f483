"""Where the heat comes from: the demo's simulation, the thermostat rule, the safety rules.

What changes here is physics and safety: how the simulated room warms, when a real
heater's switch may be on.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
import random
from typing import Final, Protocol

from .template import DEFAULT_SET_POINT, MIN_SET_POINT, Status

IDLE_BAND: Final = 1.0
# Once idle, the simulated heater shows heating or cooling again only this much further
# out: its noise wanders across the idle band's edge, and every status change costs two
# Blynk messages (the value and its colour) for nothing a user would want to know.
STATUS_HYSTERESIS: Final = 0.5

# A real heater is switched off, whatever the thermostat says, when its thermometer has
# not reported for this long, or the room is this much above the set point, or above the
# absolute limit (the template's gauge ends at 35 °C).
SILENT_THERMOMETER_AFTER: Final = 600.0
ABOVE_SET_POINT_LIMIT: Final = 5.0
ABSOLUTE_LIMIT: Final = 35.0


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


def status_for(
    power: bool, current: float | None, target: float, previous: Status | None = None
) -> Status:
    """Idle within 1 °C of the set point, heating below it, cooling above it.

    `previous` is the status for the same set point a moment ago: an idle heater leaves
    idle only beyond IDLE_BAND + STATUS_HYSTERESIS.
    """
    if not power:
        return Status.OFF
    band = IDLE_BAND + STATUS_HYSTERESIS if previous is Status.IDLE else IDLE_BAND
    if current is None or abs(current - target) < band:
        return Status.IDLE
    return Status.HEATING if current < target else Status.COOLING


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


class CutOff(StrEnum):
    """A safety rule that switched a real heater off (named in diagnostics and logs)."""

    UNLOADED = "unloaded"
    HOME_ASSISTANT_STOPPED = "home_assistant_stopped"
    THERMOMETER_UNAVAILABLE = "thermometer_unavailable"
    THERMOMETER_SILENT = "thermometer_silent"
    ABOVE_SET_POINT = "above_set_point"
    ABOVE_ABSOLUTE_LIMIT = "above_absolute_limit"


def safety_cut_off(current: float | None, silent_for: float, target: float) -> CutOff | None:
    """Return the rule that forbids heating now, or None when heating is safe.

    `silent_for` is how long ago the thermometer last reported, in seconds.
    """
    if current is None:
        return CutOff.THERMOMETER_UNAVAILABLE
    if silent_for >= SILENT_THERMOMETER_AFTER:
        return CutOff.THERMOMETER_SILENT
    if current > ABSOLUTE_LIMIT:
        return CutOff.ABOVE_ABSOLUTE_LIMIT
    if current > target + ABOVE_SET_POINT_LIMIT:
        return CutOff.ABOVE_SET_POINT
    return None
