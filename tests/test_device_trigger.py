"""Device triggers: automations made in the editor fire on the real presses of their table.

Presses go through a real Mosquitto; the automations are the ones the automation editor
writes for a device trigger of the bell.
"""

from __future__ import annotations

from collections.abc import Callable
import itertools
import json
from typing import Any

from homeassistant.components.device_automation import DeviceAutomationType
from homeassistant.components.device_automation.exceptions import (
    InvalidDeviceAutomationConfig,
)
from homeassistant.const import ATTR_ENTITY_ID, STATE_ON, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_get_device_automations,
    async_mock_service,
)
import voluptuous as vol

from custom_components.blynk_bell.const import CONF_BUTTONS, CONF_TOPIC, DOMAIN
from custom_components.blynk_bell.device_trigger import async_validate_trigger_config

from .conftest import TOPIC
from .helpers import state_of, wait_for
from .mosquitto import Mosquitto

ACK = "button.service_bell_acknowledge_table_{}"
SERVED = "button.service_bell_table_{}_served"
TERRACE_TOPIC = "terrace-bell"
TYPES = [
    "press",
    "long_press",
    "double_press",
    "call_started",
    "call_acknowledged",
    "call_served",
    "call_cancelled",
]

_SEQS = itertools.count(1)


async def press(mosquitto: Mosquitto, table: int, kind: str = "press") -> None:
    """Press a table's button as our firmware reports it (numbered: never a bounce)."""
    payload = {"button": table, "event": kind, "seq": next(_SEQS)}
    await mosquitto.publish(TOPIC, json.dumps(payload))


def bell_device(hass: HomeAssistant, entry: MockConfigEntry) -> str:
    device = dr.async_get(hass).async_get_device(identifiers={(DOMAIN, f"{entry.entry_id}_bell")})
    assert device is not None
    return device.id


def device_trigger(device_id: str, kind: str, table: int, key: str = "trigger") -> dict[str, Any]:
    """A trigger as the automation editor saves it (`platform` once Home Assistant read it)."""
    return {
        key: "device",
        "domain": DOMAIN,
        "device_id": device_id,
        "type": kind,
        "subtype": f"table_{table}",
    }


class Fired:
    """What the automations told `test.fired`, read in the order they ran."""

    def __init__(self, hass: HomeAssistant) -> None:
        self.hass = hass
        self.calls = async_mock_service(hass, "test", "fired")
        self._read = 0

    async def next(self, count: int) -> list[str]:
        """Wait until `count` more automations ran, and say what fired them."""
        await wait_for(self.hass, lambda: len(self.calls) >= self._read + count)
        # Anything more would show: give it the chance to run.
        await self.hass.async_block_till_done()
        runs = self.calls[self._read :]
        self._read = len(self.calls)
        return [call.data["what"] for call in runs]

    @property
    def last(self) -> dict[str, Any]:
        return dict(self.calls[-1].data)


@pytest.fixture
def fired(hass: HomeAssistant) -> Fired:
    return Fired(hass)


async def automate(hass: HomeAssistant, *triggers: tuple[str, str, int]) -> None:
    """One automation per (device, type, table), telling `test.fired` what fired it."""
    automations = [
        {
            "id": f"{kind}_{table}",
            "alias": f"{kind} {table}",
            "triggers": [device_trigger(device_id, kind, table)],
            "actions": [
                {
                    "action": "test.fired",
                    "data": {
                        "trigger": "{{ trigger.platform }}",
                        "what": "{{ trigger.event.data.type }} {{ trigger.event.data.table }}",
                        "device_id": "{{ trigger.event.data.device_id }}",
                        "response_s": "{{ trigger.event.data.response_s }}",
                    },
                }
            ],
        }
        for device_id, kind, table in triggers
    ]
    assert await async_setup_component(hass, "automation", {"automation": automations})
    await hass.async_block_till_done()


# Listing ------------------------------------------------------------------------------


async def test_bell_device_lists_the_triggers_of_each_table(
    hass: HomeAssistant,
    bell_data: dict[str, Any],
    make_entry: Callable[..., MockConfigEntry],
) -> None:
    entry = make_entry(bell_data, {CONF_BUTTONS: 2})
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    device_id = bell_device(hass, entry)

    triggers = await async_get_device_automations(hass, DeviceAutomationType.TRIGGER, device_id)

    ours = [trigger for trigger in triggers if trigger["domain"] == DOMAIN]
    assert ours == [
        {
            "platform": "device",
            "domain": DOMAIN,
            "device_id": device_id,
            "type": kind,
            "subtype": f"table_{table}",
            "metadata": {},
        }
        for table in (1, 2)
        for kind in TYPES
    ]
    await hass.config_entries.async_unload(entry.entry_id)


async def test_heater_device_has_no_bell_triggers(
    hass: HomeAssistant, heater_entry: MockConfigEntry
) -> None:
    heater = dr.async_get(hass).async_get_device(
        identifiers={(DOMAIN, f"{heater_entry.entry_id}_heater")}
    )
    assert heater is not None
    triggers = await async_get_device_automations(hass, DeviceAutomationType.TRIGGER, heater.id)
    assert [trigger for trigger in triggers if trigger["domain"] == DOMAIN] == []


