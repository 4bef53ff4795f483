"""The bell on Home Assistant's own MQTT broker: core's MQTT integration, a real Mosquitto.

Home Assistant's MQTT integration is set up as a user would, against the test's
Mosquitto; the bell then has no connection of its own, and every press and every calls
feedback goes through Home Assistant's client.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
import json
from typing import Any
from unittest.mock import patch

from homeassistant.components import mqtt
from homeassistant.config_entries import SOURCE_USER, ConfigEntryState
from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant, callback
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
)
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.blynk_bell.const import (
    CONF_BELL_KEY,
    CONF_BLYNK_SERVER,
    CONF_BROKER,
    CONF_NAME,
    CONF_TOKEN,
    CONF_TOPIC,
    CONF_USE_HA_MQTT,
    DEFAULT_BLYNK_SERVER,
    DOMAIN,
    EVENT_BELL,
)

from .conftest import TOPIC
from .helpers import state_of, wait_for
from .mosquitto import Mosquitto, free_port
from .test_bell import BELL_CONNECTED, CALLING, EVENT
from .test_call_system import press, retained_calls
from .test_config_flow import bell_input

HA_DATA = {
    CONF_NAME: "Service bell",
    CONF_USE_HA_MQTT: True,
    CONF_TOPIC: TOPIC,
    CONF_BELL_KEY: "",
    CONF_TOKEN: "",
    CONF_BLYNK_SERVER: DEFAULT_BLYNK_SERVER,
}


@pytest.fixture
async def ha_mqtt(hass: HomeAssistant, mosquitto: Mosquitto) -> AsyncIterator[MockConfigEntry]:
    """Home Assistant's MQTT integration, connected to the test's Mosquitto.

    Its client retries every 10 s after losing the broker; a fifth of a second here. It
    reads configuration.yaml, which a test has not: an empty one, as a user's could be.
    """
    assert await async_setup_component(
        hass, "http", {"http": {"server_host": "127.0.0.1", "server_port": free_port()}}
    )
    entry = MockConfigEntry(
        domain=mqtt.DOMAIN, data={"broker": mosquitto.host, "port": mosquitto.port}
    )
    entry.add_to_hass(hass)
    with (
        patch("homeassistant.components.mqtt.client.RECONNECT_INTERVAL_SECONDS", 0.2),
        patch("homeassistant.config.load_yaml_config_file", return_value={}),
    ):
        assert await async_setup_component(hass, mqtt.DOMAIN, {})
        await wait_for(hass, lambda: mqtt.is_connected(hass))
        yield entry
        if entry.state is ConfigEntryState.LOADED:
            await hass.config_entries.async_unload(entry.entry_id)


@pytest.fixture
async def ha_bell(hass: HomeAssistant, ha_mqtt: MockConfigEntry) -> AsyncIterator[MockConfigEntry]:
    """A bell entry on Home Assistant's broker, set up and available."""
    entry = MockConfigEntry(
        domain=DOMAIN, title="Service bell", data=HA_DATA, unique_id=f"homeassistant/mqtt:{TOPIC}"
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    await wait_for(hass, lambda: state_of(hass, BELL_CONNECTED) == STATE_ON)
    yield entry
    if entry.state is ConfigEntryState.LOADED:
        await hass.config_entries.async_unload(entry.entry_id)


async def start_flow(hass: HomeAssistant) -> dict[str, Any]:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    return dict(result)


async def choose(hass: HomeAssistant, result: dict[str, Any], option: str) -> dict[str, Any]:
    assert result["type"] is FlowResultType.MENU
    return dict(
        await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": option})
    )


def fields(result: dict[str, Any]) -> list[str]:
    return [str(key.schema) for key in result["data_schema"].schema]


# The config flow ----------------------------------------------------------------------


async def test_without_mqtt_the_broker_form_comes_first(hass: HomeAssistant) -> None:
    result = await start_flow(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    assert CONF_BROKER in fields(result)


async def test_with_mqtt_home_assistants_broker_is_offered_first(
    hass: HomeAssistant, ha_mqtt: MockConfigEntry, mosquitto: Mosquitto
) -> None:
    result = await start_flow(hass)
    assert result["type"] is FlowResultType.MENU
    assert result["step_id"] == "choose_broker"
    assert result["menu_options"] == ["ha_mqtt", "own_broker"]

    # "Another broker" is today's form, and works as before.
    result = await choose(hass, result, "own_broker")
    assert result["step_id"] == "user"
    assert CONF_BROKER in fields(result)
    result = dict(
        await hass.config_entries.flow.async_configure(result["flow_id"], bell_input(mosquitto))
    )
    assert result["step_id"] == "blynk"


async def test_home_assistants_broker_makes_an_entry_without_broker_fields(
    hass: HomeAssistant, ha_mqtt: MockConfigEntry, mosquitto: Mosquitto
) -> None:
    result = await choose(hass, await start_flow(hass), "ha_mqtt")
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "ha_mqtt"
    assert fields(result) == [CONF_NAME, CONF_TOPIC, CONF_BELL_KEY]
    suggested = {key.schema: key.default() for key in result["data_schema"].schema}
    assert suggested[CONF_TOPIC].startswith("blynk-bell/")  # Unique, as on an own broker.

    result = dict(
        await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_NAME: "Terrace", CONF_TOPIC: TOPIC, CONF_BELL_KEY: ""}
        )
    )
    assert result["step_id"] == "blynk"
    result = dict(
        await hass.config_entries.flow.async_configure(result["flow_id"], {CONF_TOKEN: ""})
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == {**HA_DATA, CONF_NAME: "Terrace"}
    entry = result["result"]
    assert entry.unique_id == f"homeassistant/mqtt:{TOPIC}"
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    # No second connection: only Home Assistant's client talks to the broker.
    assert " as blynkbell-" not in mosquitto.log_text()

    # Home Assistant's broker is one broker: the same topic again is taken.
    result = await choose(hass, await start_flow(hass), "ha_mqtt")
    result = dict(
        await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_NAME: "Bar", CONF_TOPIC: TOPIC, CONF_BELL_KEY: ""}
        )
    )
    assert result["errors"] == {CONF_TOPIC: "topic_in_use"}
    await hass.config_entries.async_unload(entry.entry_id)


