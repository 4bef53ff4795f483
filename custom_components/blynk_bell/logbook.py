"""The logbook in words: "Table 3 called", "Table 3 acknowledged after 2 min".

Every accepted press and every change of a call fires `blynk_bell_event`; the logbook
shows each as one line, named after the table (its name from the options, else
"Table N"; with several bells the bell's name comes first: "Terrace Table 3 called").
A press links to the table's event entity, a change of the call to its call sensor
(or to the event's own `entity_id` when it has one). A call that is reminded,
acknowledged and served reads:

    Table 3 pressed
    Table 3 called
    Table 3 pressed
    Table 3 reminded (2nd press after 1 min)
    Table 3 acknowledged after 2 min
    Table 3 served

a guest who gives up: "Table 3 long pressed", "Table 3 cancelled by the guest"; a call
nobody served: "Table 3 cleared (nobody served it)".

Why the presses keep lines of their own: Home Assistant lists every recorded event of a
type that a logbook platform describes, and a description cannot drop one. Each press
also changes the table's event entity, and Home Assistant's frontend (2026.2) shows that
line as "detected an event" without saying which kind. So the press line names the kind
of press (pressed, long pressed, double pressed), and the call line after it says what
the press meant and how long the guest waited; the call lines repeat no press kind. A
press that changed no call (while the bell is closed, one delivered too late to call, a
long press with nothing to cancel) has its press line alone.

Durations come from the event: `response_s` (first press to the acknowledgement, or to
"served" when nobody acknowledged), else `wait_s`; a line without either gives no time.
The lines are English: the logbook shows an integration's messages as they are.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
import math
from typing import Any, Final

from homeassistant.components.logbook.const import (
    LOGBOOK_ENTRY_ENTITY_ID,
    LOGBOOK_ENTRY_ICON,
    LOGBOOK_ENTRY_MESSAGE,
    LOGBOOK_ENTRY_NAME,
)
from homeassistant.components.logbook.models import LazyEventPartialState
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr, entity_registry as er

from .const import CONF_NAME, CONF_TABLE_NAMES, DEFAULT_NAME, DOMAIN, EVENT_BELL
from .entity import table_unique_id
from .protocol.bell import PressType
from .protocol.calls import CallChange

type DescribeEvent = Callable[[LazyEventPartialState], dict[str, Any]]

_PRESSED: Final[dict[str, str]] = {
    PressType.PRESS: "pressed",
    PressType.LONG_PRESS: "long pressed",
    PressType.DOUBLE_PRESS: "double pressed",
}
_ICONS: Final[dict[str, str]] = {
    PressType.PRESS: "mdi:gesture-tap-button",
    PressType.LONG_PRESS: "mdi:gesture-tap-hold",
    PressType.DOUBLE_PRESS: "mdi:gesture-double-tap",
    CallChange.STARTED: "mdi:bell-ring",
    CallChange.REMINDED: "mdi:bell-ring-outline",
    CallChange.ACKNOWLEDGED: "mdi:account-check",
    CallChange.SERVED: "mdi:room-service",
    CallChange.CANCELLED: "mdi:bell-cancel",
    CallChange.CLEARED: "mdi:bell-off-outline",
}
_SUFFIXES: Final = {1: "st", 2: "nd", 3: "rd"}


def table_name(entry: ConfigEntry | None, table: int) -> str:
    """Return a table's display name: its name in the entry's options, else "Table N"."""
    names = entry.options.get(CONF_TABLE_NAMES) if entry is not None else None
    if isinstance(names, Mapping):
        name = names.get(str(table))
        if isinstance(name, str) and name.strip():
            return name.strip()
    return f"Table {table}"


@callback
def async_describe_events(
    hass: HomeAssistant,
    async_describe_event: Callable[[str, str, DescribeEvent], None],
) -> None:
    """Describe the bell's events to the logbook."""

    @callback
    def describe(event: LazyEventPartialState) -> dict[str, Any]:
        return describe_bell_event(hass, event.data)

    async_describe_event(DOMAIN, EVENT_BELL, describe)


