"""Fixtures: a real Mosquitto per test and the integration configured against it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.blynk_bell.const import (
    CONF_BLYNK_SERVER,
    CONF_BROKER,
    CONF_PASSWORD,
    CONF_PORT,
    CONF_TLS,
    CONF_TOKEN,
    CONF_TOPIC,
    CONF_USERNAME,
    DEFAULT_BLYNK_SERVER,
    DOMAIN,
)

from .helpers import wait_for
from .mosquitto import Mosquitto

TOPIC = "SunFounder MQTT Test"


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load custom_components/blynk_bell."""


@pytest.fixture
async def mosquitto(socket_enabled: None, tmp_path: Path) -> AsyncIterator[Mosquitto]:
    """A real broker on a free loopback port (sockets stay limited to 127.0.0.1)."""
    broker = Mosquitto(tmp_path)
    await broker.start()
    yield broker
    await broker.stop()


@pytest.fixture
def bell_data(mosquitto: Mosquitto) -> dict[str, Any]:
    return {
        CONF_BROKER: mosquitto.host,
        CONF_PORT: mosquitto.port,
        CONF_USERNAME: "",
        CONF_PASSWORD: "",
        CONF_TLS: False,
        CONF_TOPIC: TOPIC,
        CONF_TOKEN: "",
        CONF_BLYNK_SERVER: DEFAULT_BLYNK_SERVER,
    }


@pytest.fixture
def make_entry(hass: HomeAssistant) -> Callable[..., MockConfigEntry]:
    def make(data: dict[str, Any], options: dict[str, Any] | None = None) -> MockConfigEntry:
        entry = MockConfigEntry(
            domain=DOMAIN,
            title=f"{data[CONF_TOPIC]} on {data[CONF_BROKER]}",
            data=data,
            options=options or {},
            unique_id=f"{data[CONF_BROKER]}:{data[CONF_PORT]}:{data[CONF_TOPIC]}",
        )
        entry.add_to_hass(hass)
        return entry

    return make


@pytest.fixture
async def bell_entry(
    hass: HomeAssistant,
    bell_data: dict[str, Any],
    make_entry: Callable[..., MockConfigEntry],
) -> AsyncIterator[MockConfigEntry]:
    """The integration set up against the test broker, with the default options."""
    entry = make_entry(bell_data)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    await wait_for(hass, lambda: entry.runtime_data.bell.available)
    yield entry
    # Unload before the broker stops, as a user would.
    if entry.state is ConfigEntryState.LOADED:
        await hass.config_entries.async_unload(entry.entry_id)
