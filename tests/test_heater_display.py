"""How often Home Assistant is told about the heater, in simulated time.

Home Assistant records every state change; the simulation's noise alone would write a row
a second. The display policy shows every change at once, except the temperature's noise.
"""

from __future__ import annotations

from dataclasses import dataclass
import random

import pytest

from custom_components.blynk_bell.blynk_heater import DisplayPolicy
from custom_components.blynk_bell.protocol.heater import HeaterController
from custom_components.blynk_bell.protocol.model import HeaterModel, SimulatedHeater
from custom_components.blynk_bell.protocol.template import POWER, SET_TEMPERATURE, Status

from .protocol.simulated import SimulatedTime

HOUR = 3600


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations() -> None:
    """No Home Assistant instance needed."""


@dataclass
class Shown:
    time: SimulatedTime
    controller: HeaterController
    times: list[float]

    def seconds(self, count: int) -> None:
        for _ in range(count):
            self.time.advance(1)
            self.controller.tick()


def shown(model: HeaterModel | None = None, seed: int = 0) -> Shown:
    """A controller whose changes go through the display policy, as in BlynkHeater."""
    time = SimulatedTime()
    policy = DisplayPolicy(time)
    times: list[float] = []

    def changed() -> None:
        state = controller.state
        if policy.due((True, state.power, state.target, state.status), state.current):
            times.append(time.now)

    controller = HeaterController(
        model or SimulatedHeater(rand=random.Random(seed).uniform), time, changed
    )
    controller.datastream_changed(POWER, "1")
    controller.datastream_changed(SET_TEMPERATURE, "22")
    return Shown(time, controller, times)


@pytest.mark.parametrize("seed", range(3))
def test_the_temperature_shows_about_twice_a_minute_in_steady_state(seed: int) -> None:
    run = shown(seed=seed)
    run.seconds(HOUR)
    begin = run.time.now
    run.times.clear()
    run.seconds(HOUR)
    # Not once a second (3600 recorder rows an hour), yet a live thermometer.
    assert 60 <= len(run.times) <= 130
    assert run.times[0] - begin <= 60


def test_status_changes_show_at_once() -> None:
    run = shown()
    run.seconds(HOUR)
    run.times.clear()
    run.controller.datastream_changed(SET_TEMPERATURE, "30")  # From the app.
    # 8 °C below the new set point: heating, shown the moment the app's write arrives.
    assert run.times == [run.time.now]
    assert run.controller.state.status is Status.HEATING
    run.times.clear()
    run.seconds(60)
    # Climbing fast: each 1 °C step shows at once, far more often than twice a minute.
    assert len(run.times) >= 5


@dataclass
class Thermometer:
    """A real heater's model, reduced to a reading that may vanish."""

    reading: float | None = 20.0
    status_follows_heating: bool = True

    def update(self, power: bool, target: float, elapsed: float) -> None:
        pass

    def current_temperature(self) -> float | None:
        return self.reading

    def heating(self) -> bool:
        return False


def test_a_thermometer_that_goes_and_comes_back_shows_at_once_and_once() -> None:
    thermometer = Thermometer()
    run = shown(thermometer)
    run.seconds(1)
    run.times.clear()
    thermometer.reading = None  # Unavailable.
    run.seconds(2)
    assert run.times == [run.time.now - 1]  # Once, not every second.
    assert run.controller.state.current is None
    thermometer.reading = 20.0  # Back, with the value it had.
    run.seconds(1)
    assert run.times[-1] == run.time.now
    assert run.controller.state.current == 20.0
