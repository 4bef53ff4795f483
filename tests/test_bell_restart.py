"""Restarts and outages: what the broker delivers afterwards wins over restored state.

Home Assistant restarts are an unload and a set-up of the entry against a broker that
keeps the bell's persistent session (real Mosquitto), so presses made meanwhile arrive
right after reconnecting, before the entities restore their last state.
"""

from __future__ import annotations

from datetime import timedelta
import json
from typing import Any

from homeassistant.const import ATTR_ENTITY_ID, STATE_OFF, STATE_ON, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from .conftest import TOPIC
from .helpers import state_of, wait_for
from .mosquitto import Mosquitto
from .test_bell import ACK, CALLING, EVENT, PressRecorder


@pytest.fixture
def recorder(hass: HomeAssistant) -> PressRecorder:
    return PressRecorder(hass)


def called_at(hass: HomeAssistant, table: int) -> Any:
    state = hass.states.get(CALLING.format(table))
    assert state is not None
    return dt_util.parse_datetime(state.attributes["called_at"])


async def restart(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    assert await hass.config_entries.async_setup(entry.entry_id)
    await wait_for(hass, lambda: entry.runtime_data.bell.available)
    await hass.async_block_till_done()


async def test_a_cancel_made_while_home_assistant_was_away_stays_cancelled(
    hass: HomeAssistant, mosquitto: Mosquitto, bell_entry: MockConfigEntry
) -> None:
    await mosquitto.publish(TOPIC, json.dumps({"button": 2, "event": "press", "seq": 1}))
    await wait_for(hass, lambda: state_of(hass, CALLING.format(2)) == STATE_ON)
    assert await hass.config_entries.async_unload(bell_entry.entry_id)

    await mosquitto.publish(TOPIC, json.dumps({"button": 2, "event": "long_press", "seq": 2}))
    await restart(hass, bell_entry)
    await wait_for(hass, lambda: hass.states.get(EVENT.format(2)).attributes.get("seq") == 2)
    assert state_of(hass, CALLING.format(2)) == STATE_OFF


async def test_a_fresh_press_made_while_away_keeps_its_own_time(
    hass: HomeAssistant, mosquitto: Mosquitto, bell_entry: MockConfigEntry
) -> None:
    old = json.dumps({"button": 3, "event": "press", "seq": 1, "age_ms": 200_000})
    await mosquitto.publish(TOPIC, old)
    await wait_for(hass, lambda: state_of(hass, CALLING.format(3)) == STATE_ON)
    first = called_at(hass, 3)
    assert await hass.config_entries.async_unload(bell_entry.entry_id)

    await mosquitto.publish(TOPIC, json.dumps({"button": 3, "event": "press", "seq": 2}))
    await restart(hass, bell_entry)
    await wait_for(hass, lambda: hass.states.get(EVENT.format(3)).attributes.get("seq") == 2)
    attributes = hass.states.get(CALLING.format(3)).attributes
    # A reminder of the restored call: the wait counts from the first press, and the call
    # runs until "Clear a call after" from the fresh press, not from the old one.
    assert called_at(hass, 3) == first
    assert attributes["reminders"] == 1
    fresh = dt_util.parse_datetime(attributes["last_pressed_at"])
    assert fresh is not None
    assert fresh - first > timedelta(seconds=190)
    async_fire_time_changed(hass, first + timedelta(seconds=301))
    await hass.async_block_till_done()
    assert state_of(hass, CALLING.format(3)) == STATE_ON
    async_fire_time_changed(hass, fresh + timedelta(seconds=301))
    await hass.async_block_till_done()
    assert state_of(hass, CALLING.format(3)) == STATE_OFF


async def test_an_untouched_call_is_restored(
    hass: HomeAssistant, mosquitto: Mosquitto, bell_entry: MockConfigEntry
) -> None:
    await mosquitto.publish(TOPIC, json.dumps({"button": 1, "event": "press", "seq": 1}))
    await wait_for(hass, lambda: state_of(hass, CALLING.format(1)) == STATE_ON)
    first = called_at(hass, 1)
    assert await hass.config_entries.async_unload(bell_entry.entry_id)
    await restart(hass, bell_entry)
    assert state_of(hass, CALLING.format(1)) == STATE_ON
    assert called_at(hass, 1) == first


@pytest.mark.parametrize(("away_minutes", "calls"), [(0, True), (10, False)])
async def test_a_late_tutorial_press_calls_only_after_a_short_absence(
    hass: HomeAssistant,
    mosquitto: Mosquitto,
    bell_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
    recorder: PressRecorder,
    away_minutes: int,
    calls: bool,
) -> None:
    assert await hass.config_entries.async_unload(bell_entry.entry_id)
    stored = hass_storage[f"blynk_bell.{bell_entry.entry_id}.bell"]["data"]
    stopped = dt_util.parse_datetime(stored["stopped_at"])
    assert stopped is not None
    stored["stopped_at"] = (stopped - timedelta(minutes=away_minutes)).isoformat()

    # Queued by the broker: the tutorial's text says nothing of when it was pressed.
    await mosquitto.publish(TOPIC, "button 4 is pressed")
    await restart(hass, bell_entry)
    await wait_for(hass, lambda: "4" in recorder.tables)
    assert state_of(hass, CALLING.format(4)) == (STATE_ON if calls else STATE_OFF)


async def test_a_call_can_be_acknowledged_while_the_broker_is_down(
    hass: HomeAssistant, mosquitto: Mosquitto, bell_entry: MockConfigEntry
) -> None:
    await mosquitto.publish(TOPIC, "button 2 is pressed")
    await wait_for(hass, lambda: state_of(hass, CALLING.format(2)) == STATE_ON)
    await mosquitto.stop()
    await wait_for(hass, lambda: state_of(hass, EVENT.format(2)) == STATE_UNAVAILABLE)
    assert state_of(hass, CALLING.format(2)) == STATE_ON
    assert state_of(hass, ACK.format(2)) != STATE_UNAVAILABLE

    await hass.services.async_call(
        "button", "press", {ATTR_ENTITY_ID: ACK.format(2)}, blocking=True
    )
    assert state_of(hass, CALLING.format(2)) == STATE_OFF


async def test_presses_waiting_for_their_pace_survive_a_restart(
    hass: HomeAssistant,
    mosquitto: Mosquitto,
    bell_entry: MockConfigEntry,
    recorder: PressRecorder,
) -> None:
    # A burst passes at once, the rest waits its turn (2 a second): a restart meanwhile
    # must not lose what waited, and must not deliver anything twice.
    for seq in range(1, 13):
        await mosquitto.publish(TOPIC, json.dumps({"button": 1, "event": "press", "seq": seq}))
    await wait_for(hass, lambda: len(recorder.presses) >= 4)
    assert await hass.config_entries.async_unload(bell_entry.entry_id)
    assert len(recorder.presses) < 12

    await restart(hass, bell_entry)
    await wait_for(hass, lambda: len(recorder.presses) >= 12, timeout=15)
    await hass.async_block_till_done()
    seqs = [attributes["seq"] for _entity, _type, attributes in recorder.presses]
    assert sorted(seqs) == list(range(1, 13))
