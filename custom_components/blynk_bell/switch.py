"""The "Bell active" switch: opening hours for the bell.

While inactive, a press is still an event (automations may log it) but starts no call,
so nobody is notified, and the bell's LEDs show "closed". With a `schedule` helper in the
options the switch follows it (on at opening, off at closing); staff can still flip it.
"""

from __future__ import annotations

from typing import Any

from homeassistant.components.switch import SwitchEntity
from homeassistant.const import STATE_OFF, STATE_ON
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.event import async_track_state_change_event

from . import BlynkBellConfigEntry
from .const import CONF_SCHEDULE
from .entity import BellEntity
from .service_bell import ServiceBell

PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: BlynkBellConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the bell's opening-hours switch."""
    async_add_entities([BellActive(entry.runtime_data.bell, entry.options.get(CONF_SCHEDULE))])


class BellActive(BellEntity, SwitchEntity):
    """On while the restaurant is open; the bell's call desk keeps it across restarts."""

    _attr_translation_key = "bell_active"
    _follows_link = False  # Opening hours are Home Assistant's.

    def __init__(self, bell: ServiceBell, schedule: str | None) -> None:
        """Attach to the bell, following `schedule` when given."""
        super().__init__(bell, f"{bell.entry.entry_id}_bell_active")
        self._schedule = schedule

    @property
    def is_on(self) -> bool:
        """Tell whether presses start calls."""
        return self.bell.desk.active

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """Name the schedule the switch follows."""
        return {"schedule": self._schedule} if self._schedule else None

    async def async_turn_on(self, **kwargs: Any) -> None:
        """Open: presses start calls again."""
        self.bell.set_active(True)

    async def async_turn_off(self, **kwargs: Any) -> None:
        """Close: presses start no call, the bell shows "closed"."""
        self.bell.set_active(False)

    async def async_added_to_hass(self) -> None:
        """Follow the schedule from now on, starting with its current state."""
        await super().async_added_to_hass()
        if self._schedule is None:
            return
        self.async_on_remove(
            async_track_state_change_event(self.hass, self._schedule, self._schedule_changed)
        )
        if (state := self.hass.states.get(self._schedule)) is not None:
            self._follow(state.state)

    @callback
    def _schedule_changed(self, event: Event[EventStateChangedData]) -> None:
        old, new = event.data["old_state"], event.data["new_state"]
        # Only opening and closing count: the schedule also rewrites its attributes (its
        # next event) at every boundary, which must not undo a hand-set switch.
        if new is not None and (old is None or old.state != new.state):
            self._follow(new.state)

    @callback
    def _follow(self, state: str) -> None:
        if state in (STATE_ON, STATE_OFF):
            self.bell.set_active(state == STATE_ON)
