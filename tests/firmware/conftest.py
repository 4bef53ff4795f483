"""Make the firmware importable on CPython (as the host runner does); bell fixtures."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
import sys
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.blynk_bell.const import CONF_BELL_KEY

from ..helpers import wait_for
from ..mosquitto import Mosquitto

FIRMWARE = Path(__file__).resolve().parents[2] / "firmware"
if str(FIRMWARE) not in sys.path:
    sys.path.insert(0, str(FIRMWARE))

from pico_host.runner import HostBell  # noqa: E402

# A bell key, as the config flow would generate one.
KEY = "3f1c0e5a9b7d2c4e6f8a1b3c5d7e9f0a2b4c6d8e0f1a3b5c7d9e1f2a4b6c8d9a"

# Short timings so fault tests take seconds, not minutes.
FAST_SETTINGS = {
    "BACKOFF_MIN_S": 0.1,
    "BACKOFF_MAX_S": 0.5,
    "ACK_TIMEOUT_S": 1,
    "CONNECT_TIMEOUT_S": 2,
    "KEEPALIVE_S": 10,
}


@pytest.fixture
async def make_bell(mosquitto: Mosquitto) -> AsyncIterator[Callable[..., HostBell]]:
    """Create host-run bells against the test broker; all are stopped afterwards."""
    bells: list[HostBell] = []

    def make(**options: Any) -> HostBell:
        settings = {**FAST_SETTINGS, **options.pop("settings", {})}
        options.setdefault("broker", mosquitto.host)
        options.setdefault("port", mosquitto.port)
        options.setdefault("topic", "SunFounder MQTT Test")
        bell = HostBell(settings=settings, **options)
        bells.append(bell)
        return bell

    yield make
    for bell in bells:
        await bell.stop()


@pytest.fixture
async def keyed_entry(
    hass: HomeAssistant,
    bell_data: dict[str, Any],
    make_entry: Callable[..., MockConfigEntry],
) -> AsyncIterator[MockConfigEntry]:
    """The integration set up with `bell_key`: it acts only on presses signed with KEY."""
    entry = make_entry({**bell_data, CONF_BELL_KEY: KEY})
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    await wait_for(hass, lambda: entry.runtime_data.bell.available)
    yield entry
    if entry.state is ConfigEntryState.LOADED:
        await hass.config_entries.async_unload(entry.entry_id)
