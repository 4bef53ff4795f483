"""The Blynk Bell integration: a Pico W service bell and a Blynk.Cloud heater."""

from __future__ import annotations

from dataclasses import dataclass

from homeassistant.components import mqtt
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryNotReady
from homeassistant.helpers import (
    device_registry as dr,
    entity_registry as er,
    issue_registry as ir,
)

from .assist import async_prepare_new_entities
from .assist_heater import async_answer_heater_questions
from .assist_tables import async_answer_table_questions
from .blynk_heater import BlynkHeater
from .const import CONF_TOKEN, DOMAIN, ISSUE_TOKEN_CONFLICT
from .entity import table_of_unique_id
from .security import async_check_public_broker, async_remove_public_broker_issue
from .service_bell import ServiceBell, uses_ha_mqtt

PLATFORMS: list[Platform] = [
    Platform.BINARY_SENSOR,
    Platform.BUTTON,
    Platform.CLIMATE,
    Platform.EVENT,
    Platform.SENSOR,
    Platform.SWITCH,
]


@dataclass(slots=True)
class BlynkBellData:
    """What a loaded entry holds at run time."""

    bell: ServiceBell
    heater: BlynkHeater | None


type BlynkBellConfigEntry = ConfigEntry[BlynkBellData]


async def async_setup_entry(hass: HomeAssistant, entry: BlynkBellConfigEntry) -> bool:
    """Connect to the bell broker and set up the entities."""
    if uses_ha_mqtt(entry.data) and not await mqtt.async_wait_for_mqtt_client(hass):
        raise ConfigEntryNotReady(translation_domain=DOMAIN, translation_key="ha_mqtt_unavailable")
    async_check_public_broker(hass, entry)
    bell = ServiceBell(hass, entry)
    await bell.async_start()
    entry.async_on_unload(bell.async_stop)
    heater = BlynkHeater(hass, entry) if entry.data.get(CONF_TOKEN) else None
    entry.runtime_data = BlynkBellData(bell=bell, heater=heater)
    _remove_entities_of_removed_tables(hass, entry, bell.tables)
    # Before the platforms: new entities are made ready for Assist as they are registered.
    entry.async_on_unload(async_prepare_new_entities(hass, entry))
    entry.async_on_unload(async_answer_table_questions(hass))
    if heater is not None:
        entry.async_on_unload(async_answer_heater_questions(hass, entry))
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    if heater is not None:
        # Blynk is not waited for: the bell works while Blynk is out of reach. Connecting
        # after the climate entity restored its state lets unsent changes go out first.
        heater.start()
        entry.async_on_unload(heater.async_stop)
    else:
        ir.async_delete_issue(hass, DOMAIN, f"{ISSUE_TOKEN_CONFLICT}_{entry.entry_id}")
        _remove_stale_heater(hass, entry)
    return True


async def async_unload_entry(hass: HomeAssistant, entry: BlynkBellConfigEntry) -> bool:
    """Unload the entities; the links close through async_on_unload."""
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)


async def async_remove_config_entry_device(
    hass: HomeAssistant, entry: BlynkBellConfigEntry, device: dr.DeviceEntry
) -> bool:
    """Let the user delete a device the entry no longer has; never the bell or its heater."""
    return not device.identifiers & _devices_in_use(entry)


async def async_remove_entry(hass: HomeAssistant, entry: BlynkBellConfigEntry) -> None:
    """Remove the entry's repair issues with it."""
    ir.async_delete_issue(hass, DOMAIN, f"{ISSUE_TOKEN_CONFLICT}_{entry.entry_id}")
    async_remove_public_broker_issue(hass, entry)


def _remove_entities_of_removed_tables(
    hass: HomeAssistant, entry: BlynkBellConfigEntry, tables: int
) -> None:
    """Drop the entities of tables beyond a reduced button count, not leave them orphaned."""
    registry = er.async_get(hass)
    for entity in er.async_entries_for_config_entry(registry, entry.entry_id):
        table = table_of_unique_id(entry.entry_id, entity.unique_id)
        if table is not None and table > tables:
            registry.async_remove(entity.entity_id)


def _bell_device(entry: ConfigEntry) -> tuple[str, str]:
    return (DOMAIN, f"{entry.entry_id}_bell")


def _heater_device(entry: ConfigEntry) -> tuple[str, str]:
    return (DOMAIN, f"{entry.entry_id}_heater")


def _devices_in_use(entry: ConfigEntry) -> set[tuple[str, str]]:
    """Return the identifiers of the devices the entry's settings give entities to."""
    if entry.data.get(CONF_TOKEN):
        return {_bell_device(entry), _heater_device(entry)}
    return {_bell_device(entry)}


def _remove_stale_heater(hass: HomeAssistant, entry: BlynkBellConfigEntry) -> None:
    """Remove the heater device, and its climate entity, of an entry whose heater is gone."""
    registry = dr.async_get(hass)
    if device := registry.async_get_device(identifiers={_heater_device(entry)}):
        registry.async_update_device(device.id, remove_config_entry_id=entry.entry_id)
