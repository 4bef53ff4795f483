"""Buttons: "Acknowledge table N" clears a table's call."""

from __future__ import annotations

from homeassistant.components.button import ButtonEntity
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from . import BlynkBellConfigEntry
from .entity import TableEntity
from .service_bell import ServiceBell

PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: BlynkBellConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add an acknowledge button per table."""
    bell = entry.runtime_data.bell
    async_add_entities(AcknowledgeTable(bell, table) for table in range(1, bell.tables + 1))


class AcknowledgeTable(TableEntity, ButtonEntity):
    """The waiter has seen the call."""

    _attr_translation_key = "acknowledge"
    _follows_link = False  # A call is Home Assistant's: it goes on while the broker is away.

    def __init__(self, bell: ServiceBell, table: int) -> None:
        """Bind to one table."""
        super().__init__(bell, table, "acknowledge")

    async def async_press(self) -> None:
        """Clear the table's call."""
        self.bell.acknowledge(self.table)