def describe_bell_event(hass: HomeAssistant, data: Mapping[str, Any]) -> dict[str, Any]:
    """Return the logbook line of one `blynk_bell_event`'s data.

    Never raises: the event was recorded by some version of the integration, and a
    description that fails would drop the line.
    """
    entry_id = data.get("entry_id")
    entry = hass.config_entries.async_get_entry(entry_id) if isinstance(entry_id, str) else None
    kind = str(data.get("type", ""))
    described: dict[str, Any] = {LOGBOOK_ENTRY_MESSAGE: _message(kind, data)}
    bell = _bell_name(hass, data, entry)
    table = data.get("table")
    if isinstance(table, int) and not isinstance(table, bool):
        name = table_name(entry, table)
        described[LOGBOOK_ENTRY_NAME] = f"{bell} {name}" if bell else name
        if entity_id := _linked_entity_id(hass, data, kind, table):
            described[LOGBOOK_ENTRY_ENTITY_ID] = entity_id
    else:
        described[LOGBOOK_ENTRY_NAME] = bell or DEFAULT_NAME
    if icon := _ICONS.get(kind):
        described[LOGBOOK_ENTRY_ICON] = icon
    return described


def _bell_name(
    hass: HomeAssistant, data: Mapping[str, Any], entry: ConfigEntry | None
) -> str | None:
    """Return the bell's name when there are several bells to tell apart, else None.

    The device's name as the user sees it (renamed, or the name given in the config
    flow), as in the names of its entities.
    """
    if len(hass.config_entries.async_entries(DOMAIN, include_ignore=False)) < 2:
        return None
    device_id = data.get("device_id")
    device = dr.async_get(hass).async_get(device_id) if isinstance(device_id, str) else None
    if device is not None and (name := device.name_by_user or device.name):
        return name
    if entry is not None and isinstance(name := entry.data.get(CONF_NAME), str) and name:
        return name
    return DEFAULT_NAME


def _linked_entity_id(
    hass: HomeAssistant, data: Mapping[str, Any], kind: str, table: int
) -> str | None:
    """Return the entity a line links to.

    The event's own `entity_id` if it has one; else the table's event entity for a
    press, and its call sensor for a change of the call.
    """
    entity_id = data.get("entity_id")
    if isinstance(entity_id, str) and entity_id:
        return entity_id
    entry_id = data.get("entry_id")
    if not isinstance(entry_id, str):
        return None
    registry = er.async_get(hass)
    candidates = [(Platform.EVENT, "event")]
    if kind not in _PRESSED:
        candidates.insert(0, (Platform.SENSOR, "call"))
    for platform, entity_kind in candidates:
        unique_id = table_unique_id(entry_id, table, entity_kind)
        if found := registry.async_get_entity_id(platform, DOMAIN, unique_id):
            return found
    return None


def _message(kind: str, data: Mapping[str, Any]) -> str:
    wait = _seconds(data.get("wait_s"))
    response = _seconds(data.get("response_s"))
    match kind:
        case CallChange.STARTED:
            return "called"
        case CallChange.REMINDED:
            reminders = data.get("reminders")
            if not isinstance(reminders, int) or isinstance(reminders, bool) or reminders < 1:
                return "reminded"
            return f"reminded ({_ordinal(reminders + 1)} press{_after(wait)})"
        case CallChange.ACKNOWLEDGED:
            # The first acknowledgement carries the response time; a later one (after a
            # reminder) the wait since the first press.
            return "acknowledged" + _after(response if response is not None else wait)
        case CallChange.SERVED:
            return "served" + _after(wait if wait is not None else response)
        case CallChange.CANCELLED:
            return "cancelled by the guest" + _after(wait)
        case CallChange.CLEARED:
            return f"cleared{_after(wait)} (nobody served it)"
    if pressed := _PRESSED.get(kind):
        return pressed
    return kind.replace("_", " ") if kind else "sent an event"


def _seconds(value: object) -> float | None:
    """Return a duration in seconds from the event's data; None when absent or not one."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) and value >= 0 else None


def _after(seconds: float | None) -> str:
    """Return " after 2 min", " within a second", or nothing when the time is unknown."""
    if seconds is None:
        return ""
    if seconds < 1:
        return " within a second"
    return f" after {duration_text(seconds)}"


def duration_text(seconds: float) -> str:
    """Return a duration as staff say it: "40 s", "2 min", "1 h 5 min"."""
    if seconds < 59.5:
        return f"{max(1, math.floor(seconds + 0.5))} s"
    minutes = math.floor(seconds / 60 + 0.5)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def _ordinal(number: int) -> str:
    """Return 1st, 2nd, 3rd, 4th, ... 11th, 12th, 13th, ... 21st."""
    suffix = "th" if 10 <= number % 100 <= 20 else _SUFFIXES.get(number % 10, "th")
    return f"{number}{suffix}"
