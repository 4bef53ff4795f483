"""Voice control through Assist, Home Assistant's built-in conversation agent, in English.

The sentences are the ones home-assistant-intents accepts; each test asks as a user would
(`conversation.async_converse`, the path every voice satellite and the Assist dialog take)
and checks the spoken answer and what reached Blynk or the entity.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from homeassistant.components import conversation
from homeassistant.components.homeassistant.const import DATA_EXPOSED_ENTITIES
from homeassistant.components.homeassistant.exposed_entities import (
    async_expose_entity,
    async_should_expose,
)
from homeassistant.const import ATTR_TEMPERATURE, STATE_OFF, STATE_ON
from homeassistant.core import Context, HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from blynk_emulator import Device
from custom_components.blynk_bell.const import CONF_BUTTONS

from .conftest import CLIMATE, TOPIC, attribute
from .helpers import state_of, wait_for
from .mosquitto import Mosquitto

ASSIST = "conversation"
CALLING = "binary_sensor.service_bell_table_{}_calling"
TABLES = range(1, 5)


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


def exposed(hass: HomeAssistant, entity_id: str) -> bool:
    return async_should_expose(hass, ASSIST, entity_id)


# Exposure -------------------------------------------------------------------------------


async def test_heater_and_calling_sensors_are_exposed_by_default(
    hass: HomeAssistant, heater_entry: MockConfigEntry
) -> None:
    registry = er.async_get(hass)
    ours = er.async_entries_for_config_entry(registry, heater_entry.entry_id)
    wanted = {CLIMATE, *(CALLING.format(table) for table in TABLES)}
    # "Bell active" is a switch: Home Assistant exposes switches by its own defaults.
    assert {entity.entity_id for entity in ours if exposed(hass, entity.entity_id)} == {
        *wanted,
        "switch.service_bell_bell_active",
    }
    # The choice is stored in the entity registry, so it survives a restart ...
    for entity_id in wanted:
        entity = registry.async_get(entity_id)
        assert entity is not None
        assert entity.options[ASSIST] == {"should_expose": True}
    # ... and a reload, which registers nothing new, changes nothing.
    await hass.config_entries.async_reload(heater_entry.entry_id)
    await hass.async_block_till_done()
    assert all(exposed(hass, entity_id) for entity_id in wanted)


async def test_a_table_the_user_hid_from_assist_stays_hidden(
    hass: HomeAssistant, bell_entry: MockConfigEntry
) -> None:
    # Settings > Voice assistants > Expose: the user takes table 2 away from Assist.
    async_expose_entity(hass, ASSIST, CALLING.format(2), False)
    await hass.config_entries.async_reload(bell_entry.entry_id)
    await hass.async_block_till_done()
    assert not exposed(hass, CALLING.format(2))
    assert exposed(hass, CALLING.format(1))
    # Assist no longer tells table 2's state (it hears another question instead).
    assert "table 2 calling is" not in await ask(hass, "what is service bell table 2 calling")
    assert await ask(hass, "what is service bell table 1 calling") == (
        "Service bell table 1 calling is off"
    )


async def test_a_table_removed_and_added_back_keeps_the_users_choice(
    hass: HomeAssistant, bell_entry: MockConfigEntry
) -> None:
    async_expose_entity(hass, ASSIST, CALLING.format(4), False)
    for tables in (2, 4):  # Options: fewer tables, then as many as before.
        hass.config_entries.async_update_entry(bell_entry, options={CONF_BUTTONS: tables})
        await hass.config_entries.async_reload(bell_entry.entry_id)
        await hass.async_block_till_done()
    assert state_of(hass, CALLING.format(4)) == STATE_OFF
    assert not exposed(hass, CALLING.format(4))
    assert exposed(hass, CALLING.format(3))


async def test_nothing_is_exposed_when_the_user_exposes_no_new_entities(
    hass: HomeAssistant, bell_data: dict[str, Any], make_entry: Callable[..., MockConfigEntry]
) -> None:
    # Settings > Voice assistants > Expose > "Expose new entities" off.
    hass.data[DATA_EXPOSED_ENTITIES].async_set_expose_new_entities(ASSIST, False)
    entry = make_entry(bell_data)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await wait_for(hass, lambda: entry.runtime_data.bell.available)
    assert not any(exposed(hass, CALLING.format(table)) for table in TABLES)
    await hass.config_entries.async_unload(entry.entry_id)


# The heater -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sentence", "value", "answer"),
    [
        ("set the Blynk heater to 22 degrees", "22", "Temperature set to 22 degrees"),
        ("set blynk heater to 22", "22", "Temperature set to 22 degrees"),
        (
            "set the temperature of the Blynk heater to 21.5 degrees",
            "21.5",
            "Temperature set to 21.5 degrees",
        ),
        ("change the Blynk heater to 19 degrees", "19", "Temperature set to 19 degrees"),
        # With no other thermostat in the home, the heater needs no name.
        ("set the temperature to 23 degrees", "23", "Temperature set to 23 degrees"),
    ],
)
async def test_set_the_heater_temperature(
    hass: HomeAssistant,
    heater_entry: MockConfigEntry,
    device: Device,
    sentence: str,
    value: str,
    answer: str,
) -> None:
    assert await ask(hass, sentence) == answer
    assert attribute(hass, ATTR_TEMPERATURE) == float(value)
    await device.wait_for(lambda d: d.value("Set Temperature") in (value, f"{value}.0"))


async def test_turn_the_heater_off_and_on(
    hass: HomeAssistant, heater_entry: MockConfigEntry, device: Device
) -> None:
    assert await ask(hass, "turn off the Blynk heater") == "Turned off the thermostat"
    assert state_of(hass, CLIMATE) == "off"
    await device.wait_for(lambda d: d.value("Power") == "0")

    assert await ask(hass, "turn on the Blynk heater") == "Turned on the thermostat"
    assert state_of(hass, CLIMATE) == "heat"
    await device.wait_for(lambda d: d.value("Power") == "1")

    assert await ask(hass, "switch off the Blynk heater") == "Turned off the thermostat"
    await device.wait_for(lambda d: d.value("Power") == "0")


@pytest.mark.parametrize(
    "sentence",
    [
        "what is the Blynk heater temperature",
        "what's the temperature of the Blynk heater",
        "what is the current temperature of the Blynk heater",
        "how warm is the Blynk heater",
    ],
)
async def test_ask_the_heater_temperature(
    hass: HomeAssistant, heater_entry: MockConfigEntry, sentence: str
) -> None:
    await wait_for(hass, lambda: attribute(hass, "current_temperature") is not None)
    before = attribute(hass, "current_temperature")
    answer = await ask(hass, sentence)
    after = attribute(hass, "current_temperature")  # The simulation moves every second.
    assert answer in (f"{before} degrees", f"{after} degrees")


@pytest.mark.parametrize(
    ("sentence", "answer", "effect"),
    [
        (
            "set the heater to 22 degrees",
            "Temperature set to 22 degrees",
            ("Set Temperature", "22"),
        ),
        (
            "change the heater to 19 degrees",
            "Temperature set to 19 degrees",
            ("Set Temperature", "19"),
        ),
        ("turn off the heater", "Turned off the thermostat", ("Power", "0")),
    ],
)
async def test_the_heater_answers_to_its_short_name(
    hass: HomeAssistant,
    heater_entry: MockConfigEntry,
    device: Device,
    sentence: str,
    answer: str,
    effect: tuple[str, str],
) -> None:
    assert await ask(hass, sentence) == answer
    name, value = effect
    await device.wait_for(lambda d: d.value(name) == value)


async def test_what_is_the_heater_temperature(
    hass: HomeAssistant, heater_entry: MockConfigEntry
) -> None:
    await wait_for(hass, lambda: attribute(hass, "current_temperature") is not None)
    before = attribute(hass, "current_temperature")
    for question in ("what is the heater temperature", "how warm is the heater"):
        answer = await ask(hass, question)
        now = attribute(hass, "current_temperature")
        assert answer in (f"{before} degrees", f"{now} degrees")
        before = now


async def test_the_heater_alias_is_the_users_to_remove(
    hass: HomeAssistant, heater_entry: MockConfigEntry
) -> None:
    registry = er.async_get(hass)
    entity = registry.async_get(CLIMATE)
    assert entity is not None
    assert entity.aliases == {"Heater"}
    # Entity settings > Voice assistants > Aliases: the user removes it.
    registry.async_update_entity(CLIMATE, aliases=set())
    await hass.config_entries.async_reload(heater_entry.entry_id)
    await hass.async_block_till_done()
    entity = registry.async_get(CLIMATE)
    assert entity is not None
    assert entity.aliases == set()  # Not put back.
    await wait_for(hass, lambda: state_of(hass, CLIMATE) == "heat")  # Reconnected.
    assert await ask(hass, "turn off the heater") == (
        "Sorry, I am not aware of any device called heater"
    )
    assert state_of(hass, CLIMATE) == "heat"


# The tables -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "question",
    [
        "what is service bell table {} calling",
        "what's the state of service bell table {} calling",
        "tell me the state of Service bell Table {} calling",
    ],
)
async def test_ask_whether_a_table_is_calling(
    hass: HomeAssistant, mosquitto: Mosquitto, bell_entry: MockConfigEntry, question: str
) -> None:
    await mosquitto.publish(TOPIC, "button 3 is pressed")
    await wait_for(hass, lambda: state_of(hass, CALLING.format(3)) == STATE_ON)

    assert await ask(hass, question.format(3)) == "Service bell table 3 calling is on"
    assert await ask(hass, question.format(2)) == "Service bell table 2 calling is off"


@pytest.mark.parametrize(
    "question",
    [
        "is table {} calling",
        "Is table {} calling?",
        "is table {} waiting",
        "does table {} need a waiter",
    ],
)
async def test_is_table_calling_is_answered_yes_or_no(
    hass: HomeAssistant, mosquitto: Mosquitto, bell_entry: MockConfigEntry, question: str
) -> None:
    await mosquitto.publish(TOPIC, "button 3 is pressed")
    await wait_for(hass, lambda: state_of(hass, CALLING.format(3)) == STATE_ON)

    assert await ask(hass, question.format(3)) == "Yes, table 3 is calling"
    assert await ask(hass, question.format(2)) == "No, table 2 is not calling"


async def test_table_numbers_may_be_spelled_out(
    hass: HomeAssistant, mosquitto: Mosquitto, bell_entry: MockConfigEntry
) -> None:
    await mosquitto.publish(TOPIC, "button 4 is pressed")
    await wait_for(hass, lambda: state_of(hass, CALLING.format(4)) == STATE_ON)
    assert await ask(hass, "is table four calling") == "Yes, table 4 is calling"
    assert await ask(hass, "is table number 1 calling") == "No, table 1 is not calling"
    assert await ask(hass, "is table 9 calling") == "I cannot see table 9"
    assert await ask(hass, "is table window calling") == "I don't know a table window"


async def test_how_long_a_table_has_been_calling(
    hass: HomeAssistant, mosquitto: Mosquitto, bell_entry: MockConfigEntry
) -> None:
    # The firmware dates the press: it happened two minutes and a bit ago.
    await mosquitto.publish(TOPIC, '{"button": 2, "event": "press", "age_ms": 130000}')
    await wait_for(hass, lambda: state_of(hass, CALLING.format(2)) == STATE_ON)
    assert await ask(hass, "is table 2 calling") == "Yes, table 2 has been calling for 2 minutes"


async def test_which_tables_are_calling(
    hass: HomeAssistant, mosquitto: Mosquitto, bell_entry: MockConfigEntry
) -> None:
    assert await ask(hass, "which tables are calling") == "No table is calling"
    await mosquitto.publish(TOPIC, "button 3 is pressed")
    await wait_for(hass, lambda: state_of(hass, CALLING.format(3)) == STATE_ON)
    assert await ask(hass, "is anyone calling") == "Table 3 is calling"
    for table in (1, 4):
        await mosquitto.publish(TOPIC, f"button {table} is pressed")
    await wait_for(hass, lambda: state_of(hass, CALLING.format(4)) == STATE_ON)
    await wait_for(hass, lambda: state_of(hass, CALLING.format(1)) == STATE_ON)
    assert await ask(hass, "which tables are calling") == "Tables 1, 3 and 4 are calling"


async def test_a_table_hidden_from_assist_is_not_told(
    hass: HomeAssistant, mosquitto: Mosquitto, bell_entry: MockConfigEntry
) -> None:
    await mosquitto.publish(TOPIC, "button 3 is pressed")
    await wait_for(hass, lambda: state_of(hass, CALLING.format(3)) == STATE_ON)
    async_expose_entity(hass, ASSIST, CALLING.format(3), False)
    assert await ask(hass, "is table 3 calling") == "I cannot see table 3"
    assert await ask(hass, "which tables are calling") == "No table is calling"


async def test_an_offline_bell_is_not_guessed(
    hass: HomeAssistant, mosquitto: Mosquitto, bell_entry: MockConfigEntry
) -> None:
    await mosquitto.stop()
    await wait_for(hass, lambda: not bell_entry.runtime_data.bell.available)
    # Calls live in Home Assistant: the answer stands, with why it may be out of date.
    assert await ask(hass, "is table 3 calling") == (
        "No, table 3 is not calling, but Service bell is out of reach: new calls cannot arrive"
    )
    assert await ask(hass, "which tables are calling") == (
        "No table is calling, but Service bell is out of reach: new calls cannot arrive"
    )


async def test_table_questions_go_with_the_integration(
    hass: HomeAssistant, bell_entry: MockConfigEntry
) -> None:
    assert await ask(hass, "is table 1 calling") == "No, table 1 is not calling"
    await hass.config_entries.async_unload(bell_entry.entry_id)
    await hass.async_block_till_done()
    assert "table 1" not in await ask(hass, "is table 1 calling")
