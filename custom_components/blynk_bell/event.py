"""Event entities: one per table, fired on every press."""

from __future__ import annotations

from datetime import datetime

from homeassistant.components.event import EventDeviceClass, EventEntity
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from . import BlynkBellConfigEntry
from .const import ATTR_AGE_MS, ATTR_PRESSED_AT, ATTR_SEQ
from .entity import TableEntity
from .protocol.bell import Press, PressType
from .service_bell import ServiceBell

PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: BlynkBellConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a press event entity per table."""
    bell = entry.runtime_data.bell
    async_add_entities(TableEvent(bell, table) for table in range(1, bell.tables + 1))


class TableEvent(TableEntity, EventEntity):
    """Fires `press`, `long_press` or `double_press` when a table's button is used."""

    _attr_device_class = EventDeviceClass.BUTTON
    _attr_event_types = [press_type.value for press_type in PressType]
    _attr_translation_key = "table"

    def __init__(self, bell: ServiceBell, table: int) -> None:
        """Bind to one table."""
        super().__init__(bell, table, "event")

    async def async_added_to_hass(self) -> None:
        """Listen to this table's presses."""
        await super().async_added_to_hass()
        self.async_on_remove(self.bell.async_add_press_listener(self.table, self._handle_press))

    @callback
    def _handle_press(self, press: Press, pressed_at: datetime) -> None:
        attributes: dict[str, str | int] = {ATTR_PRESSED_AT: pressed_at.isoformat()}
        if press.seq is not None:
            attributes[ATTR_SEQ] = press.seq
        if press.age_ms is not None:
            attributes[ATTR_AGE_MS] = press.age_ms
        self._trigger_event(press.type.value, attributes)
        self.async_write_ha_state()
