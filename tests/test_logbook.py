"""The logbook says what happened: "Table 3 called", "Table 3 acknowledged after 3 min".

Presses go through a real Mosquitto, the recorder stores the events, and the lines are
read back through the logbook's websocket API, as the logbook panel and cards read them.
Durations come from presses the firmware dated earlier (`age_ms`): the test's clock does
not move.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
import itertools
import json
import time
from typing import Any

from homeassistant.components.recorder import Recorder
from homeassistant.const import ATTR_ENTITY_ID
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)
from pytest_homeassistant_custom_component.typing import (
    MockHAClientWebSocket,
    WebSocketGenerator,
)

from custom_components.blynk_bell.const import (
    CONF_NAME,
    CONF_RESET_AFTER,
    CONF_TABLE_NAMES,
    CONF_TOPIC,
    DOMAIN,
    EVENT_BELL,
)
from custom_components.blynk_bell.logbook import duration_text

from .conftest import TOPIC
from .helpers import wait_for
from .mosquitto import Mosquitto

ACK = "button.service_bell_acknowledge_table_{}"
SERVED = "button.service_bell_table_{}_served"
BELL_ACTIVE = "switch.service_bell_bell_active"

_SEQS = itertools.count(1)


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(
    recorder_mock: Recorder, enable_custom_integrations: None
) -> None:
    """The recorder first (before Home Assistant starts), then our integration."""


@pytest.fixture
async def logbook(hass: HomeAssistant, hass_ws_client: WebSocketGenerator) -> MockHAClientWebSocket:
    """The logbook, and a websocket client of the frontend to read it."""
    assert await async_setup_component(hass, "logbook", {})
    await hass.async_block_till_done()
    return await hass_ws_client(hass)


async def lines(
    hass: HomeAssistant, client: MockHAClientWebSocket, device_id: str | None = None
) -> list[str]:
    """The bell's logbook lines (name and message), oldest first."""
    await async_wait_recording_done(hass)
    query: dict[str, Any] = {
        "type": "logbook/get_events",
        "start_time": (dt_util.utcnow() - timedelta(hours=1)).isoformat(),
        "end_time": (dt_util.utcnow() + timedelta(hours=1)).isoformat(),
    }
    if device_id is not None:
        query["device_ids"] = [device_id]
    await client.send_json_auto_id(query)
    response = await client.receive_json()
    assert response["success"], response
    return [
        f"{entry['name']} {entry['message']}"
        for entry in response["result"]
        if entry.get("domain") == DOMAIN
    ]


async def press(mosquitto: Mosquitto, table: int, kind: str = "press", **extra: Any) -> None:
    """Press a table's button as our firmware reports it (numbered: never a bounce)."""
    payload = {"button": table, "event": kind, "seq": next(_SEQS), **extra}
    await mosquitto.publish(TOPIC, json.dumps(payload))


def bell_device(hass: HomeAssistant, entry: MockConfigEntry) -> str:
    device = dr.async_get(hass).async_get_device(identifiers={(DOMAIN, f"{entry.entry_id}_bell")})
    assert device is not None
    return device.id


async def logged(
    hass: HomeAssistant, client: MockHAClientWebSocket, device_id: str, count: int
) -> list[str]:
    """Wait until the bell's logbook has `count` lines, and return them."""
    deadline = time.monotonic() + 10
    while len(found := await lines(hass, client, device_id)) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"the logbook has {found}, not {count} lines")
        await asyncio.sleep(0.05)
    return found


# The real message path ------------------------------------------------------------------


async def test_a_call_from_press_to_acknowledgement_in_words(
    hass: HomeAssistant,
    mosquitto: Mosquitto,
    bell_entry: MockConfigEntry,
    logbook: MockHAClientWebSocket,
) -> None:
    device_id = bell_device(hass, bell_entry)

    # The guest pressed three minutes ago (the bell's queue delivered it late) and again now.
    await press(mosquitto, 3, age_ms=180_000)
    await logged(hass, logbook, device_id, 2)
    await press(mosquitto, 3)
    await logged(hass, logbook, device_id, 4)
    await hass.services.async_call(
        "button", "press", {ATTR_ENTITY_ID: ACK.format(3)}, blocking=True
    )

    assert await logged(hass, logbook, device_id, 5) == [
        "Table 3 pressed",
        "Table 3 called",
        "Table 3 pressed",
        "Table 3 reminded (2nd press after 3 min)",
        "Table 3 acknowledged after 3 min",
    ]


