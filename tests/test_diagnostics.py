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
from custom_components.blynk_bell.const import (
    CONF_BELL_KEY,
    CONF_PASSWORD,
    CONF_TOKEN,
    CONF_USERNAME,
)
from custom_components.blynk_bell.protocol.signing import key_bytes, press_text, sign

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


async def test_diagnostics_count_rejected_messages_and_hide_the_bell_key(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    bell_data: dict[str, Any],
    make_entry: Callable[..., MockConfigEntry],
    mosquitto: Mosquitto,
) -> None:
    assert await async_setup_component(hass, "diagnostics", {})
    key = "6f" * 32
    entry = make_entry({**bell_data, CONF_BELL_KEY: key})
    assert await hass.config_entries.async_setup(entry.entry_id)
    await wait_for(hass, lambda: entry.runtime_data.bell.available)
    text = press_text(TOPIC, button=1, event="press", boot=2, seq=1, age_ms=0)
    signed = json.dumps(
        {
            "button": 1,
            "event": "press",
            "boot": 2,
            "seq": 1,
            "age_ms": 0,
            "sig": sign(key_bytes(key), text),
        }
    )
    for payload in (
        "button 1 is pressed",  # unsigned
        signed.replace('"seq": 1', '"seq": 2'),  # bad signature
        '{"button": 1, "sig": "00", "boot": 1, "seq": 1, "age_ms": 1e20}',  # garbage
        '{"button": 99, "sig": "00", "boot": 1, "seq": 1, "event": "press", "age_ms": 0}',
        signed,
        signed,  # replay
    ):
        await mosquitto.publish(TOPIC, payload)
    await wait_for(hass, lambda: entry.runtime_data.bell.gate.rejected.total() == 5)

    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    assert key not in json.dumps(diagnostics)
    bell = diagnostics["bell"]
    assert bell["signed"] is True
    assert bell["accepted_presses"] == 1
    assert bell["last_accepted_press"] == [2, 1]
    assert bell["rejected"] == {
        **dict.fromkeys(bell["rejected"], 0),
        "unsigned": 1,
        "bad_signature": 1,
        "garbage": 1,
        "out_of_range": 1,
        "replay": 1,
    }
    await hass.config_entries.async_unload(entry.entry_id)
