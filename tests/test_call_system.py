"""The call system: a call's life, response times, opening hours, feedback and health.

Presses come from a real Mosquitto; what the integration tells the bell is read back from
the broker with `mosquitto_sub`, as the firmware would receive it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
import itertools
import json
from typing import Any

from homeassistant.const import ATTR_ENTITY_ID, STATE_OFF, STATE_ON, STATE_UNKNOWN
from homeassistant.core import Context, HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
    async_fire_time_changed,
)

from custom_components.blynk_bell.const import CONF_BELL_KEY, CONF_SCHEDULE, DOMAIN, EVENT_BELL
from custom_components.blynk_bell.protocol.signing import (
    calls_text,
    health_text,
    key_bytes,
    sign,
    signature_matches,
)

from .conftest import TOPIC
from .helpers import state_of, wait_for
from .mosquitto import Mosquitto, _find
from .test_bell import ACK, CALLING, EVENT

CALL = "sensor.service_bell_table_{}_call"
WAIT = "sensor.service_bell_table_{}_waiting"
LAST_RESPONSE = "sensor.service_bell_table_{}_last_response_time"
SERVED = "button.service_bell_table_{}_served"
CALLS_TODAY = "sensor.service_bell_calls_today"
AVERAGE = "sensor.service_bell_average_response_time_today"
LONGEST = "sensor.service_bell_longest_response_time_today"
ACTIVE = "switch.service_bell_bell_active"
KEY = "7a" * 32
_SEQS = itertools.count(1)


async def press(mosquitto: Mosquitto, table: int, kind: str = "press", age_ms: int = 0) -> None:
    payload = {"button": table, "event": kind, "seq": next(_SEQS), "age_ms": age_ms}
    await mosquitto.publish(TOPIC, json.dumps(payload))


async def push(hass: HomeAssistant, entity_id: str) -> None:
    await hass.services.async_call("button", "press", {ATTR_ENTITY_ID: entity_id}, blocking=True)


def number(hass: HomeAssistant, entity_id: str) -> float:
    return float(state_of(hass, entity_id))


async def retained_calls(mosquitto: Mosquitto) -> dict[str, Any]:
    """Read the retained calls feedback as the bell would on connecting."""
    process = await asyncio.create_subprocess_exec(
        _find("mosquitto_sub"),
        *("-h", mosquitto.host, "-p", str(mosquitto.port), "-t", f"{TOPIC}/calls"),
        *("-C", "1", "-W", "5"),
        stdout=asyncio.subprocess.PIPE,
    )
    out, _err = await process.communicate()
    assert process.returncode == 0, "no retained calls message"
    data: dict[str, Any] = json.loads(out)
    return data


async def test_a_call_from_press_to_acknowledged_to_served(
    hass: HomeAssistant, mosquitto: Mosquitto, bell_entry: MockConfigEntry
) -> None:
    assert state_of(hass, CALL.format(3)) == "idle"
    await press(mosquitto, 3, age_ms=90_000)  # pressed 90 s ago, queued by the bell
    await wait_for(hass, lambda: state_of(hass, CALL.format(3)) == "calling")
    assert state_of(hass, CALLING.format(3)) == STATE_ON
    assert 1.4 <= number(hass, WAIT.format(3)) <= 1.6

    await push(hass, ACK.format(3))
    assert state_of(hass, CALL.format(3)) == "acknowledged"
    assert state_of(hass, CALLING.format(3)) == STATE_OFF  # Seen: no longer calling.
    assert 1.4 <= number(hass, LAST_RESPONSE.format(3)) <= 1.6

    await push(hass, SERVED.format(3))
    assert state_of(hass, CALL.format(3)) == "idle"
    assert state_of(hass, WAIT.format(3)) == STATE_UNKNOWN
    assert number(hass, CALLS_TODAY) == 1
    assert 1.4 <= number(hass, AVERAGE) <= 1.6
    assert number(hass, LONGEST) == number(hass, AVERAGE)


async def test_response_times_of_the_day_and_the_reset_at_midnight(
    hass: HomeAssistant, mosquitto: Mosquitto, bell_entry: MockConfigEntry
) -> None:
    await press(mosquitto, 1, age_ms=60_000)
    await press(mosquitto, 2, age_ms=180_000)
    await wait_for(hass, lambda: state_of(hass, CALL.format(2)) == "calling")
    await wait_for(hass, lambda: state_of(hass, CALL.format(1)) == "calling")
    await push(hass, SERVED.format(1))  # served without an acknowledgement: 1 min
    await push(hass, ACK.format(2))  # 3 min
    assert number(hass, CALLS_TODAY) == 2
    assert 1.9 <= number(hass, AVERAGE) <= 2.1
    assert 2.9 <= number(hass, LONGEST) <= 3.1
    for entity_id in (CALLS_TODAY, AVERAGE, LONGEST, LAST_RESPONSE.format(1)):
        assert hass.states.get(entity_id).attributes["state_class"] in (
            "measurement",
            "total_increasing",
        )

    midnight = dt_util.start_of_local_day() + timedelta(days=1)
    async_fire_time_changed(hass, midnight)
    await hass.async_block_till_done()
    assert number(hass, CALLS_TODAY) == 0
    assert state_of(hass, AVERAGE) == STATE_UNKNOWN
    assert 2.9 <= number(hass, LAST_RESPONSE.format(2)) <= 3.1  # A table's last stays.


async def test_a_repeat_press_is_a_reminder_and_the_wait_counts_from_the_first(
    hass: HomeAssistant, mosquitto: Mosquitto, bell_entry: MockConfigEntry
) -> None:
    events = async_capture_events(hass, EVENT_BELL)
    await press(mosquitto, 4, age_ms=120_000)
    await wait_for(hass, lambda: state_of(hass, CALL.format(4)) == "calling")
    await press(mosquitto, 4)
    await wait_for(hass, lambda: hass.states.get(CALL.format(4)).attributes["reminders"] == 1)
    assert 1.9 <= number(hass, WAIT.format(4)) <= 2.1
    assert number(hass, CALLS_TODAY) == 1
    kinds = [event.data["type"] for event in events if event.data["table"] == 4]
    assert kinds == ["press", "call_started", "press", "call_reminded"]
    device = dr.async_get(hass).async_get_device({(DOMAIN, f"{bell_entry.entry_id}_bell")})
    assert device is not None
    assert {event.data["device_id"] for event in events} == {device.id}


async def test_a_cancelled_call_shows_for_a_minute(
    hass: HomeAssistant, mosquitto: Mosquitto, bell_entry: MockConfigEntry
) -> None:
    await press(mosquitto, 2)
    await wait_for(hass, lambda: state_of(hass, CALL.format(2)) == "calling")
    await press(mosquitto, 2, "long_press")
    await wait_for(hass, lambda: state_of(hass, CALL.format(2)) == "cancelled")
    assert state_of(hass, CALLING.format(2)) == STATE_OFF
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=61))
    await hass.async_block_till_done()
    assert state_of(hass, CALL.format(2)) == "idle"


async def test_outside_opening_hours_a_press_is_an_event_but_no_call(
    hass: HomeAssistant, mosquitto: Mosquitto, bell_entry: MockConfigEntry
) -> None:
    await hass.services.async_call("switch", "turn_off", {ATTR_ENTITY_ID: ACTIVE}, blocking=True)
    assert (await retained_calls(mosquitto))["open"] == 0
    before = hass.states.get(EVENT.format(1))
    await press(mosquitto, 1)
    await wait_for(hass, lambda: hass.states.get(EVENT.format(1)) != before)
    assert state_of(hass, CALL.format(1)) == "idle"
    assert number(hass, CALLS_TODAY) == 0

    await hass.services.async_call("switch", "turn_on", {ATTR_ENTITY_ID: ACTIVE}, blocking=True)
    await press(mosquitto, 1)
    await wait_for(hass, lambda: state_of(hass, CALL.format(1)) == "calling")
    # Closed stays closed across a restart.
    await hass.services.async_call("switch", "turn_off", {ATTR_ENTITY_ID: ACTIVE}, blocking=True)
    await hass.config_entries.async_reload(bell_entry.entry_id)
    await wait_for(hass, lambda: bell_entry.runtime_data.bell.available)
    assert state_of(hass, ACTIVE) == STATE_OFF


async def test_the_bell_follows_a_schedule_helper(
    hass: HomeAssistant,
    mosquitto: Mosquitto,
    bell_data: dict[str, Any],
    make_entry: Callable[..., MockConfigEntry],
) -> None:
    # Open all day on no day: the schedule is off now.
    assert await async_setup_component(
        hass, "schedule", {"schedule": {"opening_hours": {"name": "Opening hours"}}}
    )
    entry = make_entry(bell_data, {CONF_SCHEDULE: "schedule.opening_hours"})
    assert await hass.config_entries.async_setup(entry.entry_id)
    await wait_for(hass, lambda: entry.runtime_data.bell.available)
    assert state_of(hass, "schedule.opening_hours") == STATE_OFF
    assert state_of(hass, ACTIVE) == STATE_OFF
    assert hass.states.get(ACTIVE).attributes["schedule"] == "schedule.opening_hours"
    await press(mosquitto, 2)
    await wait_for(hass, lambda: hass.states.get(EVENT.format(2)).state != STATE_UNKNOWN)
    assert state_of(hass, CALL.format(2)) == "idle"

    # Staff open by hand; the schedule rewriting its attributes (its next event, at every
    # boundary) does not close the bell again, only a change of its state would.
    await hass.services.async_call("switch", "turn_on", {ATTR_ENTITY_ID: ACTIVE}, blocking=True)
    schedule = hass.states.get("schedule.opening_hours")
    assert schedule is not None
    hass.states.async_set(
        schedule.entity_id, STATE_OFF, {**schedule.attributes, "next_event": None}
    )
    await hass.async_block_till_done()
    assert state_of(hass, ACTIVE) == STATE_ON


async def test_the_bell_is_told_each_tables_call_retained_and_signed(
    hass: HomeAssistant,
    mosquitto: Mosquitto,
    bell_data: dict[str, Any],
    make_entry: Callable[..., MockConfigEntry],
) -> None:
    entry = make_entry({**bell_data, CONF_BELL_KEY: KEY})
    assert await hass.config_entries.async_setup(entry.entry_id)
    await wait_for(hass, lambda: entry.runtime_data.bell.available)

    def verified(data: dict[str, Any]) -> bool:
        text = calls_text(
            TOPIC,
            boot=data["boot"],
            n=data["n"],
            is_open=bool(data["open"]),
            tables=data["tables"],
        )
        return signature_matches(key_bytes(KEY), text, data["sig"])

    first = await retained_calls(mosquitto)
    assert first["tables"] == "iiii"
    assert verified(first)
    entry.runtime_data.bell.desk.press(3, dt_util.utcnow(), may_call=True)
    await hass.async_block_till_done()
    calling = await retained_calls(mosquitto)
    assert calling["tables"] == "iici"
    assert calling["n"] > first["n"]
    assert verified(calling)
    await push(hass, ACK.format(3))
    seen = await retained_calls(mosquitto)
    assert seen["tables"] == "iiai"
    assert seen["open"] == 1
    assert verified(seen)
    # n keeps growing across a restart: the bell refuses nothing new as old.
    await hass.config_entries.async_reload(entry.entry_id)
    await wait_for(hass, lambda: entry.runtime_data.bell.available)
    assert (await retained_calls(mosquitto))["n"] > seen["n"]


def signed_health(**values: Any) -> str:
    data = {
        "boot": 3,
        "n": 1,
        "fw": "1.2.0",
        "rssi": -61,
        "uptime_s": 3600,
        "dropped": 2,
        "vsys_mv": 3420,
        **values,
    }
    text = health_text(
        TOPIC,
        boot=data["boot"],
        n=data["n"],
        firmware=data["fw"],
        rssi=data["rssi"],
        uptime_s=data["uptime_s"],
        dropped=data["dropped"],
        vsys_mv=data["vsys_mv"],
    )
    return json.dumps({**data, "sig": sign(key_bytes(KEY), text)})


@pytest.mark.parametrize("keyed", [False, True])
async def test_the_bells_health(
    hass: HomeAssistant,
    mosquitto: Mosquitto,
    bell_data: dict[str, Any],
    make_entry: Callable[..., MockConfigEntry],
    keyed: bool,
) -> None:
    entry = make_entry({**bell_data, CONF_BELL_KEY: KEY if keyed else ""})
    assert await hass.config_entries.async_setup(entry.entry_id)
    await wait_for(hass, lambda: entry.runtime_data.bell.available)
    assert state_of(hass, "binary_sensor.service_bell_battery_low") == STATE_UNKNOWN

    await mosquitto.publish(f"{TOPIC}/health", signed_health())
    await wait_for(hass, lambda: entry.runtime_data.bell.health is not None)
    assert state_of(hass, "sensor.service_bell_supply_voltage") == "3.42"
    assert state_of(hass, "sensor.service_bell_presses_dropped") == "2"
    assert state_of(hass, "binary_sensor.service_bell_battery_low") == STATE_ON
    started = dt_util.parse_datetime(state_of(hass, "sensor.service_bell_started"))
    assert started is not None
    assert abs((dt_util.utcnow() - started) - timedelta(hours=1)) < timedelta(seconds=5)
    device = dr.async_get(hass).async_get_device({(DOMAIN, f"{entry.entry_id}_bell")})
    assert device is not None
    assert device.sw_version == "1.2.0"

    # An older report, a forged one and garbage change nothing.
    for payload in (
        signed_health(n=1, vsys_mv=4100),
        signed_health(n=2, vsys_mv=4100).replace('"rssi": -61', '"rssi": -20')
        if keyed
        else json.dumps({"boot": 3, "n": 2, "fw": "x" * 40}),
        '{"boot": 3, "n": 3, "fw": "1.2.0", "rssi": 5, "uptime_s": 1, "dropped": 0}',
    ):
        await mosquitto.publish(f"{TOPIC}/health", payload)
    await mosquitto.publish(f"{TOPIC}/health", signed_health(n=4, vsys_mv=3900))
    await wait_for(hass, lambda: state_of(hass, "sensor.service_bell_supply_voltage") == "3.9")
    assert entry.runtime_data.bell.gate.rejected.total() == 3
    assert state_of(hass, "binary_sensor.service_bell_battery_low") == STATE_OFF


async def test_call_events_name_the_table_entity_and_who_acknowledged(
    hass: HomeAssistant, mosquitto: Mosquitto, bell_entry: MockConfigEntry, hass_admin_user: Any
) -> None:
    events = async_capture_events(hass, EVENT_BELL)
    await press(mosquitto, 2, age_ms=30_000)
    await wait_for(hass, lambda: state_of(hass, CALL.format(2)) == "calling")
    context = Context(user_id=hass_admin_user.id)
    await hass.services.async_call(
        "button", "press", {ATTR_ENTITY_ID: ACK.format(2)}, blocking=True, context=context
    )
    acknowledged = [event for event in events if event.data["type"] == "call_acknowledged"]
    assert len(acknowledged) == 1
    assert acknowledged[0].context.user_id == hass_admin_user.id
    assert acknowledged[0].data["entity_id"] == CALL.format(2)
    assert 29 <= acknowledged[0].data["wait_s"] <= 32
    pressed = next(event for event in events if event.data["type"] == "press")
    assert pressed.data["entity_id"] == EVENT.format(2)