async def test_served_cancelled_and_cleared_calls_in_words(
    hass: HomeAssistant,
    mosquitto: Mosquitto,
    bell_data: dict[str, Any],
    make_entry: Callable[..., MockConfigEntry],
    logbook: MockHAClientWebSocket,
) -> None:
    entry = make_entry(bell_data, {CONF_RESET_AFTER: 900})
    assert await hass.config_entries.async_setup(entry.entry_id)
    await wait_for(hass, lambda: entry.runtime_data.bell.available)
    bell = entry.runtime_data.bell
    device_id = bell_device(hass, entry)

    # Served by a waiter who did not acknowledge first: the wait is the response time.
    await press(mosquitto, 2, age_ms=300_000)
    await wait_for(hass, lambda: bell.calling(2))
    await hass.services.async_call(
        "button", "press", {ATTR_ENTITY_ID: SERVED.format(2)}, blocking=True
    )
    # A long press with no call cancels nothing; with a call, the guest cancelled it.
    await press(mosquitto, 1, "long_press")
    await press(mosquitto, 1)
    await wait_for(hass, lambda: bell.calling(1))
    await press(mosquitto, 1, "long_press")
    await wait_for(hass, lambda: not bell.calling(1))
    # While the bell is closed a press calls nobody.
    await hass.services.async_call(
        "switch", "turn_off", {ATTR_ENTITY_ID: BELL_ACTIVE}, blocking=True
    )
    await press(mosquitto, 3)
    await logged(hass, logbook, device_id, 9)
    await hass.services.async_call(
        "switch", "turn_on", {ATTR_ENTITY_ID: BELL_ACTIVE}, blocking=True
    )
    # A double press calls too; nobody serves that call.
    await press(mosquitto, 4, "double_press")
    await wait_for(hass, lambda: bell.calling(4))
    called_at = bell.called_at(4)
    assert called_at is not None
    async_fire_time_changed(hass, called_at + timedelta(seconds=901))
    await wait_for(hass, lambda: not bell.calling(4))

    assert await logged(hass, logbook, device_id, 12) == [
        "Table 2 pressed",
        "Table 2 called",
        "Table 2 served after 5 min",
        "Table 1 long pressed",
        "Table 1 pressed",
        "Table 1 called",
        "Table 1 long pressed",
        "Table 1 cancelled by the guest within a second",
        "Table 3 pressed",
        "Table 4 double pressed",
        "Table 4 called",
        "Table 4 cleared after 15 min (nobody served it)",
    ]
    await hass.config_entries.async_unload(entry.entry_id)


async def entries_of(
    hass: HomeAssistant, client: MockHAClientWebSocket, device_id: str
) -> list[dict[str, Any]]:
    await async_wait_recording_done(hass)
    await client.send_json_auto_id(
        {
            "type": "logbook/get_events",
            "start_time": (dt_util.utcnow() - timedelta(hours=1)).isoformat(),
            "device_ids": [device_id],
        }
    )
    response = await client.receive_json()
    return [entry for entry in response["result"] if entry.get("domain") == DOMAIN]


async def test_lines_use_table_names_and_link_the_table_entities(
    hass: HomeAssistant,
    mosquitto: Mosquitto,
    bell_data: dict[str, Any],
    make_entry: Callable[..., MockConfigEntry],
    logbook: MockHAClientWebSocket,
) -> None:
    entry = make_entry(bell_data, {CONF_TABLE_NAMES: {"3": "Window table"}})
    assert await hass.config_entries.async_setup(entry.entry_id)
    await wait_for(hass, lambda: entry.runtime_data.bell.available)
    device_id = bell_device(hass, entry)
    registry = er.async_get(hass)

    def entity(table: int, platform: str, kind: str) -> str | None:
        return registry.async_get_entity_id(
            platform, DOMAIN, f"{entry.entry_id}_table_{table}_{kind}"
        )

    await press(mosquitto, 3)
    await press(mosquitto, 4)
    await logged(hass, logbook, device_id, 4)
    # An event that names its entity links there.
    hass.bus.async_fire(
        EVENT_BELL,
        {
            "device_id": device_id,
            "entry_id": entry.entry_id,
            "table": 3,
            "type": "call_served",
            "entity_id": "button.elsewhere",
        },
    )

    entries = await entries_of(hass, logbook, device_id)
    assert [(e["name"], e["message"], e["entity_id"], e["icon"]) for e in entries] == [
        ("Window table", "pressed", entity(3, "event", "event"), "mdi:gesture-tap-button"),
        ("Window table", "called", entity(3, "sensor", "call"), "mdi:bell-ring"),
        ("Table 4", "pressed", entity(4, "event", "event"), "mdi:gesture-tap-button"),
        ("Table 4", "called", entity(4, "sensor", "call"), "mdi:bell-ring"),
        ("Window table", "served", "button.elsewhere", "mdi:room-service"),
    ]
    assert None not in {e["entity_id"] for e in entries}
    await hass.config_entries.async_unload(entry.entry_id)