async def test_the_key_is_shown_once_with_the_lines_the_bell_needs(
    hass: HomeAssistant, ha_mqtt: MockConfigEntry
) -> None:
    result = await choose(hass, await start_flow(hass), "ha_mqtt")
    key = {key.schema: key.default() for key in result["data_schema"].schema}[CONF_BELL_KEY]
    result = dict(
        await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_NAME: "Terrace", CONF_TOPIC: TOPIC, CONF_BELL_KEY: key}
        )
    )
    assert result["step_id"] == "bell_key"
    lines = result["description_placeholders"]["config_lines"]
    assert lines == f'TOPIC = {TOPIC!r}\nBELL_KEY = "{key}"'  # The broker is the user's.


async def test_home_assistants_broker_must_be_connected_to_be_chosen(
    hass: HomeAssistant, ha_mqtt: MockConfigEntry, mosquitto: Mosquitto
) -> None:
    result = await choose(hass, await start_flow(hass), "ha_mqtt")
    await mosquitto.stop()
    await wait_for(hass, lambda: not mqtt.is_connected(hass))
    result = dict(
        await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_NAME: "Terrace", CONF_TOPIC: TOPIC, CONF_BELL_KEY: ""}
        )
    )
    assert result["errors"] == {"base": "ha_mqtt_not_connected"}
    await mosquitto.start()


async def test_reconfigure_moves_a_bell_to_home_assistants_broker_and_back(
    hass: HomeAssistant,
    ha_mqtt: MockConfigEntry,
    mosquitto: Mosquitto,
    bell_data: dict[str, Any],
    make_entry: Callable[..., MockConfigEntry],
) -> None:
    entry = make_entry(bell_data)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await wait_for(hass, lambda: entry.runtime_data.bell.available)

    result = dict(await entry.start_reconfigure_flow(hass))
    assert result["step_id"] == "reconfigure_choose_broker"
    result = await choose(hass, result, "reconfigure_ha_mqtt")
    assert fields(result) == [CONF_NAME, CONF_TOPIC, "signing", CONF_BELL_KEY]
    result = dict(
        await hass.config_entries.flow.async_configure(
            result["flow_id"],
            {CONF_NAME: "Service bell", CONF_TOPIC: TOPIC, "signing": "unsigned"},
        )
    )
    assert result["step_id"] == "reconfigure_blynk"
    result = dict(await hass.config_entries.flow.async_configure(result["flow_id"], {}))
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert dict(entry.data) == HA_DATA  # Nothing of the own broker is left.
    assert entry.unique_id == f"homeassistant/mqtt:{TOPIC}"
    await wait_for(hass, lambda: entry.runtime_data.bell.available)
    assert entry.runtime_data.bell.broker == "Home Assistant's MQTT broker"

    result = await choose(
        hass, dict(await entry.start_reconfigure_flow(hass)), "reconfigure_own_broker"
    )
    assert result["step_id"] == "reconfigure"
    result = dict(
        await hass.config_entries.flow.async_configure(
            result["flow_id"], {**bell_input(mosquitto), "signing": "unsigned"}
        )
    )
    result = dict(await hass.config_entries.flow.async_configure(result["flow_id"], {}))
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert CONF_USE_HA_MQTT not in entry.data
    assert entry.data[CONF_BROKER] == mosquitto.host
    await wait_for(hass, lambda: entry.runtime_data.bell.available)
    await hass.config_entries.async_unload(entry.entry_id)


