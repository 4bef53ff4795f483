"""Fixtures: a real Mosquitto per test, the Blynk cloud emulator, and the integration."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import ATTR_TEMPERATURE, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from blynk_emulator import BlynkCloud, Device
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

from .helpers import state_of, wait_for
from .mosquitto import Mosquitto

TOPIC = "SunFounder MQTT Test"
TOKEN = "heater-token-7f3a"
CLIMATE = "climate.blynk_heater"


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


# The Blynk heater ---------------------------------------------------------------------


@pytest.fixture
async def cloud(socket_enabled: None) -> AsyncIterator[BlynkCloud]:
    cloud = BlynkCloud()
    await cloud.start()
    cloud.add_device(TOKEN, {"Power": "1", "Set Temperature": "25"})
    yield cloud
    await cloud.stop()


@pytest.fixture
def device(cloud: BlynkCloud) -> Device:
    return cloud.device(TOKEN)


@pytest.fixture
def heater_data(bell_data: dict[str, Any], cloud: BlynkCloud) -> dict[str, Any]:
    return {**bell_data, CONF_TOKEN: TOKEN, CONF_BLYNK_SERVER: cloud.url}


async def set_up(
    hass: HomeAssistant, entry: MockConfigEntry, *, wait_available: bool = True
) -> MockConfigEntry:
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    if wait_available:
        await wait_for(hass, lambda: state_of(hass, CLIMATE) != STATE_UNAVAILABLE)
    return entry


@pytest.fixture
async def heater_entry(
    hass: HomeAssistant, heater_data: dict[str, Any], make_entry: Callable[..., MockConfigEntry]
) -> AsyncIterator[MockConfigEntry]:
    """The bell and the heater, connected to the emulator and showing its set point of 25."""
    entry = await set_up(hass, make_entry(heater_data))
    await wait_for(hass, lambda: attribute(hass, ATTR_TEMPERATURE) == 25)
    yield entry
    await hass.config_entries.async_unload(entry.entry_id)


def attribute(hass: HomeAssistant, name: str) -> Any:
    """Return an attribute of the heater's climate entity, None while it has none."""
    state = hass.states.get(CLIMATE)
    return None if state is None else state.attributes.get(name)
