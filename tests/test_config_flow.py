"""Config flow: every path, against a real Mosquitto and the Blynk cloud emulator."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
import re
from typing import Any

from homeassistant.config_entries import SOURCE_USER, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
import voluptuous as vol

from blynk_emulator import BlynkCloud
from custom_components.blynk_bell.const import (
    CONF_BELL_KEY,
    CONF_BLYNK_SERVER,
    CONF_BROKER,
    CONF_BUTTONS,
    CONF_HEATER_MODE,
    CONF_HEATER_SWITCH,
    CONF_HYSTERESIS,
    CONF_NAME,
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
        CONF_NAME: "Service bell",
        CONF_BROKER: server.host,
        CONF_PORT: server.port,
        CONF_USERNAME: "",
        CONF_PASSWORD: "",
        CONF_TLS: False,
        CONF_TOPIC: TOPIC,
        CONF_BELL_KEY: "",
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
    assert result["title"] == "Service bell"
    assert result["data"] == {
        **bell_input(mosquitto),
        CONF_TOKEN: "",
        CONF_BLYNK_SERVER: DEFAULT_BLYNK_SERVER,
    }
    entry = result["result"]
    assert entry.unique_id == f"127.0.0.1:{mosquitto.port}:{TOPIC}"
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED


def defaults_of(result: Mapping[str, Any]) -> dict[str, Any]:
    return {
        key.schema: key.default() if key.default is not vol.UNDEFINED else None
        for key in result["data_schema"].schema
    }


async def test_a_new_bell_gets_a_unique_topic_and_a_fresh_key(hass: HomeAssistant) -> None:
    first = defaults_of(await start_user_flow(hass))
    second = defaults_of(await start_user_flow(hass))
    assert first[CONF_BROKER] == "broker.hivemq.com"
    assert first[CONF_PORT] == 1883
    assert first[CONF_TLS] is False
    assert first[CONF_TOPIC] != "SunFounder MQTT Test"
    assert re.fullmatch(r"blynk-bell/[0-9a-f]{10}", first[CONF_TOPIC])
    assert re.fullmatch(r"[0-9a-f]{64}", first[CONF_BELL_KEY])
    assert first[CONF_TOPIC] != second[CONF_TOPIC]
    assert first[CONF_BELL_KEY] != second[CONF_BELL_KEY]
    assert first[CONF_PASSWORD] == ""


async def test_the_key_is_shown_once_with_the_line_to_paste(
    hass: HomeAssistant, mosquitto: Mosquitto
) -> None:
    result = await start_user_flow(hass)
    key = defaults_of(result)[CONF_BELL_KEY]
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], bell_input(mosquitto, topic="blynk-bell/terrace", bell_key=key)
    )
    assert result["step_id"] == "bell_key"
    lines = result["description_placeholders"]["config_lines"]
    assert f'BELL_KEY = "{key}"' in lines.splitlines()
    assert "TOPIC = 'blynk-bell/terrace'" in lines.splitlines()
    assert f"PORT = {mosquitto.port}" in lines.splitlines()
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["step_id"] == "blynk"
    assert "description_placeholders" not in result or key not in str(
        result["description_placeholders"]
    )
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {CONF_TOKEN: ""})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_BELL_KEY] == key
    await hass.async_block_till_done()


async def test_a_pasted_key_is_checked_and_normalised(
    hass: HomeAssistant, mosquitto: Mosquitto
) -> None:
    result = await start_user_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], bell_input(mosquitto, bell_key="not a key")
    )
    assert result["errors"] == {CONF_BELL_KEY: "invalid_bell_key"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], bell_input(mosquitto, bell_key=" " + "AB" * 32 + " ")
    )
    assert result["step_id"] == "bell_key"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {CONF_TOKEN: ""})
    assert result["data"][CONF_BELL_KEY] == "ab" * 32
    await hass.async_block_till_done()


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
    port = free_port()
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], bell_input(mosquitto, port=port)
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "cannot_connect_refused"}
    assert result["description_placeholders"]["host"] == "127.0.0.1"
    assert result["description_placeholders"]["port"] == str(port)

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
    assert result["description_placeholders"]["host"] == "127.0.0.1"

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], bell_input(secured_broker, username="waiter", password="s3cret")
    )
    assert result["step_id"] == "blynk"


async def test_a_host_that_does_not_exist_is_named(
    hass: HomeAssistant, mosquitto: Mosquitto
) -> None:
    result = await start_user_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], bell_input(mosquitto, broker="bell-broker.invalid")
    )
    assert result["errors"] == {"base": "cannot_connect_name_not_found"}
    assert result["description_placeholders"]["host"] == "bell-broker.invalid"


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
    # An error on the topic, not an abort: the user changes the topic, nothing else.
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_TOPIC: "topic_in_use"}
    assert defaults_of(result)[CONF_BROKER] == mosquitto.host
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], bell_input(mosquitto, topic="blynk-bell/second", name="Terrace")
    )
    assert result["step_id"] == "blynk"


async def test_a_second_bell_needs_a_name_of_its_own(
    hass: HomeAssistant,
    mosquitto: Mosquitto,
    bell_data: dict[str, Any],
    make_entry: Callable[..., MockConfigEntry],
) -> None:
    make_entry({**bell_data, CONF_NAME: "Terrace"})
    result = await start_user_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], bell_input(mosquitto, topic="blynk-bell/bar", name="terrace")
    )
    assert result["errors"] == {CONF_NAME: "name_in_use"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], bell_input(mosquitto, topic="blynk-bell/bar", name="Bar")
    )
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {CONF_TOKEN: ""})
    assert result["title"] == "Bar"
    await hass.async_block_till_done()
    state = hass.states.get("binary_sensor.bar_table_1_calling")
    assert state is not None
    assert state.attributes["friendly_name"] == "Bar Table 1 calling"


async def test_another_topic_on_the_same_broker_is_a_new_bell(
    hass: HomeAssistant,
    mosquitto: Mosquitto,
    bell_data: dict[str, Any],
    make_entry: Callable[..., MockConfigEntry],
) -> None:
    make_entry(bell_data)
    result = await start_user_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], bell_input(mosquitto, topic="Second dining room", name="Terrace")
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
    assert result["errors"] == {"base": "invalid_token"}
    assert result["description_placeholders"]["host"] == "127.0.0.1"

    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_TOKEN: TOKEN, CONF_BLYNK_SERVER: f"mqtt://127.0.0.1:{free_port()}"}
    )
    assert result["errors"] == {"base": "cannot_connect_refused"}

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
        result["flow_id"], bell_input(mosquitto, name="Terrace")
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
        result["flow_id"], bell_input(mosquitto, topic="Terrace bell", name="Terrace")
    )
    assert result["step_id"] == "reconfigure_blynk"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert bell_entry.data[CONF_TOPIC] == "Terrace bell"
    assert bell_entry.unique_id == f"127.0.0.1:{mosquitto.port}:Terrace bell"
    assert bell_entry.title == "Terrace"
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
    assert result["errors"] == {"base": "cannot_connect_refused"}
    assert bell_entry.data[CONF_PORT] == mosquitto.port


async def test_reconfigure_onto_another_bell_is_a_topic_error(
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
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_TOPIC: "topic_in_use"}
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
    assert result["errors"] == {"base": "invalid_token"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_TOKEN: TOKEN, CONF_BLYNK_SERVER: cloud.url}
    )
    assert result["reason"] == "reconfigure_successful"
    assert bell_entry.data[CONF_TOKEN] == TOKEN
    assert bell_entry.data[CONF_BLYNK_SERVER] == cloud.url


SECRET_KEY = "9d" * 32


@pytest.fixture
async def secret_entry(
    hass: HomeAssistant,
    secured_broker: Mosquitto,
    cloud: BlynkCloud,
    make_entry: Callable[..., MockConfigEntry],
) -> MockConfigEntry:
    """A loaded entry with a broker password, a Blynk token and a bell key."""
    data = {
        **bell_input(secured_broker, username="waiter", password="s3cret"),
        CONF_BELL_KEY: SECRET_KEY,
        CONF_TOKEN: TOKEN,
        CONF_BLYNK_SERVER: cloud.url,
    }
    entry = make_entry(data)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


def assert_no_secret(result: Mapping[str, Any]) -> None:
    shown = repr(result) + repr(defaults_of(result))
    for secret in ("s3cret", TOKEN, SECRET_KEY):
        assert secret not in shown


async def test_reconfigure_never_sends_a_stored_secret_and_empty_keeps_it(
    hass: HomeAssistant, secured_broker: Mosquitto, secret_entry: MockConfigEntry
) -> None:
    result = await secret_entry.start_reconfigure_flow(hass)
    assert_no_secret(result)
    assert defaults_of(result)[CONF_USERNAME] == "waiter"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        bell_input(secured_broker, username="waiter", password="", topic="blynk-bell/moved"),
    )
    assert result["step_id"] == "reconfigure_blynk"  # The stored password still logs in.
    assert_no_secret(result)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {CONF_TOKEN: ""})
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert secret_entry.data[CONF_PASSWORD] == "s3cret"
    assert secret_entry.data[CONF_TOKEN] == TOKEN
    assert secret_entry.data[CONF_BELL_KEY] == SECRET_KEY
    assert secret_entry.data[CONF_TOPIC] == "blynk-bell/moved"


async def test_reauth_never_sends_a_stored_secret(
    hass: HomeAssistant, secret_entry: MockConfigEntry
) -> None:
    result = await secret_entry.start_reauth_flow(hass)
    assert_no_secret(result)
    bell = await secret_entry.start_reauth_flow(hass, data={"target": "bell"})
    assert bell["step_id"] == "reauth_bell"
    assert_no_secret(bell)


async def test_reconfigure_can_make_a_new_key_or_drop_it(
    hass: HomeAssistant, secured_broker: Mosquitto, secret_entry: MockConfigEntry
) -> None:
    login = {CONF_USERNAME: "waiter", CONF_PASSWORD: ""}
    result = await secret_entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**bell_input(secured_broker, **login), "signing": "new_key"}
    )
    assert result["step_id"] == "reconfigure_bell_key"
    new_key = re.search(
        r'BELL_KEY = "([0-9a-f]{64})"', result["description_placeholders"]["config_lines"]
    )
    assert new_key is not None
    assert new_key.group(1) != SECRET_KEY
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert secret_entry.data[CONF_BELL_KEY] == new_key.group(1)

    result = await secret_entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**bell_input(secured_broker, **login), "signing": "unsigned"}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"remove_heater": True}
    )
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert secret_entry.data[CONF_BELL_KEY] == ""
    assert secret_entry.data[CONF_TOKEN] == ""


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
    assert result["errors"] == {"base": "invalid_token"}

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


def options_input(
    *,
    buttons: int = 4,
    clear_after: float = 5,
    names: dict[str, str] | None = None,
    heater: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """What the options form sends: its sections (bell, tables, heater)."""
    user_input: dict[str, Any] = {
        "bell": {CONF_BUTTONS: buttons, "clear_after": clear_after},
        "tables": names or {},
    }
    if heater is not None:
        user_input["heater"] = {CONF_HYSTERESIS: 0.5, **heater}
    return user_input


def suggested_options(result: Mapping[str, Any]) -> dict[str, Any]:
    """The values the options form shows, by section."""
    shown: dict[str, Any] = {}
    for key, value in result["data_schema"].schema.items():
        values = {
            inner.schema: (inner.description or {}).get("suggested_value")
            for inner in value.schema.schema
        }
        shown[key.schema] = {name: v for name, v in values.items() if v is not None}
    return shown


async def test_options_name_the_tables_and_follow_a_schedule(
    hass: HomeAssistant, bell_entry: MockConfigEntry
) -> None:
    result = await hass.config_entries.options.async_init(bell_entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            **options_input(names={"table_2": " Window table ", "table_3": ""}),
            "bell": {CONF_BUTTONS: 4, "clear_after": 10, "schedule": "schedule.opening_hours"},
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert bell_entry.options == {
        CONF_BUTTONS: 4,
        CONF_RESET_AFTER: 600,
        "schedule": "schedule.opening_hours",
        "table_names": {"2": "Window table"},
    }
    state = hass.states.get("binary_sensor.service_bell_table_2_calling")
    assert state is not None
    assert state.attributes["friendly_name"] == "Service bell Window table calling"
    assert hass.states.get("sensor.service_bell_table_2_call").attributes["friendly_name"] == (
        "Service bell Window table call"
    )
    assert hass.states.get("event.service_bell_table_3").attributes["friendly_name"] == (
        "Service bell Table 3"
    )
    result = await hass.config_entries.options.async_init(bell_entry.entry_id)
    assert suggested_options(result)["tables"] == {"table_2": "Window table"}
    assert suggested_options(result)["bell"]["clear_after"] == 10


async def test_options_change_tables_and_reset_after_and_reload(
    hass: HomeAssistant, bell_entry: MockConfigEntry
) -> None:
    assert hass.states.get("event.service_bell_table_4") is not None
    assert hass.states.get("event.service_bell_table_5") is None

    result = await hass.config_entries.options.async_init(bell_entry.entry_id)
    assert result["type"] is FlowResultType.FORM
    assert suggested_options(result)["bell"] == {"buttons": 4, "clear_after": 5.0}
    assert "heater" not in suggested_options(result)  # No Blynk token, no heater section.

    result = await hass.config_entries.options.async_configure(
        result["flow_id"], options_input(buttons=6, clear_after=2)
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert bell_entry.options == {CONF_BUTTONS: 6, CONF_RESET_AFTER: 120, "table_names": {}}
    assert bell_entry.runtime_data.bell.tables == 6
    assert hass.states.get("event.service_bell_table_6") is not None


@pytest.mark.parametrize("buttons", [0, 17])
async def test_options_reject_button_counts_out_of_range(
    hass: HomeAssistant, bell_entry: MockConfigEntry, buttons: int
) -> None:
    result = await hass.config_entries.options.async_init(bell_entry.entry_id)
    with pytest.raises(vol.Invalid):
        await hass.config_entries.options.async_configure(
            result["flow_id"], options_input(buttons=buttons)
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
    assert suggested_options(result)["heater"][CONF_HEATER_MODE] == HEATER_MODE_SIMULATED

    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        options_input(
            heater={
                CONF_HEATER_MODE: HEATER_MODE_ENTITIES,
                CONF_HEATER_SWITCH: "switch.heater_plug",
            }
        ),
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "entities_required"}

    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        options_input(
            heater={
                CONF_HEATER_MODE: HEATER_MODE_ENTITIES,
                CONF_TEMPERATURE_SENSOR: "sensor.dining_room",
                CONF_HEATER_SWITCH: "switch.heater_plug",
            }
        ),
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
        result["flow_id"], options_input(heater={CONF_HEATER_MODE: HEATER_MODE_SIMULATED})
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert CONF_HEATER_SWITCH not in entry.options
    assert CONF_TEMPERATURE_SENSOR not in entry.options
    await hass.config_entries.async_unload(entry.entry_id)
