"""Assist, Home Assistant's voice assistant: "is table 3 calling?", "set the heater to 22".

Three things make the integration's entities work by voice out of the box:

- The calling sensors are exposed to Assist when first registered. Home Assistant exposes a
  new binary sensor by default only for a few device classes (door, window, motion, ...),
  and no device class describes a guest asking for service honestly. The heater, a climate
  entity, is exposed by Home Assistant's own defaults.
- The heater gets the alias "Heater" when first registered, so "turn off the heater" works
  and not only its full name, "Blynk heater"; in a Home Assistant set to Japanese also
  "ヒーター" ("ヒーターを消して"), to Traditional Chinese also "加熱器" and "暖氣"
  ("關掉暖氣"), the words for the heater in the device's translated name and in speech.
- The table questions and actions ("is table 3 calling", "acknowledge table 3") are
  conversation sentence triggers, in `assist_tables.py`; the heater's in `assist_heater.py`.

Exposure and the alias are set once, before Assist first sees the entity; from then on
they are the user's, live in the entity registry and are never touched again here. Nothing
is exposed when the user turned off "Expose new entities" for Assist, and answers only
cover calling sensors that are exposed.
"""

from __future__ import annotations

from typing import Final

from homeassistant.components.binary_sensor import DOMAIN as BINARY_SENSOR_DOMAIN
from homeassistant.components.climate.const import DOMAIN as CLIMATE_DOMAIN
from homeassistant.components.homeassistant.const import DATA_EXPOSED_ENTITIES
from homeassistant.components.homeassistant.exposed_entities import (
    async_expose_entity,
)
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, Event, HomeAssistant, callback
from homeassistant.helpers import entity_registry as er

from .const import DOMAIN
from .entity import table_of_unique_id, table_unique_id

# Home Assistant's own voice assistant; the cloud assistants (Alexa, Google) are left alone.
ASSIST: Final = "conversation"
SHOULD_EXPOSE: Final = "should_expose"
HEATER_ALIAS: Final = "Heater"
# By Home Assistant's language when the heater is first registered.
LOCAL_HEATER_ALIASES: Final[dict[str, frozenset[str]]] = {
    "ja": frozenset({"ヒーター"}),
    "zh-Hant": frozenset({"加熱器", "暖氣"}),
    "zh-TW": frozenset({"加熱器", "暖氣"}),
    "zh-HK": frozenset({"加熱器", "暖氣"}),
}

# New entities ---------------------------------------------------------------------------


def is_calling_sensor(entry_id: str, entity: er.RegistryEntry) -> bool:
    """Tell whether a registry entry is one of the entry's "Table N calling" sensors."""
    if entity.platform != DOMAIN or entity.domain != BINARY_SENSOR_DOMAIN:
        return False
    table = table_of_unique_id(entry_id, entity.unique_id)
    return table is not None and entity.unique_id == table_unique_id(entry_id, table, "calling")


@callback
def async_prepare_new_entities(hass: HomeAssistant, entry: ConfigEntry) -> CALLBACK_TYPE:
    """Expose new calling sensors to Assist and name the new heater "Heater" for it.

    The registry announces a new entity synchronously, before the entity writes its first
    state; Assist decides its default only once it sees that state, so this comes first.
    """
    registry = er.async_get(hass)

    @callback
    def created(event_data: er.EventEntityRegistryUpdatedData) -> bool:
        return event_data["action"] == "create"

    @callback
    def prepare(event: Event[er.EventEntityRegistryUpdatedData]) -> None:
        entity = registry.async_get(event.data["entity_id"])
        if entity is None or entity.config_entry_id != entry.entry_id:
            return
        if entity.domain == CLIMATE_DOMAIN and not entity.aliases:
            registry.async_update_entity(entity.entity_id, aliases=heater_aliases(hass))
        elif is_calling_sensor(entry.entry_id, entity):
            _expose(hass, entity)

    return hass.bus.async_listen(er.EVENT_ENTITY_REGISTRY_UPDATED, prepare, event_filter=created)


def heater_aliases(hass: HomeAssistant) -> set[str]:
    """Return a new heater's aliases: "Heater" and those of Home Assistant's language."""
    language = hass.config.language
    local = LOCAL_HEATER_ALIASES.get(language) or LOCAL_HEATER_ALIASES.get(
        language.split("-")[0], frozenset()
    )
    return {HEATER_ALIAS, *local}


def _expose(hass: HomeAssistant, entity: er.RegistryEntry) -> None:
    if SHOULD_EXPOSE in entity.options.get(ASSIST, {}):
        return  # A choice restored with a table that was removed and added back.
    if (exposed := hass.data.get(DATA_EXPOSED_ENTITIES)) is None:
        return
    if not exposed.async_get_expose_new_entities(ASSIST):
        return  # The user keeps new entities away from Assist.
    async_expose_entity(hass, ASSIST, entity.entity_id, True)
