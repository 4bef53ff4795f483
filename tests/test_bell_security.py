"""A keyed bell: only its own fresh, signed presses and status act (real Mosquitto)."""

from __future__ import annotations

from collections.abc import Callable
import json
from typing import Any

from homeassistant.const import STATE_OFF, STATE_ON
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.blynk_bell.const import CONF_BELL_KEY
from custom_components.blynk_bell.protocol.bell import Rejection
from custom_components.blynk_bell.protocol.signing import (
    key_bytes,
    press_text,
    sign,
    status_text,
)

from .conftest import TOPIC
from .helpers import state_of, wait_for
from .mosquitto import Mosquitto
from .test_bell import BELL_CONNECTED, CALLING, EVENT, PressRecorder

KEY = "5e" * 32
FOREIGN_KEY = "a7" * 32


def signed_press(
    button: int,
    boot: int,
    seq: int,
    *,
    event: str = "press",
    age_ms: int = 0,
    key: str = KEY,
    topic: str = TOPIC,
) -> str:
    text = press_text(topic, button=button, event=event, boot=boot, seq=seq, age_ms=age_ms)
    return json.dumps(
        {
            "button": button,
            "event": event,
            "boot": boot,
            "seq": seq,
            "age_ms": age_ms,
            "sig": sign(key_bytes(key), text),
        }
    )


def signed_status(state: str, boot: int, key: str = KEY) -> str:
    text = status_text(TOPIC, state=state, boot=boot)
    return json.dumps({"state": state, "boot": boot, "sig": sign(key_bytes(key), text)})


@pytest.fixture
async def keyed_entry(
    hass: HomeAssistant, bell_data: dict[str, Any], make_entry: Callable[..., MockConfigEntry]
) -> MockConfigEntry:
    entry = make_entry({**bell_data, CONF_BELL_KEY: KEY})
    assert await hass.config_entries.async_setup(entry.entry_id)
    await wait_for(hass, lambda: entry.runtime_data.bell.available)
    return entry


@pytest.fixture
def recorder(hass: HomeAssistant) -> PressRecorder:
    return PressRecorder(hass)


async def settle(hass: HomeAssistant, mosquitto: Mosquitto, boot: int, seq: int) -> None:
    """Send a good press of table 1 and wait for it: everything before it was handled."""
    before = hass.states.get(EVENT.format(1))
    await mosquitto.publish(TOPIC, signed_press(1, boot, seq, event="double_press"))
    await wait_for(hass, lambda: hass.states.get(EVENT.format(1)) != before)


async def test_a_keyed_bell_acts_only_on_its_own_fresh_signed_presses(
    hass: HomeAssistant,
    mosquitto: Mosquitto,
    keyed_entry: MockConfigEntry,
    recorder: PressRecorder,
) -> None:
    await mosquitto.publish(TOPIC, signed_press(3, boot=5, seq=1))
    await wait_for(hass, lambda: state_of(hass, CALLING.format(3)) == STATE_ON)

    refused = [
        "button 2 is pressed",  # the tutorial's text: unsigned
        json.dumps({"button": 2, "event": "press", "boot": 5, "seq": 2, "age_ms": 0}),
        signed_press(2, boot=5, seq=3, key=FOREIGN_KEY),  # another kit's key
        signed_press(2, boot=5, seq=4, topic="blynk-bell/elsewhere"),  # another topic
        signed_press(3, boot=5, seq=1),  # a replay of the press above
        signed_press(2, boot=4, seq=900),  # an older boot
        signed_press(2, boot=5, seq=5).replace('"button": 2', '"button": 4'),  # tampered
    ]
    for payload in refused:
        await mosquitto.publish(TOPIC, payload)
    await settle(hass, mosquitto, boot=5, seq=6)

    assert recorder.tables == ["3", "1"]
    assert state_of(hass, CALLING.format(2)) == STATE_OFF
    assert state_of(hass, CALLING.format(4)) == STATE_OFF
    rejected = keyed_entry.runtime_data.bell.gate.rejected
    assert rejected[Rejection.UNSIGNED] == 2
    assert rejected[Rejection.BAD_SIGNATURE] == 3
    assert rejected[Rejection.REPLAY] == 1
    assert rejected[Rejection.OLD_BOOT] == 1


