"""Blynk's message quota and Home Assistant's recorder, in simulated time.

The heater's controller runs the original demo's simulation for hours of simulated
seconds; every message it would publish to Blynk is counted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
import itertools
import random

import pytest

from custom_components.blynk_bell.protocol.heater import (
    CURRENT_TEMPERATURE,
    POWER,
    SET_TEMPERATURE,
    HeaterController,
    SimulatedHeater,
    Status,
)

HOUR = 3600


@dataclass
class Clock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class CountingBlynk:
    """Stands where BlynkDevice does; records what would be published, and when."""

    clock: Clock
    connected: bool = True
    sent: list[tuple[float, str]] = field(default_factory=list)

    def write_datastream(
        self, name: str, value: str, *, on_ack: Callable[[], None] | None = None
    ) -> bool:
        self.sent.append((self.clock.now, f"ds/{name}"))
        if on_ack is not None:
            on_ack()
        return True

    def set_property(self, name: str, prop: str, value: str) -> bool:
        self.sent.append((self.clock.now, f"ds/{name}/prop/{prop}"))
        return True

    def request_datastreams(self, names: list[str]) -> bool:
        self.sent.append((self.clock.now, "get/ds"))
        return True

    def between(self, start: float, end: float, topic: str | None = None) -> int:
        return sum(1 for at, sent in self.sent if start <= at < end and topic in (None, sent))


@dataclass
class Run:
    clock: Clock
    blynk: CountingBlynk
    controller: HeaterController
    changes: list[float]

    def seconds(self, count: int) -> None:
        for _ in range(count):
            self.clock.now += 1.0
            self.controller.tick()


def start(seed: int, power: str = "1", set_point: str = "22") -> Run:
    clock = Clock()
    changes: list[float] = []
    controller = HeaterController(
        SimulatedHeater(rand=random.Random(seed).uniform),
        clock,
        lambda: changes.append(clock.now),
    )
    blynk = CountingBlynk(clock)
    controller.attach(blynk)
    controller.connected()
    controller.datastream_changed(POWER, power)  # Blynk answers get/ds.
    controller.datastream_changed(SET_TEMPERATURE, set_point)
    run = Run(clock, blynk, controller, changes)
    run.seconds(1)
    return run


@pytest.mark.parametrize("seed", range(6))
def test_steady_state_publishes_at_most_40_messages_an_hour(seed: int) -> None:
    run = start(seed)
    run.seconds(HOUR)  # Warm up from 15 °C to the set point and settle.
    assert abs(run.controller.state.current - 22) < 0.5  # type: ignore[operator]

    begin = run.clock.now
    run.seconds(HOUR)
    sent = run.blynk.between(begin, run.clock.now)
    assert sent <= 40
    # It still reports: the app's gauge is not frozen.
    assert run.blynk.between(begin, run.clock.now, f"ds/{CURRENT_TEMPERATURE}") >= 10


@pytest.mark.parametrize("seed", range(3))
def test_power_off_and_cooling_down_stays_within_the_quota(seed: int) -> None:
    run = start(seed)
    run.seconds(HOUR)
    run.controller.datastream_changed(POWER, "0")  # Switched off in the app.
    begin = run.clock.now
    run.seconds(HOUR)
    # Falling 12 °C in minutes: each 1 °C step goes out at once, at most every 10 s.
    assert run.blynk.between(begin, run.clock.now) <= 60
    assert run.blynk.between(begin, begin + 60, f"ds/{CURRENT_TEMPERATURE}") <= 7
    times = [at for at, topic in run.blynk.sent if topic == f"ds/{CURRENT_TEMPERATURE}"]
    assert all(later - earlier >= 10 for earlier, later in itertools.pairwise(times))


def test_the_seed_demo_would_have_spent_10800_messages_an_hour() -> None:
    """The yardstick: the original demo publishes three values every second."""
    assert 3 * HOUR == 10_800
    run = start(0)
    run.seconds(2 * HOUR)
    assert run.blynk.between(run.clock.now - HOUR, run.clock.now) < 10_800 / 100


@pytest.mark.parametrize("seed", range(3))
def test_home_assistant_sees_the_temperature_twice_a_minute_in_steady_state(seed: int) -> None:
    run = start(seed)
    run.seconds(HOUR)
    begin = run.clock.now
    run.changes.clear()
    run.seconds(HOUR)
    # Not once a second (3600 recorder rows an hour), yet a live thermometer.
    assert 60 <= len(run.changes) <= 130
    assert run.changes[0] - begin <= 60


def test_home_assistant_sees_status_changes_at_once() -> None:
    run = start(0)
    run.seconds(HOUR)
    run.changes.clear()
    run.controller.datastream_changed(SET_TEMPERATURE, "30")  # From the app.
    # 8 °C below the new set point: heating, shown the moment the app's write arrives.
    assert run.changes == [run.clock.now]
    assert run.controller.state.status is Status.HEATING

    run.changes.clear()
    run.seconds(60)
    # Climbing fast: each 1 °C step shows at once, far more often than twice a minute.
    assert len(run.changes) >= 5


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


def test_home_assistant_hears_at_once_when_the_thermometer_goes_and_comes_back() -> None:
    clock = Clock()
    changes: list[float] = []
    thermometer = Thermometer()
    controller = HeaterController(thermometer, clock, lambda: changes.append(clock.now))
    controller.attach(CountingBlynk(clock))
    controller.datastream_changed(POWER, "1")
    controller.tick()
    changes.clear()

    thermometer.reading = None  # Unavailable.
    clock.now += 1
    controller.tick()
    clock.now += 1
    controller.tick()
    assert changes == [clock.now - 1]  # Once, not every second.
    assert controller.state.current is None

    thermometer.reading = 20.0  # Back, with the value it had.
    clock.now += 1
    controller.tick()
    assert changes[-1] == clock.now
    assert controller.state.current == 20.0
