"""The service bell in Home Assistant: presses from a real Mosquitto reach the entities."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
import itertools
import json
import logging
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import ATTR_ENTITY_ID, STATE_OFF, STATE_ON, STATE_UNAVAILABLE
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)

from custom_components.blynk_bell.const import CONF_BUTTONS, CONF_RESET_AFTER, DOMAIN
from custom_components.blynk_bell.protocol.bell import Rejection
from custom_components.blynk_bell.service_bell import bell_client_id

from .conftest import TOPIC
from .helpers import state_of, wait_for
from .mosquitto import Mosquitto

CALLING = "binary_sensor.service_bell_table_{}_calling"
EVENT = "event.service_bell_table_{}"
ACK = "button.service_bell_acknowledge_table_{}"
BELL_CONNECTED = "binary_sensor.service_bell_bell_connected"


class PressRecorder:
    """Collects every event the table event entities fire."""

    def __init__(self, hass: HomeAssistant) -> None:
        self.presses: list[tuple[str, str, dict[str, Any]]] = []
        self._last: dict[str, str] = {}

        @callback
        def record(event: Event[EventStateChangedData]) -> None:
            new = event.data["new_state"]
            if new is None or not new.entity_id.startswith("event.service_bell_table_"):
                return
            if new.state in ("unknown", STATE_UNAVAILABLE) or "event_type" not in new.attributes:
                return
            old = event.data["old_state"]
            if old is not None and old.state == new.state:
                return
            if self._last.get(new.entity_id) == new.state:
                return  # Restored after a reload: the same event as before.
            self._last[new.entity_id] = new.state
            self.presses.append((new.entity_id, new.attributes["event_type"], dict(new.attributes)))

        self.unsubscribe = hass.bus.async_listen("state_changed", record)

    @property
    def tables(self) -> list[str]:
        return [entity_id.rsplit("_", 1)[1] for entity_id, _type, _attrs in self.presses]


@pytest.fixture
def recorder(hass: HomeAssistant) -> PressRecorder:
    return PressRecorder(hass)


# Numbered, so that markers sent in quick succession are not taken for switch bounces.
_MARKER_SEQS = itertools.count(1_000_000)


async def press_and_settle(
    hass: HomeAssistant, mosquitto: Mosquitto, payload: bytes | str, **kwargs: Any
) -> None:
    """Publish, then publish a marker press and wait for it: earlier messages were handled."""
    await mosquitto.publish(TOPIC, payload, **kwargs)
    before = hass.states.get(EVENT.format(1))
    marker = {"button": 1, "event": "double_press", "seq": next(_MARKER_SEQS)}
    await mosquitto.publish(TOPIC, json.dumps(marker))
    await wait_for(hass, lambda: hass.states.get(EVENT.format(1)) != before)


# Payload forms ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        "button 3 is pressed",
        "Button 3 Is Pressed",
        "BUTTON 3 IS PRESSED",
        "  button 3 is pressed  ",
        "button 3 is pressed\n",
        "button 3 is pressed\r\n",
        b"button 3 is pressed\x00",
        '{"button": 3, "event": "press"}',
        '{"button": 3}',
        '{"button": 3, "event": "press", "seq": 17}',
        '{"button": 3, "event": "press", "seq": 17, "age_ms": 120}',
    ],
)
async def test_press_forms_fire_event_and_call(
    hass: HomeAssistant,
    mosquitto: Mosquitto,
    bell_entry: MockConfigEntry,
    recorder: PressRecorder,
    payload: str | bytes,
) -> None:
    assert state_of(hass, CALLING.format(3)) == STATE_OFF
    await mosquitto.publish(TOPIC, payload)
    await wait_for(hass, lambda: state_of(hass, CALLING.format(3)) == STATE_ON)
    assert recorder.tables == ["3"]
    event = hass.states.get(EVENT.format(3))
    assert event is not None
    assert event.attributes["event_type"] == "press"
    assert "pressed_at" in event.attributes
    assert state_of(hass, CALLING.format(1)) == STATE_OFF


async def test_event_entity_describes_its_button(
    hass: HomeAssistant, bell_entry: MockConfigEntry
) -> None:
    state = hass.states.get(EVENT.format(2))
    assert state is not None
    assert state.attributes["device_class"] == "button"
    assert state.attributes["event_types"] == ["press", "long_press", "double_press"]
    assert state.attributes["friendly_name"] == "Service bell Table 2"
    assert hass.states.get(CALLING.format(2)).attributes["friendly_name"] == (
        "Service bell Table 2 calling"
    )
    assert hass.states.get(ACK.format(2)).attributes["friendly_name"] == (
        "Service bell Acknowledge table 2"
    )


async def test_json_press_carries_seq_and_press_time(
    hass: HomeAssistant, mosquitto: Mosquitto, bell_entry: MockConfigEntry
) -> None:
    before = dt_util.utcnow()
    await mosquitto.publish(
        TOPIC, json.dumps({"button": 2, "event": "press", "seq": 41, "age_ms": 5000})
    )
    await wait_for(hass, lambda: state_of(hass, CALLING.format(2)) == STATE_ON)
    attributes = hass.states.get(EVENT.format(2)).attributes
    assert attributes["seq"] == 41
    assert attributes["age_ms"] == 5000
    pressed_at = dt_util.parse_datetime(attributes["pressed_at"])
    assert pressed_at is not None
    assert before - timedelta(seconds=6) < pressed_at < before - timedelta(seconds=4)


async def test_double_press_event_type(
    hass: HomeAssistant, mosquitto: Mosquitto, bell_entry: MockConfigEntry
) -> None:
    await mosquitto.publish(TOPIC, json.dumps({"button": 4, "event": "double_press"}))
    await wait_for(hass, lambda: state_of(hass, CALLING.format(4)) == STATE_ON)
    assert hass.states.get(EVENT.format(4)).attributes["event_type"] == "double_press"


async def test_every_press_fires_even_while_already_calling(
    hass: HomeAssistant, mosquitto: Mosquitto, bell_entry: MockConfigEntry, recorder: PressRecorder
) -> None:
    # Three presses a second apart (queued by the bell and delivered together).
    for seq, age_ms in ((1, 2000), (2, 1000), (3, 0)):
        await mosquitto.publish(
            TOPIC, json.dumps({"button": 2, "event": "press", "seq": seq, "age_ms": age_ms})
        )
    await wait_for(hass, lambda: len(recorder.presses) == 3)
    assert recorder.tables == ["2", "2", "2"]
    assert state_of(hass, CALLING.format(2)) == STATE_ON


async def test_the_tutorial_firmwares_bounces_are_one_press(
    hass: HomeAssistant,
    mosquitto: Mosquitto,
    bell_entry: MockConfigEntry,
    recorder: PressRecorder,
    caplog: pytest.LogCaptureFixture,
) -> None:
    for _ in range(3):
        await mosquitto.publish(TOPIC, "button 4 is pressed")
        await asyncio.sleep(0.01)
    await press_and_settle(hass, mosquitto, "button 3 is pressed")
    assert recorder.tables.count("4") == 1
    assert bell_entry.runtime_data.bell.gate.rejected[Rejection.BOUNCE] == 2
    # Bounces are normal traffic, not news.
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    # A press after the bounce window is a new press.
    await asyncio.sleep(0.5)
    await press_and_settle(hass, mosquitto, "button 4 is pressed")
    assert recorder.tables.count("4") == 2


# Bad input -----------------------------------------------------------------------------

BAD_PAYLOADS = [
    b"\xff\xfe button 1 is pressed",
    b"button 0 is pressed",
    b"button 5 is pressed",
    b"button 99999999 is pressed",
    b"button -1 is pressed",
    b"button three is pressed",
    b"button 1 was pressed",
    b"",
    b"   ",
    b"{",
    b"[1, 2]",
    b'"button 1 is pressed"',
    b'{"button": "1"}',
    b'{"button": 1.0}',
    b'{"button": true}',
    b'{"button": null}',
    b'{"event": "press"}',
    b'{"button": 1, "event": "explode"}',
    b'{"button": 1, "event": 5}',
    b'{"button": 1, "seq": "7"}',
    b'{"button": 1, "seq": 7.5}',
    b'{"button": 1, "age_ms": -5}',
    b'{"button": 1, "age_ms": "soon"}',
    b'{"button": 9}',
    b'{"button": 1, "pad": "' + b"x" * 5000 + b'"}',
    b"button 1 is pressed" + b" " * 100_000,
]


@pytest.mark.parametrize("payload", BAD_PAYLOADS)
async def test_bad_payloads_change_nothing(
    hass: HomeAssistant,
    mosquitto: Mosquitto,
    bell_entry: MockConfigEntry,
    recorder: PressRecorder,
    payload: bytes,
) -> None:
    await press_and_settle(hass, mosquitto, payload)
    # Only the settle marker (table 1, double press) got through.
    assert [
        (table, kind) for table, kind in zip(recorder.tables, _kinds(recorder), strict=True)
    ] == [("1", "double_press")]
    for table in (2, 3, 4):
        assert state_of(hass, CALLING.format(table)) == STATE_OFF
    assert bell_entry.runtime_data.bell.available


def _kinds(recorder: PressRecorder) -> list[str]:
    return [kind for _entity, kind, _attrs in recorder.presses]


async def test_bad_payload_warns_at_most_once_a_minute(
    hass: HomeAssistant,
    mosquitto: Mosquitto,
    bell_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="custom_components.blynk_bell")
    for payload in (b"nonsense", b"button 9 is pressed", b"{"):
        await press_and_settle(hass, mosquitto, payload)
    warnings = [
        record
        for record in caplog.records
        if record.levelno == logging.WARNING and "Ignored a message" in record.getMessage()
    ]
    assert len(warnings) == 1
    debug_lines = [r for r in caplog.records if r.levelno == logging.DEBUG and "Ignored" in r.msg]
    assert len(debug_lines) >= 2


async def test_retained_press_is_ignored(
    hass: HomeAssistant,
    mosquitto: Mosquitto,
    bell_data: dict[str, Any],
    make_entry: Callable[..., MockConfigEntry],
    recorder: PressRecorder,
) -> None:
    await mosquitto.publish(TOPIC, "button 2 is pressed", retain=True)
    entry = make_entry(bell_data)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await wait_for(hass, lambda: entry.runtime_data.bell.available)
    await press_and_settle(hass, mosquitto, "button 3 is pressed")
    assert state_of(hass, CALLING.format(2)) == STATE_OFF
    assert "2" not in recorder.tables
    assert state_of(hass, CALLING.format(3)) == STATE_ON


async def test_redelivered_seq_is_ignored(
    hass: HomeAssistant, mosquitto: Mosquitto, bell_entry: MockConfigEntry, recorder: PressRecorder
) -> None:
    press = json.dumps({"button": 2, "event": "press", "seq": 1000})
    await mosquitto.publish(TOPIC, press)
    await mosquitto.publish(TOPIC, press)
    await mosquitto.publish(TOPIC, json.dumps({"button": 2, "event": "press", "seq": 999}))
    await mosquitto.publish(TOPIC, press)
    await wait_for(hass, lambda: len(recorder.presses) >= 2)
    await press_and_settle(hass, mosquitto, press)
    table_2_seqs = [
        attrs.get("seq") for entity_id, _kind, attrs in recorder.presses if entity_id.endswith("2")
    ]
    assert table_2_seqs == [1000, 999]


# Acknowledge, reset_after and restore ------------------------------------------------


async def test_acknowledge_clears_only_that_table(
    hass: HomeAssistant, mosquitto: Mosquitto, bell_entry: MockConfigEntry
) -> None:
    await mosquitto.publish(TOPIC, "button 1 is pressed")
    await mosquitto.publish(TOPIC, "button 2 is pressed")
    await wait_for(hass, lambda: state_of(hass, CALLING.format(2)) == STATE_ON)
    await wait_for(hass, lambda: state_of(hass, CALLING.format(1)) == STATE_ON)

    await hass.services.async_call(
        "button", "press", {ATTR_ENTITY_ID: ACK.format(1)}, blocking=True
    )
    assert state_of(hass, CALLING.format(1)) == STATE_OFF
    assert state_of(hass, CALLING.format(2)) == STATE_ON


async def test_call_clears_after_reset_after(
    hass: HomeAssistant, mosquitto: Mosquitto, bell_entry: MockConfigEntry
) -> None:
    await mosquitto.publish(TOPIC, "button 3 is pressed")
    await wait_for(hass, lambda: state_of(hass, CALLING.format(3)) == STATE_ON)
    called_at = dt_util.parse_datetime(hass.states.get(CALLING.format(3)).attributes["called_at"])
    assert called_at is not None

    async_fire_time_changed(hass, called_at + timedelta(seconds=299))
    await hass.async_block_till_done()
    assert state_of(hass, CALLING.format(3)) == STATE_ON

    async_fire_time_changed(hass, called_at + timedelta(seconds=301))
    await hass.async_block_till_done()
    assert state_of(hass, CALLING.format(3)) == STATE_OFF
    assert "called_at" not in hass.states.get(CALLING.format(3)).attributes


async def test_a_repeat_press_keeps_the_calls_start_and_extends_it(
    hass: HomeAssistant,
    mosquitto: Mosquitto,
    bell_data: dict[str, Any],
    make_entry: Callable[..., MockConfigEntry],
) -> None:
    entry = make_entry(bell_data, {CONF_BUTTONS: 4, CONF_RESET_AFTER: 60})
    assert await hass.config_entries.async_setup(entry.entry_id)
    await wait_for(hass, lambda: entry.runtime_data.bell.available)
    # A press made 30 s ago (queued by the firmware), then a fresh one: a reminder.
    await mosquitto.publish(TOPIC, '{"button": 1, "seq": 4, "age_ms": 30000}')
    await wait_for(hass, lambda: state_of(hass, CALLING.format(1)) == STATE_ON)
    first = dt_util.parse_datetime(hass.states.get(CALLING.format(1)).attributes["called_at"])
    await mosquitto.publish(TOPIC, '{"button": 1, "seq": 5}')
    await wait_for(
        hass, lambda: hass.states.get(CALLING.format(1)).attributes.get("reminders") == 1
    )
    # The wait still counts from the first press ...
    assert hass.states.get(CALLING.format(1)).attributes["called_at"] == first.isoformat()
    # ... and the call clears a minute after the last press, not the first.
    async_fire_time_changed(hass, first + timedelta(seconds=61))
    await hass.async_block_till_done()
    assert state_of(hass, CALLING.format(1)) == STATE_ON
    async_fire_time_changed(hass, first + timedelta(seconds=92))
    await hass.async_block_till_done()
    assert state_of(hass, CALLING.format(1)) == STATE_OFF


async def test_press_older_than_reset_after_fires_but_does_not_call(
    hass: HomeAssistant, mosquitto: Mosquitto, bell_entry: MockConfigEntry, recorder: PressRecorder
) -> None:
    await press_and_settle(
        hass, mosquitto, json.dumps({"button": 3, "event": "press", "seq": 8, "age_ms": 301_000})
    )
    assert ("3", "press") in [
        (t, k) for t, k in zip(recorder.tables, _kinds(recorder), strict=True)
    ]
    assert state_of(hass, CALLING.format(3)) == STATE_OFF


async def test_long_press_cancels_the_call(
    hass: HomeAssistant, mosquitto: Mosquitto, bell_entry: MockConfigEntry
) -> None:
    await mosquitto.publish(TOPIC, json.dumps({"button": 2, "event": "press", "seq": 1}))
    await wait_for(hass, lambda: state_of(hass, CALLING.format(2)) == STATE_ON)
    await mosquitto.publish(TOPIC, json.dumps({"button": 2, "event": "long_press", "seq": 2}))
    await wait_for(hass, lambda: state_of(hass, CALLING.format(2)) == STATE_OFF)
    assert hass.states.get(EVENT.format(2)).attributes["event_type"] == "long_press"


# The link: availability, persistence, setup and unload --------------------------------


async def test_bell_entities_unavailable_while_broker_down_and_back_after(
    hass: HomeAssistant,
    mosquitto: Mosquitto,
    bell_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await mosquitto.stop()
    for entity_id in (EVENT.format(1), BELL_CONNECTED):
        await wait_for(hass, lambda entity_id=entity_id: state_of(hass, entity_id) == "unavailable")
    # Calls live in Home Assistant: they stay visible and can be acknowledged meanwhile.
    assert state_of(hass, CALLING.format(1)) == STATE_OFF
    assert state_of(hass, ACK.format(1)) != STATE_UNAVAILABLE

    await mosquitto.start()
    await wait_for(hass, lambda: state_of(hass, EVENT.format(1)) != STATE_UNAVAILABLE, timeout=15)

    await mosquitto.publish(TOPIC, "button 1 is pressed")
    await wait_for(hass, lambda: state_of(hass, CALLING.format(1)) == STATE_ON)

    lost = [r for r in caplog.records if "Bell broker 127.0.0.1: connection lost" in r.getMessage()]
    back = [r for r in caplog.records if "Bell broker 127.0.0.1: connected again" in r.getMessage()]
    assert len(lost) == 1
    assert len(back) == 1


async def test_presses_while_home_assistant_is_down_arrive_after(
    hass: HomeAssistant,
    mosquitto: Mosquitto,
    bell_entry: MockConfigEntry,
    recorder: PressRecorder,
) -> None:
    assert await hass.config_entries.async_unload(bell_entry.entry_id)
    await mosquitto.publish(TOPIC, "button 4 is pressed", qos=1)

    assert await hass.config_entries.async_setup(bell_entry.entry_id)
    await wait_for(hass, lambda: state_of(hass, CALLING.format(4)) == STATE_ON)
    assert "4" in recorder.tables


async def test_setup_retries_when_broker_is_unreachable(
    hass: HomeAssistant,
    mosquitto: Mosquitto,
    bell_data: dict[str, Any],
    make_entry: Callable[..., MockConfigEntry],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("custom_components.blynk_bell.service_bell.SETUP_CONNECT_TIMEOUT", 1.0)
    await mosquitto.stop()
    entry = make_entry(bell_data)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert "Cannot reach the bell broker" in str(entry.reason)


async def test_setup_with_refused_login_starts_reauth(
    hass: HomeAssistant,
    socket_enabled: None,
    tmp_path: Any,
    bell_data: dict[str, Any],
    make_entry: Callable[..., MockConfigEntry],
) -> None:
    secured = Mosquitto(tmp_path, users={"waiter": "s3cret"})
    await secured.start()
    try:
        entry = make_entry(
            {**bell_data, "port": secured.port, "username": "waiter", "password": "old"}
        )
        assert not await hass.config_entries.async_setup(entry.entry_id)
        assert entry.state is ConfigEntryState.SETUP_ERROR
        flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
        assert [flow["context"]["source"] for flow in flows] == ["reauth"]
        assert "old" not in str(entry.reason)
    finally:
        await secured.stop()


async def test_unload_closes_the_connection(
    hass: HomeAssistant, mosquitto: Mosquitto, bell_entry: MockConfigEntry
) -> None:
    bell = bell_entry.runtime_data.bell
    client_id = bell_client_id(bell_entry.entry_id, TOPIC)
    assert f"as {client_id} (p2, c0" in mosquitto.log_text()  # MQTT 3.1.1, persistent session
    assert await hass.config_entries.async_unload(bell_entry.entry_id)
    assert bell_entry.state is ConfigEntryState.NOT_LOADED
    assert not bell.link.connected
    assert state_of(hass, CALLING.format(1)) == STATE_UNAVAILABLE
    # A clean goodbye: the broker keeps our session for the presses made meanwhile.
    await wait_for(hass, lambda: f"Received DISCONNECT from {client_id}" in mosquitto.log_text())


async def test_device_and_unique_ids_are_stable(
    hass: HomeAssistant, bell_entry: MockConfigEntry
) -> None:
    device = dr.async_get(hass).async_get_device({(DOMAIN, f"{bell_entry.entry_id}_bell")})
    assert device is not None
    assert device.name == "Service bell"
    registry = er.async_get(hass)
    unique_ids = {
        entity.unique_id
        for entity in er.async_entries_for_config_entry(registry, bell_entry.entry_id)
    }
    assert {
        f"{bell_entry.entry_id}_table_1_{kind}" for kind in ("event", "calling", "acknowledge")
    } <= unique_ids
    assert f"{bell_entry.entry_id}_bell_connected" in unique_ids
    assert len(unique_ids) == 4 * 7 + 10  # per table: 7 entities; the bell: 10


async def test_fewer_tables_remove_their_entities(
    hass: HomeAssistant, bell_entry: MockConfigEntry
) -> None:
    hass.config_entries.async_update_entry(bell_entry, options={CONF_BUTTONS: 2})
    await hass.config_entries.async_reload(bell_entry.entry_id)
    await hass.async_block_till_done()
    registry = er.async_get(hass)
    assert registry.async_get(EVENT.format(3)) is None
    assert registry.async_get(CALLING.format(2)) is not None
    assert registry.async_get(BELL_CONNECTED) is not None
    assert len(er.async_entries_for_config_entry(registry, bell_entry.entry_id)) == 2 * 7 + 10


# The bell's own status -----------------------------------------------------------------


async def test_bell_without_status_is_assumed_connected(
    hass: HomeAssistant, bell_entry: MockConfigEntry
) -> None:
    state = hass.states.get(BELL_CONNECTED)
    assert state is not None
    assert state.state == STATE_ON  # The tutorial firmware never says; no false alarm.
    assert state.attributes["device_class"] == "connectivity"
    entity = er.async_get(hass).async_get(BELL_CONNECTED)
    assert entity is not None
    assert entity.entity_category is er.EntityCategory.DIAGNOSTIC


async def test_bell_connected_follows_the_status_topic(
    hass: HomeAssistant,
    bell_entry: MockConfigEntry,
    mosquitto: Mosquitto,
    caplog: pytest.LogCaptureFixture,
) -> None:
    status = f"{TOPIC}/status"
    await mosquitto.publish(status, "offline", retain=True)
    await wait_for(hass, lambda: state_of(hass, BELL_CONNECTED) == STATE_OFF)

    await mosquitto.publish(status, "rebooting")  # Not a status: nothing changes.
    await mosquitto.publish(status, "online\n", retain=True)
    await wait_for(hass, lambda: state_of(hass, BELL_CONNECTED) == STATE_ON)
    assert "status is neither" in caplog.text
    assert state_of(hass, CALLING.format(1)) == STATE_OFF  # A status is not a press.


async def test_bell_status_is_known_right_after_a_restart(
    hass: HomeAssistant, bell_entry: MockConfigEntry, mosquitto: Mosquitto
) -> None:
    await mosquitto.publish(f"{TOPIC}/status", "offline", retain=True)
    await wait_for(hass, lambda: state_of(hass, BELL_CONNECTED) == STATE_OFF)
    await hass.config_entries.async_reload(bell_entry.entry_id)
    await hass.async_block_till_done()
    # The retained status arrives again after reconnecting.
    await wait_for(hass, lambda: state_of(hass, BELL_CONNECTED) == STATE_OFF)


async def test_bell_connected_is_unavailable_while_the_broker_is_down(
    hass: HomeAssistant, bell_entry: MockConfigEntry, mosquitto: Mosquitto
) -> None:
    await mosquitto.stop()
    await wait_for(hass, lambda: state_of(hass, BELL_CONNECTED) == STATE_UNAVAILABLE)