async def test_a_rebooted_bell_keeps_working(
    hass: HomeAssistant, mosquitto: Mosquitto, keyed_entry: MockConfigEntry, recorder: PressRecorder
) -> None:
    await mosquitto.publish(TOPIC, signed_press(2, boot=7, seq=41))
    await wait_for(hass, lambda: recorder.tables == ["2"])
    # After a reboot the bell counts seq from 1 again, with a higher boot.
    await mosquitto.publish(TOPIC, signed_press(4, boot=8, seq=1))
    await wait_for(hass, lambda: recorder.tables == ["2", "4"])
    assert state_of(hass, CALLING.format(4)) == STATE_ON


async def test_the_last_accepted_press_is_remembered_across_a_restart(
    hass: HomeAssistant, mosquitto: Mosquitto, keyed_entry: MockConfigEntry, recorder: PressRecorder
) -> None:
    await mosquitto.publish(TOPIC, signed_press(2, boot=3, seq=10))
    await wait_for(hass, lambda: recorder.tables == ["2"])
    assert await hass.config_entries.async_reload(keyed_entry.entry_id)
    await wait_for(hass, lambda: keyed_entry.runtime_data.bell.available)
    recorder.presses.clear()  # The reloaded entities restore their last state.

    await mosquitto.publish(TOPIC, signed_press(2, boot=3, seq=10))  # replayed after restart
    await settle(hass, mosquitto, boot=3, seq=11)
    assert recorder.tables == ["1"]


async def test_a_new_key_forgets_the_old_bells_history(
    hass: HomeAssistant, mosquitto: Mosquitto, keyed_entry: MockConfigEntry, recorder: PressRecorder
) -> None:
    await mosquitto.publish(TOPIC, signed_press(2, boot=30, seq=10))
    await wait_for(hass, lambda: recorder.tables == ["2"])
    new_key = "c4" * 32
    hass.config_entries.async_update_entry(
        keyed_entry, data={**keyed_entry.data, CONF_BELL_KEY: new_key}
    )
    assert await hass.config_entries.async_reload(keyed_entry.entry_id)
    await wait_for(hass, lambda: keyed_entry.runtime_data.bell.available)
    # A replacement board starts at boot 0 with the new key.
    await mosquitto.publish(TOPIC, signed_press(3, boot=0, seq=1, key=new_key))
    await wait_for(hass, lambda: state_of(hass, CALLING.format(3)) == STATE_ON)


async def test_a_keyed_bells_status_must_be_signed_and_current(
    hass: HomeAssistant, mosquitto: Mosquitto, keyed_entry: MockConfigEntry
) -> None:
    status = f"{TOPIC}/status"
    await mosquitto.publish(status, signed_status("online", 6), retain=True)
    await mosquitto.publish(status, "offline", retain=True)  # a stranger's plain word
    await mosquitto.publish(status, signed_status("offline", 6, key=FOREIGN_KEY), retain=True)
    await mosquitto.publish(status, signed_status("offline", 5), retain=True)  # an older boot
    await settle(hass, mosquitto, boot=6, seq=1)
    assert state_of(hass, BELL_CONNECTED) == STATE_ON

    await mosquitto.publish(status, signed_status("offline", 6), retain=True)  # its Last Will
    await wait_for(hass, lambda: state_of(hass, BELL_CONNECTED) == STATE_OFF)


async def test_an_unkeyed_bell_still_reads_the_tutorials_text(
    hass: HomeAssistant, mosquitto: Mosquitto, bell_entry: MockConfigEntry
) -> None:
    await mosquitto.publish(TOPIC, "button 3 is pressed")
    await wait_for(hass, lambda: state_of(hass, CALLING.format(3)) == STATE_ON)
