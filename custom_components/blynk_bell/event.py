"""Event entities: one per table, fired on every press."""

from __future__ import annotations

from collections import deque
from datetime import datetime
import time

from homeassistant.components.event import EventDeviceClass, EventEntity
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.event import async_call_later

from . import BlynkBellConfigEntry
from .const import ATTR_AGE_MS, ATTR_PRESSED_AT, ATTR_SEQ
from .entity import TableEntity
from .protocol.bell import Press, PressType
from .service_bell import ServiceBell

PARALLEL_UPDATES = 0
# Seconds between two events of one table, so each gets its own millisecond state.
EVENT_SPACING = 0.002


async def async_setup_entry(
    hass: HomeAssistant,
    entry: BlynkBellConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a press event entity per table."""
    bell = entry.runtime_data.bell
    async_add_entities(TableEvent(bell, table) for table in range(1, bell.tables + 1))


class TableEvent(TableEntity, EventEntity):
    """Fires `press`, `long_press` or `double_press` when a table's button is used.

    An event entity's state is the millisecond of its last event, so presses that
    arrive together (a backlog after a reconnect) are fired at least 2 ms apart:
    each one is a state change an automation sees.
    """

    _attr_device_class = EventDeviceClass.BUTTON
    _attr_event_types = [press_type.value for press_type in PressType]
    _attr_translation_key = "table"

    def __init__(self, bell: ServiceBell, table: int) -> None:
        """Bind to one table."""
        super().__init__(bell, table, "event")
        self._backlog: deque[tuple[Press, datetime]] = deque()
        self._cancel_next: CALLBACK_TYPE | None = None
        self._last_fired = float("-inf")

    async def async_added_to_hass(self) -> None:
        """Listen to this table's presses."""
        await super().async_added_to_hass()
        self.async_on_remove(self.bell.async_add_press_listener(self.table, self._handle_press))
        self.async_on_remove(self._cancel_backlog)

    @callback
    def _handle_press(self, press: Press, pressed_at: datetime) -> None:
        self._backlog.append((press, pressed_at))
        if self._cancel_next is None:
            self._fire_next()

    @callback
    def _fire_next(self, _now: datetime | None = None) -> None:
        self._cancel_next = None
        if time.monotonic() - self._last_fired < EVENT_SPACING:
            self._cancel_next = async_call_later(self.hass, EVENT_SPACING, self._fire_next)
            return
        press, pressed_at = self._backlog.popleft()
        attributes: dict[str, str | int] = {ATTR_PRESSED_AT: pressed_at.isoformat()}
        if press.seq is not None:
            attributes[ATTR_SEQ] = press.seq
        if press.age_ms is not None:
            attributes[ATTR_AGE_MS] = press.age_ms
        self._trigger_event(press.type.value, attributes)
        self.async_write_ha_state()
        self._last_fired = time.monotonic()
        if self._backlog:
            self._cancel_next = async_call_later(self.hass, EVENT_SPACING, self._fire_next)

    @callback
    def _cancel_backlog(self) -> None:
        if self._cancel_next is not None:
            self._cancel_next()
            self._cancel_next = None
        self._backlog.clear()