async def test_with_several_bells_the_bell_name_comes_first(
    hass: HomeAssistant,
    mosquitto: Mosquitto,
    bell_entry: MockConfigEntry,
    bell_data: dict[str, Any],
    make_entry: Callable[..., MockConfigEntry],
    logbook: MockHAClientWebSocket,
) -> None:
    terrace = make_entry({**bell_data, CONF_TOPIC: "terrace-bell", CONF_NAME: "Terrace"})
    assert await hass.config_entries.async_setup(terrace.entry_id)
    await wait_for(hass, lambda: terrace.runtime_data.bell.available)

    await mosquitto.publish("terrace-bell", json.dumps({"button": 1, "seq": next(_SEQS)}))
    await press(mosquitto, 1)
    assert await logged(hass, logbook, bell_device(hass, terrace), 2) == [
        "Terrace Table 1 pressed",
        "Terrace Table 1 called",
    ]
    assert await logged(hass, logbook, bell_device(hass, bell_entry), 2) == [
        "Service bell Table 1 pressed",
        "Service bell Table 1 called",
    ]
    await hass.config_entries.async_unload(terrace.entry_id)


# Every wording --------------------------------------------------------------------------


# (event data, logbook line); table 3 of a bell that is gone (no entry any more).
WORDINGS: list[tuple[dict[str, Any], str]] = [
    ({"type": "call_started", "reminders": 0, "wait_s": 0.0}, "Table 3 called"),
    (
        {"type": "call_reminded", "reminders": 2, "wait_s": 61},
        "Table 3 reminded (3rd press after 1 min)",
    ),
    ({"type": "call_reminded", "reminders": 10}, "Table 3 reminded (11th press)"),
    (
        {"type": "call_reminded", "reminders": 20, "wait_s": 30},
        "Table 3 reminded (21st press after 30 s)",
    ),
    ({"type": "call_reminded"}, "Table 3 reminded"),
    (
        {"type": "call_acknowledged", "response_s": 0.2, "wait_s": 0.2},
        "Table 3 acknowledged within a second",
    ),
    ({"type": "call_acknowledged", "response_s": 119.6}, "Table 3 acknowledged after 2 min"),
    # A second acknowledgement (after a reminder) has the wait, no response time.
    ({"type": "call_acknowledged", "wait_s": 3900}, "Table 3 acknowledged after 1 h 5 min"),
    ({"type": "call_acknowledged"}, "Table 3 acknowledged"),
    ({"type": "call_served", "response_s": 7200}, "Table 3 served after 2 h"),
    ({"type": "call_served", "wait_s": 300, "response_s": 300}, "Table 3 served after 5 min"),
    ({"type": "call_served"}, "Table 3 served"),
    ({"type": "call_cancelled", "reminders": 1}, "Table 3 cancelled by the guest"),
    ({"type": "call_cancelled", "wait_s": 45}, "Table 3 cancelled by the guest after 45 s"),
    ({"type": "call_cleared"}, "Table 3 cleared (nobody served it)"),
    (
        {"type": "call_cleared", "wait_s": 600},
        "Table 3 cleared after 10 min (nobody served it)",
    ),
    ({"type": "press"}, "Table 3 pressed"),
    ({"type": "long_press"}, "Table 3 long pressed"),
    ({"type": "double_press"}, "Table 3 double pressed"),
    # What a later version might send, or a broken record, still reads.
    ({"type": "call_escalated"}, "Table 3 call escalated"),
    ({"type": "call_acknowledged", "response_s": "soon"}, "Table 3 acknowledged"),
    ({"type": "call_acknowledged", "response_s": True}, "Table 3 acknowledged"),
    ({"type": "call_acknowledged", "response_s": -5}, "Table 3 acknowledged"),
    ({"type": "call_started", "table": "3"}, "Service bell called"),
    ({"type": "call_started", "table": None, "entry_id": None}, "Service bell called"),
    ({"table": 3}, "Table 3 sent an event"),
]


async def test_every_event_reads_as_words(
    hass: HomeAssistant, bell_entry: MockConfigEntry, logbook: MockHAClientWebSocket
) -> None:
    for data, _line in WORDINGS:
        hass.bus.async_fire(EVENT_BELL, {"entry_id": "gone", "table": 3, **data})
    assert await lines(hass, logbook) == [line for _data, line in WORDINGS]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "1 s"),
        (1.4, "1 s"),
        (59.4, "59 s"),
        (59.5, "1 min"),
        (89, "1 min"),
        (90, "2 min"),
        (3569, "59 min"),
        (3570, "1 h"),
        (5400, "1 h 30 min"),
        (86_400, "24 h"),
    ],
)
def test_durations_read_as_staff_say_them(seconds: float, text: str) -> None:
    assert duration_text(seconds) == text