# Setting up ---------------------------------------------------------------------------


async def test_without_home_assistants_mqtt_the_entry_retries_later(
    hass: HomeAssistant,
) -> None:
    entry = MockConfigEntry(domain=DOMAIN, title="Service bell", data=HA_DATA)
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert entry.reason is not None
    assert "MQTT integration is not set up" in entry.reason


# Presses and feedback -----------------------------------------------------------------


async def test_a_press_through_home_assistants_broker_calls_the_table(
    hass: HomeAssistant, ha_bell: MockConfigEntry, mosquitto: Mosquitto
) -> None:
    events = async_capture_events(hass, EVENT_BELL)
    assert state_of(hass, CALLING.format(2)) == STATE_OFF
    await press(mosquitto, 2)
    await wait_for(hass, lambda: state_of(hass, CALLING.format(2)) == STATE_ON)
    assert hass.states.get(EVENT.format(2)).attributes["event_type"] == "press"
    assert [event.data["type"] for event in events] == ["press", "call_started"]
    # The calls feedback went out through Home Assistant's client, retained.
    calls = await retained_calls(mosquitto)
    assert calls["tables"] == "icii"
    assert " as blynkbell-" not in mosquitto.log_text()


async def test_entities_follow_home_assistants_mqtt_connection(
    hass: HomeAssistant, ha_bell: MockConfigEntry, mosquitto: Mosquitto
) -> None:
    await mosquitto.stop()
    for entity_id in (EVENT.format(1), BELL_CONNECTED):
        await wait_for(
            hass, lambda entity_id=entity_id: state_of(hass, entity_id) == STATE_UNAVAILABLE
        )
    # Calls live in Home Assistant: they stay visible meanwhile.
    assert state_of(hass, CALLING.format(1)) == STATE_OFF

    await mosquitto.start()
    await wait_for(hass, lambda: state_of(hass, BELL_CONNECTED) == STATE_ON)
    assert state_of(hass, EVENT.format(1)) != STATE_UNAVAILABLE
    # Available again once Home Assistant's client has subscribed again: the press counts.
    await press(mosquitto, 1)
    await wait_for(hass, lambda: state_of(hass, CALLING.format(1)) == STATE_ON)


async def test_after_unloading_a_press_does_nothing(
    hass: HomeAssistant, ha_bell: MockConfigEntry, mosquitto: Mosquitto
) -> None:
    await hass.config_entries.async_unload(ha_bell.entry_id)
    events = async_capture_events(hass, EVENT_BELL)
    # Another listener on the topic tells when the press has reached Home Assistant.
    heard: list[bytes] = []

    @callback
    def listen(message: mqtt.ReceiveMessage) -> None:
        heard.append(message.payload)  # type: ignore[arg-type]

    # The broker was told: a listener subscribing now is not undone by our unsubscribe.
    await wait_for(hass, lambda: "Received UNSUBSCRIBE" in mosquitto.log_text())
    subscribed: list[bool] = []
    unsubscribe = await mqtt.async_subscribe(hass, TOPIC, listen, qos=1, encoding=None)
    stop_waiting = mqtt.async_on_subscribe_done(hass, TOPIC, 1, lambda: subscribed.append(True))
    await wait_for(hass, lambda: subscribed)
    stop_waiting()
    await press(mosquitto, 3)
    await wait_for(hass, lambda: heard)
    assert json.loads(heard[0])["button"] == 3
    assert events == []
    unsubscribe()


async def test_diagnostics_say_which_broker_carries_the_bell(
    hass: HomeAssistant, hass_client: ClientSessionGenerator, ha_bell: MockConfigEntry
) -> None:
    assert await async_setup_component(hass, "diagnostics", {})
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, ha_bell)
    bell = diagnostics["bell"]
    assert bell["broker"] == "home_assistant_mqtt"
    assert bell["link"]["connected"] is True
    assert bell["link"]["auth_failed"] is False
    assert bell["link"]["configured_endpoint"].startswith("mqtt://127.0.0.1:")
