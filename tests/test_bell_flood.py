"""A flood on the bell topic (3,000 messages in a second) against a real Mosquitto.

A stranger on a public broker can publish as fast as the broker lets them. Measured
here, and printed by `scripts/bench-flood`: how long the flood took to arrive, the worst
lag of Home Assistant's event loop meanwhile, how many states the bell's entities wrote,
and how many warnings were logged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
import json
import logging
import time
from typing import Any

from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.blynk_bell.const import CONF_BELL_KEY

from .conftest import TOPIC
from .helpers import wait_for
from .mosquitto import Mosquitto, _find

KEY = "2d" * 32
FLOOD = 3000


@dataclass
class FloodFigures:
    messages: int
    seconds: float
    worst_lag_ms: float
    state_writes: int
    warnings: int
    rejected: int

    def __str__(self) -> str:
        return (
            f"{self.messages} messages in {self.seconds:.2f} s: worst event loop lag "
            f"{self.worst_lag_ms:.1f} ms, {self.state_writes} state writes, "
            f"{self.warnings} warnings, {self.rejected} rejected"
        )


async def flood(hass: HomeAssistant, mosquitto: Mosquitto, lines: list[bytes]) -> float:
    """Publish every line as one QoS 0 message through one `mosquitto_pub -l`."""
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        _find("mosquitto_pub"),
        *("-h", mosquitto.host, "-p", str(mosquitto.port), "-t", TOPIC, "-q", "0", "-l"),
        stdin=asyncio.subprocess.PIPE,
    )
    await process.communicate(b"\n".join(lines) + b"\n")
    assert process.returncode == 0
    return time.monotonic() - started


async def measure_flood(
    hass: HomeAssistant,
    mosquitto: Mosquitto,
    entry: MockConfigEntry,
    lines: list[bytes],
    caplog: pytest.LogCaptureFixture,
) -> FloodFigures:
    """Flood the bell topic and measure what it did to Home Assistant."""
    bell = entry.runtime_data.bell
    writes = 0
    worst_lag = 0.0

    @callback
    def count(event: Event[EventStateChangedData]) -> None:
        nonlocal writes
        if event.data["entity_id"].startswith(("event.service_bell", "binary_sensor.service_bell")):
            writes += 1

    async def probe_lag() -> None:
        nonlocal worst_lag
        while True:
            before = time.monotonic()
            await asyncio.sleep(0.01)
            worst_lag = max(worst_lag, time.monotonic() - before - 0.01)

    unsubscribe = hass.bus.async_listen("state_changed", count)
    probe = asyncio.create_task(probe_lag())
    caplog.clear()
    rejected_before = bell.gate.rejected.total()
    accepted_before = bell.gate.accepted
    seconds = await flood(hass, mosquitto, lines)
    await wait_for(
        hass,
        lambda: (
            (bell.gate.rejected.total() - rejected_before + bell.gate.accepted - accepted_before)
            >= len(lines)
        ),
        timeout=30,
    )
    await asyncio.sleep(1)  # Let paced presses, if any, write what they would.
    probe.cancel()
    unsubscribe()
    warnings = [
        record
        for record in caplog.records
        if record.levelno >= logging.WARNING and record.name.startswith("custom_components")
    ]
    return FloodFigures(
        messages=len(lines),
        seconds=seconds,
        worst_lag_ms=worst_lag * 1000,
        state_writes=writes,
        warnings=len(warnings),
        rejected=bell.gate.rejected.total() - rejected_before,
    )


def strangers_messages(count: int) -> list[bytes]:
    """Unsigned presses and presses signed with the wrong key, as a stranger would send."""
    lines = []
    for index in range(count):
        button = index % 4 + 1
        if index % 2:
            lines.append(f"button {button} is pressed".encode())
        else:
            press = {"button": button, "event": "press", "boot": 1, "seq": index + 1}
            lines.append(json.dumps({**press, "age_ms": 0, "sig": "ab" * 32}).encode())
    return lines


@pytest.fixture
async def keyed_entry(
    hass: HomeAssistant, bell_data: dict[str, Any], make_entry: Callable[..., MockConfigEntry]
) -> MockConfigEntry:
    entry = make_entry({**bell_data, CONF_BELL_KEY: KEY})
    assert await hass.config_entries.async_setup(entry.entry_id)
    await wait_for(hass, lambda: entry.runtime_data.bell.available)
    return entry


# A stall a user would notice: the figures printed above are the measurement, this only
# catches a flood that blocks the loop (a shared, busy machine adds its own delays).
MAX_LAG_MS = 500


async def test_a_flood_of_strangers_messages_changes_nothing_on_a_keyed_bell(
    hass: HomeAssistant,
    mosquitto: Mosquitto,
    keyed_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    figures = await measure_flood(hass, mosquitto, keyed_entry, strangers_messages(FLOOD), caplog)
    print(f"\nflood, keyed bell, strangers' messages: {figures}")  # noqa: T201
    assert figures.rejected == FLOOD
    assert figures.state_writes == 0
    assert figures.warnings <= 1
    assert figures.worst_lag_ms < MAX_LAG_MS
    assert not any(keyed_entry.runtime_data.bell.calling(table) for table in range(1, 5))


async def test_a_flood_of_presses_on_an_unkeyed_bell_writes_a_few_states_a_second(
    hass: HomeAssistant,
    mosquitto: Mosquitto,
    bell_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    lines = [b"button 1 is pressed"] * FLOOD
    figures = await measure_flood(hass, mosquitto, bell_entry, lines, caplog)
    print(f"\nflood, unkeyed bell, 'button 1 is pressed': {figures}")  # noqa: T201
    # One call, and a few events a second at most (bounces merged, the rest paced).
    seconds = figures.seconds + 1
    assert figures.state_writes <= 1 + 4 * seconds
    assert figures.warnings <= 1
    assert figures.worst_lag_ms < MAX_LAG_MS
