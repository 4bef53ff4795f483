"""Let Assist, Home Assistant's voice assistant, answer whether a table is calling.

Home Assistant exposes a new binary sensor to Assist only when its device class is one of
a few (door, window, motion, presence, ...). "Table N calling" has none: no device class
describes a guest asking for service, and borrowing one (occupancy, problem, sound) would
mislead both people and Home Assistant. So the integration exposes its calling sensors
itself, through Home Assistant's own exposure setting, once: when a sensor is first
registered, before Assist has looked at it. From then on the choice is the user's; it
lives in the entity registry, survives restarts and is never touched again here.

Nothing is exposed when the user turned off "Expose new entities" for Assist, and a table
that is removed and added back keeps the choice the registry restored for it.
"""

from __future__ import annotations

from homeassistant.components.binary_sensor import DOMAIN as BINARY_SENSOR_DOMAIN
from homeassistant.components.homeassistant.const import DATA_EXPOSED_ENTITIES
from homeassistant.components.homeassistant.exposed_entities import async_expose_entity
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, Event, HomeAssistant, callback, split_entity_id
from homeassistant.helpers import entity_registry as er

from .const import DOMAIN
from .entity import table_of_unique_id, table_unique_id

# Home Assistant's own voice assistant; the cloud assistants (Alexa, Google) are left alone.
ASSIST = "conversation"
SHOULD_EXPOSE = "should_expose"


def is_calling_sensor(entry_id: str, entity: er.RegistryEntry) -> bool:
    """Tell whether a registry entry is one of the entry's "Table N calling" sensors."""
    if entity.platform != DOMAIN or entity.domain != BINARY_SENSOR_DOMAIN:
        return False
    table = table_of_unique_id(entry_id, entity.unique_id)
    return table is not None and entity.unique_id == table_unique_id(entry_id, table, "calling")


@callback
def async_expose_new_calling_sensors(hass: HomeAssistant, entry: ConfigEntry) -> CALLBACK_TYPE:
    """Expose each calling sensor of `entry` to Assist when it is first registered.

    The registry announces a new entity synchronously, before the entity writes its first
    state; Assist decides its default only once it sees that state, so this comes first.
    """
    registry = er.async_get(hass)

    @callback
    def created(event_data: er.EventEntityRegistryUpdatedData) -> bool:
        return event_data["action"] == "create" and (
            split_entity_id(event_data["entity_id"])[0] == BINARY_SENSOR_DOMAIN
        )

    @callback
    def expose(event: Event[er.EventEntityRegistryUpdatedData]) -> None:
        entity = registry.async_get(event.data["entity_id"])
        if entity is None or not is_calling_sensor(entry.entry_id, entity):
            return
        if SHOULD_EXPOSE in entity.options.get(ASSIST, {}):
            return  # A choice restored with a table that was removed and added back.
        if (exposed := hass.data.get(DATA_EXPOSED_ENTITIES)) is None:
            return
        if not exposed.async_get_expose_new_entities(ASSIST):
            return  # The user keeps new entities away from Assist.
        async_expose_entity(hass, ASSIST, entity.entity_id, True)

    return hass.bus.async_listen(er.EVENT_ENTITY_REGISTRY_UPDATED, expose, event_filter=created)
