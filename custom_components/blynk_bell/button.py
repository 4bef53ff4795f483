"""Buttons per table: "Acknowledge" (a waiter is on the way) and "Served" (the call ends)."""

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
    tables = range(1, bell.tables + 1)
    async_add_entities(
        [
            *(AcknowledgeTable(bell, table) for table in tables),
            *(ServeTable(bell, table) for table in tables),
        ]
    )


class AcknowledgeTable(TableEntity, ButtonEntity):
    """A waiter has seen the call and is on the way."""

    _attr_translation_key = "acknowledge"
    _follows_link = False  # A call is Home Assistant's: it goes on while the broker is away.

    def __init__(self, bell: ServiceBell, table: int) -> None:
        """Bind to one table."""
        super().__init__(bell, table, "acknowledge")

    async def async_press(self) -> None:
        """Mark the table's call seen: its LED on the bell goes steady."""
        self.bell.acknowledge(self.table, self._context)


class ServeTable(TableEntity, ButtonEntity):
    """The waiter served the table: its call is over."""

    _attr_translation_key = "served"
    _follows_link = False  # A call is Home Assistant's: it goes on while the broker is away.

    def __init__(self, bell: ServiceBell, table: int) -> None:
        """Bind to one table."""
        super().__init__(bell, table, "served")

    async def async_press(self) -> None:
        """End the table's call."""
        self.bell.serve(self.table, self._context)