# Firing -------------------------------------------------------------------------------


async def acknowledge(hass: HomeAssistant, table: int) -> None:
    """Press "Acknowledge table N", as a waiter does on the dashboard."""
    await hass.services.async_call(
        "button", "press", {ATTR_ENTITY_ID: ACK.format(table)}, blocking=True
    )


async def test_triggers_fire_on_the_presses_and_calls_of_their_table_only(
    hass: HomeAssistant, mosquitto: Mosquitto, bell_entry: MockConfigEntry, fired: Fired
) -> None:
    bell = bell_device(hass, bell_entry)
    await automate(
        hass,
        *((bell, kind, 3) for kind in TYPES),
        (bell, "press", 2),
        (bell, "call_acknowledged", 2),
    )

    # Table 2's press runs table 2's automation alone; its call has no automation.
    await press(mosquitto, 2)
    assert await fired.next(1) == ["press 2"]
    assert fired.last["trigger"] == "device"
    assert fired.last["device_id"] == bell

    # Table 3: the press, and the call it starts.
    await press(mosquitto, 3)
    assert await fired.next(2) == ["press 3", "call_started 3"]

    # Acknowledging table 3 in Home Assistant, then table 2; the time it took comes along.
    await acknowledge(hass, 3)
    assert await fired.next(1) == ["call_acknowledged 3"]
    assert fired.last["response_s"] >= 0
    await acknowledge(hass, 2)
    assert await fired.next(1) == ["call_acknowledged 2"]

    # A double press of the acknowledged table is a reminder (no trigger here).
    await press(mosquitto, 3, "double_press")
    assert await fired.next(1) == ["double_press 3"]

    # The waiter serves it.
    await hass.services.async_call(
        "button", "press", {ATTR_ENTITY_ID: SERVED.format(3)}, blocking=True
    )
    assert await fired.next(1) == ["call_served 3"]

    # A long press with no call cancels nothing; with a call, it cancels.
    await press(mosquitto, 3, "long_press")
    assert await fired.next(1) == ["long_press 3"]
    await press(mosquitto, 3)
    assert await fired.next(2) == ["press 3", "call_started 3"]
    await press(mosquitto, 3, "long_press")
    assert await fired.next(2) == ["long_press 3", "call_cancelled 3"]


async def test_triggers_of_one_bell_ignore_another_bell(
    hass: HomeAssistant,
    mosquitto: Mosquitto,
    bell_entry: MockConfigEntry,
    bell_data: dict[str, Any],
    make_entry: Callable[..., MockConfigEntry],
    fired: Fired,
) -> None:
    terrace = make_entry({**bell_data, CONF_TOPIC: TERRACE_TOPIC})
    assert await hass.config_entries.async_setup(terrace.entry_id)
    await wait_for(hass, lambda: terrace.runtime_data.bell.available)
    await automate(hass, (bell_device(hass, bell_entry), "press", 1))

    await mosquitto.publish(TERRACE_TOPIC, json.dumps({"button": 1, "seq": next(_SEQS)}))
    await wait_for(hass, lambda: terrace.runtime_data.bell.calling(1))
    await press(mosquitto, 1)
    assert await fired.next(1) == ["press 1"]
    await hass.config_entries.async_unload(terrace.entry_id)


# Validation ---------------------------------------------------------------------------


async def test_trigger_of_a_table_the_bell_does_not_have_is_invalid(
    hass: HomeAssistant, bell_entry: MockConfigEntry
) -> None:
    bell = bell_device(hass, bell_entry)
    with pytest.raises(InvalidDeviceAutomationConfig, match="4 tables, not table 5"):
        await async_validate_trigger_config(hass, device_trigger(bell, "press", 5, "platform"))

    # An automation with such a trigger (tables were removed since) is unavailable.
    await automate(hass, (bell, "press", 5), (bell, "press", 4))
    assert state_of(hass, "automation.press_5") == STATE_UNAVAILABLE
    assert state_of(hass, "automation.press_4") == STATE_ON


async def test_trigger_on_another_device_or_of_an_unknown_kind_is_invalid(
    hass: HomeAssistant, heater_entry: MockConfigEntry
) -> None:
    heater = dr.async_get(hass).async_get_device(
        identifiers={(DOMAIN, f"{heater_entry.entry_id}_heater")}
    )
    assert heater is not None
    with pytest.raises(InvalidDeviceAutomationConfig, match="not a service bell"):
        await async_validate_trigger_config(hass, device_trigger(heater.id, "press", 1, "platform"))

    bell = bell_device(hass, heater_entry)
    with pytest.raises(vol.Invalid, match="type"):
        await async_validate_trigger_config(
            hass, device_trigger(bell, "call_reminded", 1, "platform")
        )
    with pytest.raises(vol.Invalid, match="subtype"):
        await async_validate_trigger_config(hass, device_trigger(bell, "press", 17, "platform"))
