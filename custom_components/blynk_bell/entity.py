"""Base entities: one device per entry part, names from translations."""

from __future__ import annotations

import re

from homeassistant.core import callback
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import Entity

from .const import DOMAIN
from .service_bell import ServiceBell

_TABLE_UNIQUE_ID = re.compile(r"_table_(\d+)_")


def table_unique_id(entry_id: str, table: int, kind: str) -> str:
    """Return the unique id of a table's entity: stable across restarts and reconfigures."""
    return f"{entry_id}_table_{table}_{kind}"


def table_of_unique_id(entry_id: str, unique_id: str) -> int | None:
    """Return the table a unique id made by `table_unique_id` belongs to."""
    if not unique_id.startswith(entry_id):
        return None
    match = _TABLE_UNIQUE_ID.search(unique_id, len(entry_id))
    return int(match.group(1)) if match else None


def bell_device_info(entry_id: str, name: str | None = None) -> DeviceInfo:
    """Describe the service bell device: the user's name for it, or "Service bell"."""
    info = DeviceInfo(
        identifiers={(DOMAIN, f"{entry_id}_bell")},
        manufacturer="Raspberry Pi",
        model="Pico W service bell",
    )
    if name:
        info["name"] = name
    else:
        info["translation_key"] = "service_bell"
    return info


class BellEntity(Entity):
    """An entity of the service bell; unavailable while the bell broker is out of reach."""

    _attr_has_entity_name = True
    _attr_should_poll = False
    # Which table's changes wake this entity; None hears them all.
    _listen_table: int | None = None
    # False for what lives in Home Assistant alone (a call, acknowledging it): usable
    # while the bell broker is out of reach.
    _follows_link = True

    def __init__(self, bell: ServiceBell, unique_id: str) -> None:
        """Attach the entity to the bell device."""
        self.bell = bell
        self._shown: tuple[object, ...] | None = None
        self._attr_unique_id = unique_id
        self._attr_device_info = bell_device_info(bell.entry.entry_id, bell.name)

    @property
    def available(self) -> bool:
        """Follow the bell broker link, unless the entity needs no broker."""
        return self.bell.available or not self._follows_link

    async def async_added_to_hass(self) -> None:
        """Listen to the bell."""
        await super().async_added_to_hass()
        self.async_on_remove(
            self.bell.async_add_listener(self._handle_bell_update, self._listen_table)
        )

    @callback
    def _handle_bell_update(self) -> None:
        """Write the state when what it shows changed.

        Every change of a table wakes all of its entities and the bell's; most of them
        show the same as before, and a press should not wait for thirty unchanged writes.
        """
        shown = (self.available, self.state, self.extra_state_attributes)
        if shown != self._shown:
            self._shown = shown
            self.async_write_ha_state()


class TableEntity(BellEntity):
    """An entity of one table: "Table N calling", or "Window table calling" once named.

    A named table uses the `named_` variant of the translation key, whose text puts the
    user's name where the number would be, so both read right in every language.
    """

    def __init__(self, bell: ServiceBell, table: int, kind: str) -> None:
        """Bind to one table."""
        super().__init__(bell, table_unique_id(bell.entry.entry_id, table, kind))
        self.table = table
        self._listen_table = table
        self._attr_translation_placeholders = {"table": str(table)}
        if (name := bell.table_name(table)) is not None and self._attr_translation_key:
            self._attr_translation_key = f"named_{self._attr_translation_key}"
            self._attr_translation_placeholders = {"table": str(table), "name": name}
