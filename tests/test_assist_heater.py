"""Voice questions and commands about the heater, asked through Assist as a new user would.

Each test asks with `conversation.async_converse` (the path every voice satellite and the
Assist dialog take) and checks the spoken answer and what reached Blynk.
"""

from __future__ import annotations

import logging

from homeassistant.components import conversation
from homeassistant.components.homeassistant.exposed_entities import async_expose_entity
from homeassistant.const import ATTR_TEMPERATURE
from homeassistant.core import Context, HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component
from homeassistant.util.unit_system import US_CUSTOMARY_SYSTEM
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from blynk_emulator import Device

from .conftest import CLIMATE, attribute
from .helpers import state_of, wait_for


@pytest.fixture(autouse=True)
async def assist(hass: HomeAssistant) -> None:
    """Assist as Home Assistant runs it: loaded before the integration's entities exist."""
    for component in ("homeassistant", "conversation", "intent"):
        assert await async_setup_component(hass, component, {})
    await hass.async_block_till_done()


async def ask(hass: HomeAssistant, text: str) -> str:
    """Say `text` to Assist and return its spoken answer."""
    result = await conversation.async_converse(hass, text, None, Context(), language="en")
    await hass.async_block_till_done()
    speech: str = result.response.speech["plain"]["speech"]
    return speech


def errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


# Set points out of range ------------------------------------------------------------


@pytest.mark.parametrize(
    "sentence",
    [
        "set the heater to 45 degrees",
        "set the Blynk heater to 45",
        "set the temperature of the heater to 5 degrees",
        "change the heater to -3 degrees",
        "set the temperature to 45 degrees",  # The only thermostat: no name needed.
    ],
)
async def test_a_set_point_out_of_range_is_answered_with_the_range(
    hass: HomeAssistant,
    heater_entry: MockConfigEntry,
    device: Device,
    caplog: pytest.LogCaptureFixture,
    sentence: str,
) -> None:
    answer = await ask(hass, sentence)
    assert answer.endswith("heater can be set from 10 to 30 degrees; it stays at 25 degrees")
    assert attribute(hass, ATTR_TEMPERATURE) == 25
    assert device.value("Set Temperature") == "25"
    assert errors(caplog) == []


async def test_set_points_in_range_still_go_to_blynk(
    hass: HomeAssistant, heater_entry: MockConfigEntry, device: Device
) -> None:
    assert await ask(hass, "set the heater to 30 degrees") == "Temperature set to 30 degrees"
    await device.wait_for(lambda d: d.value("Set Temperature") == "30")
    assert await ask(hass, "set the heater to 10") == "Temperature set to 10 degrees"
    await device.wait_for(lambda d: d.value("Set Temperature") == "10")
    assert await ask(hass, "set the heater to 21.5 degrees") == "Temperature set to 21.5 degrees"
    await device.wait_for(lambda d: d.value("Set Temperature") == "21.5")


async def test_fahrenheit_homes_hear_the_range_in_fahrenheit(
    hass: HomeAssistant, heater_entry: MockConfigEntry, device: Device
) -> None:
    hass.config.units = US_CUSTOMARY_SYSTEM
    await hass.config_entries.async_reload(heater_entry.entry_id)
    await wait_for(hass, lambda: attribute(hass, ATTR_TEMPERATURE) == 77)
    assert await ask(hass, "what is the heater set to") == "The heater is set to 77 degrees"
    assert await ask(hass, "set the heater to 95 degrees") == (
        "The heater can be set from 50 to 86 degrees; it stays at 77 degrees"
    )
    assert await ask(hass, "set the heater to 68 degrees") == "Temperature set to 68 degrees"
    await device.wait_for(lambda d: d.value("Set Temperature") == "20")


