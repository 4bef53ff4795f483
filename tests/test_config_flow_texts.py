"""The config flow's forms fill every placeholder their texts use, and a token stays one entry's.

Translations carry no URLs (hassfest refuses them): the Blynk steps name their example
servers through description placeholders, so every form must supply each placeholder its
title, description, field descriptions and shown errors use, or the user reads
`{default_server}`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
import json
from pathlib import Path
import string
from typing import Any

from homeassistant.config_entries import SOURCE_USER
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.blynk_bell.const import (
    CONF_BELL_KEY,
    CONF_BLYNK_SERVER,
    CONF_BROKER,
    CONF_NAME,
    CONF_PASSWORD,
    CONF_PORT,
    CONF_TLS,
    CONF_TOKEN,
    CONF_TOPIC,
    CONF_USERNAME,
    DEFAULT_BLYNK_SERVER,
    DOMAIN,
)

from .conftest import TOPIC
from .mosquitto import Mosquitto

EN = json.loads(
    (
        Path(__file__).parents[1] / "custom_components" / "blynk_bell" / "translations" / "en.json"
    ).read_text("utf-8")
)


def names(text: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(text) if field}


def assert_placeholders_filled(result: Mapping[str, Any]) -> None:
    """Every placeholder the shown form's texts use has a value."""
    assert result["type"] is FlowResultType.FORM
    step = EN["config"]["step"][result["step_id"]]
    texts = [step.get("title", ""), step.get("description", "")]
    texts += step.get("data_description", {}).values()
    texts += [EN["config"]["error"][error] for error in (result["errors"] or {}).values()]
    needed = set().union(*(names(text) for text in texts))
    given = set(result["description_placeholders"] or {})
    assert needed <= given, f"{result['step_id']}: no value for {needed - given}"


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


async def test_the_setup_steps_fill_their_placeholders(
    hass: HomeAssistant, mosquitto: Mosquitto
) -> None:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert_placeholders_filled(result)
    flow_id = result["flow_id"]
    result = await hass.config_entries.flow.async_configure(
        flow_id, bell_input(mosquitto, port=1, bell_key="")
    )
    assert result["errors"] == {"base": "cannot_connect_refused"}
    assert_placeholders_filled(result)

    result = await hass.config_entries.flow.async_configure(flow_id, bell_input(mosquitto))
    assert result["step_id"] == "blynk"
    assert_placeholders_filled(result)
    assert result["description_placeholders"]["default_server"] == DEFAULT_BLYNK_SERVER

    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_TOKEN: "token", CONF_BLYNK_SERVER: "blynk.cloud"}
    )
    assert result["errors"] == {CONF_BLYNK_SERVER: "invalid_server_url"}
    assert_placeholders_filled(result)


async def test_reconfigure_and_reauth_fill_their_placeholders(
    hass: HomeAssistant,
    mosquitto: Mosquitto,
    bell_data: dict[str, Any],
    make_entry: Callable[..., MockConfigEntry],
) -> None:
    entry = make_entry({**bell_data, CONF_NAME: "Service bell", CONF_TOKEN: "token-1"})
    result = await entry.start_reconfigure_flow(hass)
    assert_placeholders_filled(result)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**bell_input(mosquitto), "signing": "unsigned"}
    )
    assert result["step_id"] == "reconfigure_blynk"
    assert_placeholders_filled(result)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_TOKEN: "", CONF_BLYNK_SERVER: "ftp:/nowhere"}
    )
    assert result["errors"] == {CONF_BLYNK_SERVER: "invalid_server_url"}
    assert_placeholders_filled(result)

    result = await entry.start_reauth_flow(hass)
    assert result["step_id"] == "reauth_confirm"
    assert_placeholders_filled(result)
    result = await entry.start_reauth_flow(hass, data={**entry.data, "target": "bell"})
    assert result["step_id"] == "reauth_bell"
    assert_placeholders_filled(result)


async def test_reconfigure_and_reauth_refuse_another_entrys_token(
    hass: HomeAssistant,
    mosquitto: Mosquitto,
    bell_data: dict[str, Any],
    make_entry: Callable[..., MockConfigEntry],
) -> None:
    """Blynk takes one connection per token: two entries on one token would kick each other."""
    make_entry({**bell_data, CONF_TOPIC: "Terrace", CONF_NAME: "Terrace", CONF_TOKEN: "taken"})
    entry = make_entry({**bell_data, CONF_NAME: "Service bell", CONF_TOKEN: "mine"})

    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**bell_input(mosquitto), "signing": "unsigned"}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_TOKEN: "taken", CONF_BLYNK_SERVER: DEFAULT_BLYNK_SERVER}
    )
    assert result["errors"] == {CONF_TOKEN: "token_in_use"}

    result = await entry.start_reauth_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_TOKEN: "taken"}
    )
    assert result["errors"] == {CONF_TOKEN: "token_in_use"}
    assert entry.data[CONF_TOKEN] == "mine"
