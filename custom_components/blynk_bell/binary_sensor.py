"""Binary sensors: "Table N calling" for each table, and whether the bell is online."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from homeassistant.components.binary_sensor import BinarySensorDeviceClass, BinarySensorEntity
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from . import BlynkBellConfigEntry
from .const import ATTR_CALLED_AT, ATTR_LAST_PRESSED_AT, ATTR_REMINDERS
from .entity import BellEntity, TableEntity
from .service_bell import ServiceBell

PARALLEL_UPDATES = 0
LOW_BATTERY_MV = 3500


async def async_setup_entry(
    hass: HomeAssistant,
    entry: BlynkBellConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a calling sensor per table and the bell's connectivity sensor."""
    bell = entry.runtime_data.bell
    async_add_entities(
        [
            BellConnected(bell),
            BatteryLow(bell),
            *(TableCalling(bell, table) for table in range(1, bell.tables + 1)),
        ]
    )


class BellConnected(BellEntity, BinarySensorEntity):
    """Whether the Pico W is on the broker, from its `online`/`offline` status topic.

    The broker publishes the bell's Last Will (`offline`) when it vanishes without a
    goodbye. A bell that never sent a status (the tutorial firmware) is assumed present:
    saying "disconnected" about a bell that simply cannot tell would be a false alarm.
    """

    _attr_device_class = BinarySensorDeviceClass.CONNECTIVITY
    _attr_entity_category = EntityCategory.DIAGNOSTIC
    _attr_translation_key = "bell_connected"

    def __init__(self, bell: ServiceBell) -> None:
        """Attach to the bell device."""
        super().__init__(bell, f"{bell.entry.entry_id}_bell_connected")

    @property
    def is_on(self) -> bool:
        """Tell whether the bell is online (or has never said otherwise)."""
        return self.bell.bell_online is not False


class BatteryLow(BellEntity, BinarySensorEntity):
    """On when the bell's supply (the kit's 18650 cell, on VSYS) runs low.

    Unknown unless the firmware reports VSYS (`BATTERY = True`). 3.5 V on VSYS is about a
    fifth of a Li-ion cell left: time to charge it before service, not a dead bell.
    """

    _attr_device_class = BinarySensorDeviceClass.BATTERY
    _attr_translation_key = "battery_low"

    def __init__(self, bell: ServiceBell) -> None:
        """Attach to the bell device."""
        super().__init__(bell, f"{bell.entry.entry_id}_battery_low")

    @property
    def is_on(self) -> bool | None:
        """Tell whether the supply is low; None when the bell does not report it."""
        health = self.bell.health
        if health is None or health.vsys_mv is None:
            return None
        return health.vsys_mv < LOW_BATTERY_MV


class TableCalling(TableEntity, BinarySensorEntity):
    """On while the table calls: from a press until acknowledged, served, or cancelled.

    The call itself (and its restoration after a restart) is the bell's call desk's.
    """

    _attr_translation_key = "table_calling"
    _follows_link = False  # A call is Home Assistant's: it goes on while the broker is away.

    def __init__(self, bell: ServiceBell, table: int) -> None:
        """Bind to one table."""
        super().__init__(bell, table, "calling")

    @property
    def is_on(self) -> bool:
        """Tell whether the table is calling."""
        return self.bell.calling(self.table)

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """Say since when the table has been calling, and how often it reminded us."""
        call = self.bell.desk.calls[self.table]
        if not self.bell.calling(self.table) or call.started_at is None:
            return None
        return {
            ATTR_CALLED_AT: call.started_at.isoformat(),
            ATTR_LAST_PRESSED_AT: _iso(call.last_press_at),
            ATTR_REMINDERS: call.reminders,
        }


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()
