"""Devices the entry no longer has go: by themselves when certain, by hand otherwise."""

from __future__ import annotations

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from custom_components.blynk_bell.const import CONF_TOKEN, DOMAIN

from .conftest import CLIMATE


def heater_device(hass: HomeAssistant, entry: MockConfigEntry) -> dr.DeviceEntry | None:
    return dr.async_get(hass).async_get_device({(DOMAIN, f"{entry.entry_id}_heater")})


def bell_device(hass: HomeAssistant, entry: MockConfigEntry) -> dr.DeviceEntry:
    device = dr.async_get(hass).async_get_device({(DOMAIN, f"{entry.entry_id}_bell")})
    assert device is not None
    return device


async def test_removing_the_heater_removes_its_device_and_entity(
    hass: HomeAssistant, heater_entry: MockConfigEntry
) -> None:
    assert heater_device(hass, heater_entry) is not None
    assert er.async_get(hass).async_get(CLIMATE) is not None

    # What Reconfigure → "Remove the heater" stores, then the reload it causes.
    hass.config_entries.async_update_entry(heater_entry, data={**heater_entry.data, CONF_TOKEN: ""})
    assert await hass.config_entries.async_reload(heater_entry.entry_id)
    await hass.async_block_till_done()

    assert heater_entry.state is ConfigEntryState.LOADED
    assert heater_device(hass, heater_entry) is None
    assert er.async_get(hass).async_get(CLIMATE) is None
    assert hass.states.get(CLIMATE) is None
    assert bell_device(hass, heater_entry) is not None


async def remove_by_hand(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    entry: MockConfigEntry,
    device: dr.DeviceEntry,
) -> bool:
    """What the device page's Delete does; True when Home Assistant removed the device."""
    assert await async_setup_component(hass, "config", {})
    client = await hass_ws_client(hass)
    await client.send_json_auto_id(
        {
            "type": "config/device_registry/remove_config_entry",
            "config_entry_id": entry.entry_id,
            "device_id": device.id,
        }
    )
    response = await client.receive_json()
    return bool(response["success"])


async def test_the_bell_and_a_heater_in_use_cannot_be_deleted_by_hand(
    hass: HomeAssistant, heater_entry: MockConfigEntry, hass_ws_client: WebSocketGenerator
) -> None:
    heater = heater_device(hass, heater_entry)
    assert heater is not None
    for device in (bell_device(hass, heater_entry), heater):
        assert not await remove_by_hand(hass, hass_ws_client, heater_entry, device)
        assert dr.async_get(hass).async_get(device.id) is not None


async def test_a_device_the_entry_no_longer_uses_can_be_deleted_by_hand(
    hass: HomeAssistant, bell_entry: MockConfigEntry, hass_ws_client: WebSocketGenerator
) -> None:
    """E.g. a heater device left from a version that did not remove it itself."""
    registry = dr.async_get(hass)
    leftover = registry.async_get_or_create(
        config_entry_id=bell_entry.entry_id,
        identifiers={(DOMAIN, f"{bell_entry.entry_id}_heater")},
        name="Blynk heater",
    )
    assert await remove_by_hand(hass, hass_ws_client, bell_entry, leftover)
    assert registry.async_get(leftover.id) is None
    assert not await remove_by_hand(hass, hass_ws_client, bell_entry, bell_device(hass, bell_entry))