async def test_what_is_not_a_temperature_is_answered_too(
    hass: HomeAssistant,
    heater_entry: MockConfigEntry,
    device: Device,
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert await ask(hass, "set the heater to cosy") == "Say a temperature from 10 to 30 degrees"
    assert await ask(hass, "set the heater to off") == "Turned the heater off"
    await device.wait_for(lambda d: d.value("Power") == "0")
    assert errors(caplog) == []


# Questions --------------------------------------------------------------------------


async def test_is_the_heater_on(
    hass: HomeAssistant, heater_entry: MockConfigEntry, device: Device
) -> None:
    assert await ask(hass, "is the heater on") == "Yes, the heater is on"
    assert await ask(hass, "is the heater off") == "No, the heater is on"
    assert await ask(hass, "is the Blynk heater running") == "Yes, the blynk heater is on"
    await device.write("Power", "0")
    await wait_for(hass, lambda: state_of(hass, CLIMATE) == "off")
    assert await ask(hass, "is the heater on") == "No, the heater is off"
    assert await ask(hass, "is the heater off") == "Yes, the heater is off"


async def test_is_the_heater_heating(hass: HomeAssistant, heater_entry: MockConfigEntry) -> None:
    # The simulation starts at 15 °C, ten below the set point.
    await wait_for(hass, lambda: attribute(hass, "hvac_action") == "heating")
    assert await ask(hass, "is the heater heating") == "Yes, the heater is heating"


@pytest.mark.parametrize(
    "question",
    [
        "what is the heater set to",
        "what's the heater set to",
        "what temperature is the heater set to",
        "what is the target temperature of the heater",
        "what is the heater set point",
    ],
)
async def test_what_is_the_heater_set_to(
    hass: HomeAssistant, heater_entry: MockConfigEntry, question: str
) -> None:
    assert await ask(hass, question) == "The heater is set to 25 degrees"


async def test_what_is_a_heater_that_is_off_set_to(
    hass: HomeAssistant, heater_entry: MockConfigEntry, device: Device
) -> None:
    await device.write("Power", "0")
    await wait_for(hass, lambda: state_of(hass, CLIMATE) == "off")
    assert await ask(hass, "what is the heater set to") == (
        "The heater is off; it is set to 25 degrees"
    )


# On and off -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sentence", "answer", "power"),
    [
        ("turn the heater off", "Turned off the thermostat", "0"),
        ("turn the heater on", "Turned on the thermostat", "1"),
        ("turn off the heater", "Turned off the thermostat", "0"),
        ("switch on the heater", "Turned on the thermostat", "1"),
    ],
)
async def test_turn_the_heater_on_and_off(
    hass: HomeAssistant,
    heater_entry: MockConfigEntry,
    device: Device,
    sentence: str,
    answer: str,
    power: str,
) -> None:
    if power == "1":
        await device.write("Power", "0")
        await wait_for(hass, lambda: state_of(hass, CLIMATE) == "off")
    assert await ask(hass, sentence) == answer
    await device.wait_for(lambda d: d.value("Power") == power)
    assert state_of(hass, CLIMATE) == ("off" if power == "0" else "heat")


# Names, aliases, exposure -----------------------------------------------------------


async def test_a_new_alias_is_understood_at_once(
    hass: HomeAssistant, heater_entry: MockConfigEntry
) -> None:
    er.async_get(hass).async_update_entity(CLIMATE, aliases={"Heater", "radiator"})
    await hass.async_block_till_done()
    assert await ask(hass, "is the radiator on") == "Yes, the radiator is on"
    assert await ask(hass, "set the radiator to 50") == (
        "The radiator can be set from 10 to 30 degrees; it stays at 25 degrees"
    )


async def test_a_heater_hidden_from_assist_is_not_answered_for(
    hass: HomeAssistant, heater_entry: MockConfigEntry
) -> None:
    async_expose_entity(hass, "conversation", CLIMATE, False)
    await hass.async_block_till_done()
    assert "heater is" not in await ask(hass, "is the heater on")


async def test_with_another_thermostat_the_nameless_sentence_is_left_to_assist(
    hass: HomeAssistant, heater_entry: MockConfigEntry, device: Device
) -> None:
    hass.states.async_set(
        "climate.kitchen",
        "heat",
        {"friendly_name": "Kitchen", "temperature": 20, "min_temp": 7, "max_temp": 35},
    )
    await hass.async_block_till_done()
    assert "can be set from" not in await ask(hass, "set the temperature to 45 degrees")
    # Named, the heater is still ours to answer for.
    assert await ask(hass, "set the heater to 45 degrees") == (
        "The heater can be set from 10 to 30 degrees; it stays at 25 degrees"
    )


async def test_the_answers_go_with_the_integration(
    hass: HomeAssistant, heater_entry: MockConfigEntry
) -> None:
    assert await hass.config_entries.async_unload(heater_entry.entry_id)
    await hass.async_block_till_done()
    assert await ask(hass, "is the heater on") != "Yes, the heater is on"
