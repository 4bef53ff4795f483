"""Assist and the call system: acknowledge and serve by voice, named tables, several bells.

Presses come from real Mosquitto brokers; each question goes through
`conversation.async_converse`, the path of the Assist dialog and every voice satellite.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
import itertools
import json
from pathlib import Path
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.blynk_bell.const import (
    CONF_BUTTONS,
    CONF_NAME,
    CONF_PORT,
    CONF_TABLE_NAMES,
    CONF_TOPIC,
)

from .conftest import TOPIC
from .helpers import state_of, wait_for
from .mosquitto import Mosquitto
from .test_assist import ask, assist  # noqa: F401 - the fixture sets Assist up

CALL = "sensor.{}_table_{}_call"
_SEQS = itertools.count(1)


async def press(mosquitto: Mosquitto, table: int, topic: str = TOPIC, age_ms: int = 0) -> None:
    payload = {"button": table, "event": "press", "seq": next(_SEQS), "age_ms": age_ms}
    await mosquitto.publish(topic, json.dumps(payload))


async def test_acknowledge_and_serve_a_table_by_voice(
    hass: HomeAssistant, mosquitto: Mosquitto, bell_entry: MockConfigEntry
) -> None:
    assert await ask(hass, "acknowledge table 3") == "Table 3 is not calling"
    await press(mosquitto, 3, age_ms=65_000)
    await wait_for(hass, lambda: state_of(hass, CALL.format("service_bell", 3)) == "calling")

    assert await ask(hass, "acknowledge table 3") == "OK, table 3 knows a waiter is on the way"
    assert state_of(hass, CALL.format("service_bell", 3)) == "acknowledged"
    assert await ask(hass, "is table 3 calling") == (
        "Table 3 has been seen: a waiter is on the way"
    )
    assert await ask(hass, "table 3 is served") == "OK, table 3 is served"
    assert state_of(hass, CALL.format("service_bell", 3)) == "idle"
    assert await ask(hass, "table three has been served") == "Table 3 has no open call"
    assert float(state_of(hass, "sensor.service_bell_table_3_last_response_time")) >= 1


@pytest.mark.parametrize(
    "sentence",
    ["acknowledge table four", "I'm on my way to table 4", "table number 4 has been seen"],
)
async def test_ways_to_acknowledge(
    hass: HomeAssistant, mosquitto: Mosquitto, bell_entry: MockConfigEntry, sentence: str
) -> None:
    await press(mosquitto, 4)
    await wait_for(hass, lambda: state_of(hass, CALL.format("service_bell", 4)) == "calling")
    assert (await ask(hass, sentence)).startswith("OK, table 4")
    assert state_of(hass, CALL.format("service_bell", 4)) == "acknowledged"


async def test_tables_by_their_names(
    hass: HomeAssistant,
    mosquitto: Mosquitto,
    bell_data: dict[str, Any],
    make_entry: Callable[..., MockConfigEntry],
) -> None:
    entry = make_entry(bell_data, {CONF_BUTTONS: 4, CONF_TABLE_NAMES: {"2": "Window table"}})
    assert await hass.config_entries.async_setup(entry.entry_id)
    await wait_for(hass, lambda: entry.runtime_data.bell.available)
    await press(mosquitto, 2)
    # Named, the table's entities are named (and their ids made) after it.
    window = "sensor.service_bell_window_table_call"
    await wait_for(hass, lambda: state_of(hass, window) == "calling")
    assert await ask(hass, "is the window table calling") == "Yes, Window table is calling"
    assert await ask(hass, "which tables are calling") == "Window table is calling"
    await press(mosquitto, 4)
    await wait_for(hass, lambda: state_of(hass, CALL.format("service_bell", 4)) == "calling")
    assert await ask(hass, "which tables are calling") == ("Window table and table 4 are calling")
    assert await ask(hass, "acknowledge the window table") == (
        "OK, Window table knows a waiter is on the way"
    )


@pytest.fixture
async def two_bells(
    hass: HomeAssistant,
    socket_enabled: None,
    tmp_path: Path,
    bell_data: dict[str, Any],
    make_entry: Callable[..., MockConfigEntry],
    mosquitto: Mosquitto,
) -> tuple[MockConfigEntry, MockConfigEntry]:
    terrace = make_entry({**bell_data, CONF_NAME: "Terrace"})
    bar = make_entry({**bell_data, CONF_NAME: "Bar", CONF_TOPIC: "blynk-bell/bar"})
    assert await hass.config_entries.async_setup(terrace.entry_id)  # Sets up both.
    for entry in (terrace, bar):
        await wait_for(hass, lambda entry=entry: entry.runtime_data.bell.available)
    return terrace, bar


async def test_with_several_bells_answers_say_which(
    hass: HomeAssistant,
    mosquitto: Mosquitto,
    two_bells: tuple[MockConfigEntry, MockConfigEntry],
) -> None:
    assert mosquitto.port == two_bells[0].data[CONF_PORT]
    await press(mosquitto, 3)
    await press(mosquitto, 1, topic="blynk-bell/bar")
    await wait_for(hass, lambda: state_of(hass, CALL.format("terrace", 3)) == "calling")
    await wait_for(hass, lambda: state_of(hass, CALL.format("bar", 1)) == "calling")

    assert await ask(hass, "which tables are calling") == (
        "Terrace: Table 3 is calling; Bar: Table 1 is calling"
    )
    assert await ask(hass, "is table 3 calling") == (
        "Terrace: Yes, table 3 is calling; Bar: No, table 3 is not calling"
    )
    assert await ask(hass, "is bar table 3 calling") == "No, table 3 is not calling"
    assert await ask(hass, "is table 3 on the terrace calling") == "Yes, table 3 is calling"

    # Only one bell's table 3 calls: "acknowledge table 3" can mean only that one.
    assert await ask(hass, "acknowledge table 3") == "OK, table 3 knows a waiter is on the way"
    assert state_of(hass, CALL.format("terrace", 3)) == "acknowledged"

    await press(mosquitto, 1)
    await wait_for(hass, lambda: state_of(hass, CALL.format("terrace", 1)) == "calling")
    assert await ask(hass, "acknowledge table 1") == ("Which one: Terrace table 1 and Bar table 1?")
    assert state_of(hass, CALL.format("bar", 1)) == "calling"
    assert await ask(hass, "acknowledge bar table 1") == (
        "OK, table 1 knows a waiter is on the way"
    )
    assert state_of(hass, CALL.format("bar", 1)) == "acknowledged"
    assert state_of(hass, CALL.format("terrace", 1)) == "calling"


async def test_a_silent_bell_is_mentioned(
    hass: HomeAssistant, mosquitto: Mosquitto, bell_entry: MockConfigEntry
) -> None:
    await mosquitto.publish(f"{TOPIC}/status", "offline", retain=True)
    await wait_for(hass, lambda: bell_entry.runtime_data.bell.offline_since is not None)
    bell_entry.runtime_data.bell.offline_since = dt_util.utcnow() - timedelta(minutes=7)
    assert await ask(hass, "is table 1 calling") == (
        "No, table 1 is not calling, but Service bell itself has been offline for 7 minutes"
    )
