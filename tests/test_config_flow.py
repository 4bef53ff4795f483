"""Config flow: every path, against a real Mosquitto and the Blynk cloud emulator."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from homeassistant.config_entries import SOURCE_USER, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
import voluptuous as vol

from blynk_emulator import BlynkCloud
from custom_components.blynk_bell.const import (
    CONF_BLYNK_SERVER,
    CONF_BROKER,
    CONF_BUTTONS,
    CONF_HEATER_MODE,
    CONF_HEATER_SWITCH,
    CONF_HYSTERESIS,
    CONF_PASSWORD,
    CONF_PORT,
    CONF_RESET_AFTER,
    CONF_TEMPERATURE_SENSOR,
    CONF_TLS,
    CONF_TOKEN,
    CONF_TOPIC,
    CONF_USERNAME,
    DEFAULT_BLYNK_SERVER,
    DOMAIN,
    HEATER_MODE_ENTITIES,
    HEATER_MODE_SIMULATED,
)

from .conftest import TOPIC
from .mosquitto import Mosquitto, free_port

TOKEN = "heater-token-1"


def bell_input(server: Mosquitto, **changes: Any) -> dict[str, Any]:
    return {
        CONF_BROKER: server.host,
        CONF_PORT: server.port,
        CONF_USERNAME: "",
        CONF_PASSWORD: "",
        CONF_TLS: False,
        CONF_TOPIC: TOPIC,
        **changes,
    }


@pytest.fixture
async def cloud(socket_enabled: None) -> AsyncIterator[BlynkCloud]:
    cloud = BlynkCloud()
    await cloud.start()
    cloud.add_device(TOKEN)
    yield cloud
    await cloud.stop()


@pytest.fixture
async def secured_broker(socket_enabled: None, tmp_path: Path) -> AsyncIterator[Mosquitto]:
    broker = Mosquitto(tmp_path, users={"waiter": "s3cret"})
    await broker.start()
    yield broker
    await broker.stop()


async def start_user_flow(hass: HomeAssistant) -> dict[str, Any]:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    return dict(result)


async def test_user_flow_without_heater_creates_entry(
    hass: HomeAssistant, mosquitto: Mosquitto
) -> None:
    result = await start_user_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], bell_input(mosquitto)
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "blynk"

    result = await hass.config_entries.flow.async_configure(result["flow_id"], {CONF_TOKEN: ""})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == f"{TOPIC} on 127.0.0.1"
    assert result["data"] == {
        **bell_input(mosquitto),
        CONF_TOKEN: "",
        CONF_BLYNK_SERVER: DEFAULT_BLYNK_SERVER,
    }
    entry = result["result"]
    assert entry.unique_id == f"127.0.0.1:{mosquitto.port}:{TOPIC}"
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED


async def test_user_flow_defaults_are_the_tutorials(hass: HomeAssistant) -> None:
    result = await start_user_flow(hass)
    defaults = {key.schema: key.default() for key in result["data_schema"].schema}
    assert defaults[CONF_BROKER] == "broker.hivemq.com"
    assert defaults[CONF_PORT] == 1883
    assert defaults[CONF_TOPIC] == "SunFounder MQTT Test"
    assert defaults[CONF_TLS] is False


async def test_user_flow_with_heater_token(
    hass: HomeAssistant, mosquitto: Mosquitto, cloud: BlynkCloud
) -> None:
    result = await start_user_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], bell_input(mosquitto)
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_TOKEN: TOKEN, CONF_BLYNK_SERVER: cloud.url}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_TOKEN] == TOKEN
    assert result["data"][CONF_BLYNK_SERVER] == cloud.url


async def test_user_flow_cannot_connect_then_recovers(
    hass: HomeAssistant, mosquitto: Mosquitto
) -> None:
    result = await start_user_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], bell_input(mosquitto, port=free_port())
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "cannot_connect"}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], bell_input(mosquitto)
    )
    assert result["step_id"] == "blynk"


async def test_user_flow_invalid_auth(hass: HomeAssistant, secured_broker: Mosquitto) -> None:
    result = await start_user_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], bell_input(secured_broker, username="waiter", password="wrong")
    )
    assert result["errors"] == {"base": "invalid_auth"}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], bell_input(secured_broker, username="waiter", password="s3cret")
    )
    assert result["step_id"] == "blynk"


@pytest.mark.parametrize(
    "topic",
    ["", "bell/+/press", "bell/#", "#", "bell\x00table", "t" * 65536],
    ids=["empty", "plus", "hash", "only-hash", "nul", "too-long"],
)
async def test_user_flow_invalid_topic(
    hass: HomeAssistant, mosquitto: Mosquitto, topic: str
) -> None:
    result = await start_user_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], bell_input(mosquitto, topic=topic)
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_TOPIC: "invalid_topic"}


async def test_user_flow_topic_of_65535_bytes_is_accepted(
    hass: HomeAssistant, mosquitto: Mosquitto
) -> None:
    result = await start_user_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], bell_input(mosquitto, topic="t" * 65535)
    )
    assert result.get("errors") in (None, {})
    assert result["step_id"] == "blynk"


async def test_user_flow_empty_broker(hass: HomeAssistant, mosquitto: Mosquitto) -> None:
    result = await start_user_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], bell_input(mosquitto, broker="  ")
    )
    assert result["errors"] == {CONF_BROKER: "invalid_broker"}


@pytest.mark.parametrize("port", [0, 65536])
async def test_user_flow_rejects_port_out_of_range(
    hass: HomeAssistant, mosquitto: Mosquitto, port: int
) -> None:
    result = await start_user_flow(hass)
    with pytest.raises(vol.Invalid):
        await hass.config_entries.flow.async_configure(
            result["flow_id"], bell_input(mosquitto, port=port)
        )


async def test_same_broker_and_topic_cannot_be_added_twice(
    hass: HomeAssistant,
    mosquitto: Mosquitto,
    bell_data: dict[str, Any],
    make_entry: Callable[..., MockConfigEntry],
) -> None:
    make_entry(bell_data)
    result = await start_user_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], bell_input(mosquitto)
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_another_topic_on_the_same_broker_is_a_new_bell(
    hass: HomeAssistant,
    mosquitto: Mosquitto,
    bell_data: dict[str, Any],
    make_entry: Callable[..., MockConfigEntry],
) -> None:
    make_entry(bell_data)
    result = await start_user_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], bell_input(mosquitto, topic="Second dining room")
    )
    assert result["step_id"] == "blynk"


async def test_blynk_step_errors(
    hass: HomeAssistant, mosquitto: Mosquitto, cloud: BlynkCloud
) -> None:
    result = await start_user_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], bell_input(mosquitto)
    )
    flow_id = result["flow_id"]

    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_TOKEN: TOKEN, CONF_BLYNK_SERVER: "http://blynk.cloud"}
    )
    assert result["errors"] == {CONF_BLYNK_SERVER: "invalid_server_url"}

    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_TOKEN: "not-a-token", CONF_BLYNK_SERVER: cloud.url}
    )
    assert result["errors"] == {"base": "invalid_auth"}

    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_TOKEN: TOKEN, CONF_BLYNK_SERVER: f"mqtt://127.0.0.1:{free_port()}"}
    )
    assert result["errors"] == {"base": "cannot_connect"}

    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_TOKEN: TOKEN, CONF_BLYNK_SERVER: cloud.url}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_blynk_token_of_another_entry_is_refused(
    hass: HomeAssistant,
    mosquitto: Mosquitto,
    cloud: BlynkCloud,
    bell_data: dict[str, Any],
    make_entry: Callable[..., MockConfigEntry],
) -> None:
    make_entry({**bell_data, CONF_TOPIC: "Other room", CONF_TOKEN: TOKEN})
    result = await start_user_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], bell_input(mosquitto)
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_TOKEN: TOKEN, CONF_BLYNK_SERVER: cloud.url}
    )
    assert result["errors"] == {CONF_TOKEN: "token_in_use"}


async def test_reconfigure_changes_topic_and_reloads(
    hass: HomeAssistant, mosquitto: Mosquitto, bell_entry: MockConfigEntry
) -> None:
    result = await bell_entry.start_reconfigure_flow(hass)
    assert result["step_id"] == "reconfigure"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], bell_input(mosquitto, topic="Terrace bell")
    )
    assert result["step_id"] == "reconfigure_blynk"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert bell_entry.data[CONF_TOPIC] == "Terrace bell"
    assert bell_entry.unique_id == f"127.0.0.1:{mosquitto.port}:Terrace bell"
    assert bell_entry.title == "Terrace bell on 127.0.0.1"
    assert bell_entry.state is ConfigEntryState.LOADED
    assert bell_entry.runtime_data.bell.topic == "Terrace bell"


async def test_reconfigure_form_shows_current_settings(
    hass: HomeAssistant, bell_entry: MockConfigEntry
) -> None:
    result = await bell_entry.start_reconfigure_flow(hass)
    defaults = {key.schema: key.default() for key in result["data_schema"].schema}
    assert defaults[CONF_TOPIC] == TOPIC
    assert defaults[CONF_PORT] == bell_entry.data[CONF_PORT]


async def test_reconfigure_cannot_connect(
    hass: HomeAssistant, mosquitto: Mosquitto, bell_entry: MockConfigEntry
) -> None:
    result = await bell_entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], bell_input(mosquitto, port=free_port())
    )
    assert result["errors"] == {"base": "cannot_connect"}
    assert bell_entry.data[CONF_PORT] == mosquitto.port


async def test_reconfigure_onto_another_bell_aborts(
    hass: HomeAssistant,
    mosquitto: Mosquitto,
    bell_entry: MockConfigEntry,
    bell_data: dict[str, Any],
    make_entry: Callable[..., MockConfigEntry],
) -> None:
    make_entry({**bell_data, CONF_TOPIC: "Terrace bell"})
    result = await bell_entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], bell_input(mosquitto, topic="Terrace bell")
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert bell_entry.data[CONF_TOPIC] == TOPIC


async def test_reconfigure_adds_and_checks_heater_token(
    hass: HomeAssistant, mosquitto: Mosquitto, bell_entry: MockConfigEntry, cloud: BlynkCloud
) -> None:
    result = await bell_entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], bell_input(mosquitto)
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_TOKEN: "wrong", CONF_BLYNK_SERVER: cloud.url}
    )
    assert result["errors"] == {"base": "invalid_auth"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_TOKEN: TOKEN, CONF_BLYNK_SERVER: cloud.url}
    )
    assert result["reason"] == "reconfigure_successful"
    assert bell_entry.data[CONF_TOKEN] == TOKEN
    assert bell_entry.data[CONF_BLYNK_SERVER] == cloud.url


async def test_reauth_asks_for_a_new_token(
    hass: HomeAssistant,
    mosquitto: Mosquitto,
    cloud: BlynkCloud,
    bell_data: dict[str, Any],
    make_entry: Callable[..., MockConfigEntry],
) -> None:
    entry = make_entry({**bell_data, CONF_TOKEN: "expired", CONF_BLYNK_SERVER: cloud.url})
    result = await entry.start_reauth_flow(hass)
    assert result["step_id"] == "reauth_confirm"

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_TOKEN: "still-wrong"}
    )
    assert result["errors"] == {"base": "invalid_auth"}

    result = await hass.config_entries.flow.async_configure(result["flow_id"], {CONF_TOKEN: TOKEN})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    assert entry.data[CONF_TOKEN] == TOKEN


async def test_reauth_of_the_bell_broker_asks_for_login(
    hass: HomeAssistant,
    secured_broker: Mosquitto,
    make_entry: Callable[..., MockConfigEntry],
) -> None:
    data = {
        **bell_input(secured_broker, username="waiter", password="old"),
        CONF_TOKEN: "",
        CONF_BLYNK_SERVER: DEFAULT_BLYNK_SERVER,
    }
    entry = make_entry(data)
    result = await entry.start_reauth_flow(hass)
    assert result["step_id"] == "reauth_bell"

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_USERNAME: "waiter", CONF_PASSWORD: "wrong"}
    )
    assert result["errors"] == {"base": "invalid_auth"}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_USERNAME: "waiter", CONF_PASSWORD: "s3cret"}
    )
    assert result["reason"] == "reauth_successful"
    assert entry.data[CONF_PASSWORD] == "s3cret"


async def test_options_change_tables_and_reset_after_and_reload(
    hass: HomeAssistant, bell_entry: MockConfigEntry
) -> None:
    assert hass.states.get("event.service_bell_table_4") is not None
    assert hass.states.get("event.service_bell_table_5") is None

    result = await hass.config_entries.options.async_init(bell_entry.entry_id)
    assert result["type"] is FlowResultType.FORM
    defaults = {key.schema: key.default() for key in result["data_schema"].schema}
    assert defaults == {CONF_BUTTONS: 4, CONF_RESET_AFTER: 300}

    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_BUTTONS: 6, CONF_RESET_AFTER: 120}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert bell_entry.options == {CONF_BUTTONS: 6, CONF_RESET_AFTER: 120}
    assert bell_entry.runtime_data.bell.tables == 6
    assert hass.states.get("event.service_bell_table_6") is not None


@pytest.mark.parametrize("buttons", [0, 17])
async def test_options_reject_button_counts_out_of_range(
    hass: HomeAssistant, bell_entry: MockConfigEntry, buttons: int
) -> None:
    result = await hass.config_entries.options.async_init(bell_entry.entry_id)
    with pytest.raises(vol.Invalid):
        await hass.config_entries.options.async_configure(
            result["flow_id"], {CONF_BUTTONS: buttons, CONF_RESET_AFTER: 300}
        )


async def test_options_switch_the_heater_to_real_entities_and_back(
    hass: HomeAssistant,
    bell_data: dict[str, Any],
    cloud: BlynkCloud,
    make_entry: Callable[..., MockConfigEntry],
) -> None:
    hass.states.async_set("sensor.dining_room", "19.5", {"unit_of_measurement": "°C"})
    hass.states.async_set("switch.heater_plug", "off")
    entry = make_entry({**bell_data, CONF_TOKEN: TOKEN, CONF_BLYNK_SERVER: cloud.url})
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()

    result = await hass.config_entries.options.async_init(entry.entry_id)
    suggested = {
        key.schema: (key.description or {}).get("suggested_value")
        for key in result["data_schema"].schema
    }
    assert suggested[CONF_HEATER_MODE] == HEATER_MODE_SIMULATED

    bell_options = {CONF_BUTTONS: 4, CONF_RESET_AFTER: 300, CONF_HYSTERESIS: 0.5}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            **bell_options,
            CONF_HEATER_MODE: HEATER_MODE_ENTITIES,
            CONF_HEATER_SWITCH: "switch.heater_plug",
        },
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "entities_required"}

    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            **bell_options,
            CONF_HEATER_MODE: HEATER_MODE_ENTITIES,
            CONF_TEMPERATURE_SENSOR: "sensor.dining_room",
            CONF_HEATER_SWITCH: "switch.heater_plug",
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert entry.options[CONF_HEATER_SWITCH] == "switch.heater_plug"
    heater = entry.runtime_data.heater
    assert heater is not None
    assert heater.controller.model.status_follows_heating  # Reloaded into real mode.

    # Back to the simulation: the entities are forgotten.
    result = await hass.config_entries.options.async_init(entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**bell_options, CONF_HEATER_MODE: HEATER_MODE_SIMULATED}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert CONF_HEATER_SWITCH not in entry.options
    assert CONF_TEMPERATURE_SENSOR not in entry.options
    await hass.config_entries.async_unload(entry.entry_id)
