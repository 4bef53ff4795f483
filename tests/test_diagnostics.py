"""Diagnostics: useful state for a bug report, never a secret."""

from __future__ import annotations

from collections.abc import Callable
import json
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from blynk_emulator import BlynkCloud
from custom_components.blynk_bell.const import CONF_PASSWORD, CONF_TOKEN, CONF_USERNAME

from .conftest import TOKEN, TOPIC
from .helpers import wait_for
from .mosquitto import Mosquitto

PASSWORD = "broker-s3cret"


async def test_diagnostics_show_state_but_no_secrets(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    heater_data: dict[str, Any],
    cloud: BlynkCloud,
    make_entry: Callable[..., MockConfigEntry],
) -> None:
    assert await async_setup_component(hass, "diagnostics", {})
    # The test broker allows anonymous clients, so a login is accepted but unused.
    entry = make_entry({**heater_data, CONF_USERNAME: "waiter", CONF_PASSWORD: PASSWORD})
    assert await hass.config_entries.async_setup(entry.entry_id)
    heater = entry.runtime_data.heater
    assert heater is not None
    await wait_for(hass, lambda: heater.available and heater.controller.target == 25)

    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)

    text = json.dumps(diagnostics)
    assert TOKEN not in text
    assert PASSWORD not in text
    assert "waiter" not in text
    assert diagnostics["entry"]["data"][CONF_TOKEN] == "**REDACTED**"
    assert diagnostics["entry"]["data"]["topic"] == TOPIC
    assert diagnostics["bell"]["link"]["connected"] is True
    assert diagnostics["bell"]["tables"] == 4
    assert diagnostics["heater"]["link"]["current_endpoint"] == cloud.url
    assert diagnostics["heater"]["power"] is True
    assert diagnostics["heater"]["target"] == 25
    assert diagnostics["heater"]["model"] == "SimulatedHeater"
    await hass.config_entries.async_unload(entry.entry_id)


async def test_diagnostics_of_a_bell_without_heater(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    bell_entry: MockConfigEntry,
    mosquitto: Mosquitto,
) -> None:
    assert await async_setup_component(hass, "diagnostics", {})
    await mosquitto.publish(TOPIC, "button 2 is pressed")
    await wait_for(hass, lambda: bell_entry.runtime_data.bell.calling(2))
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, bell_entry)
    assert diagnostics["heater"] is None
    assert list(diagnostics["bell"]["calling"]) == ["2"]  # JSON keys are text.
    assert diagnostics["bell"]["bell_online"] is None
