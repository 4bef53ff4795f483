"""Device triggers of the service bell: "Table 3 pressed", "Table 3 call acknowledged".

Each table of a bell device offers the kinds of press and the changes of its call as
triggers in the automation editor. A trigger listens to `blynk_bell_event` for its
bell device, table (the subtype `table_N`) and type (the event's own `type`), so the
automation's `trigger.event.data` holds what the event carries (`wait_s`, `response_s`,
`reminders`).
"""

from __future__ import annotations

from typing import Any, Final

from homeassistant.components.device_automation import DEVICE_TRIGGER_BASE_SCHEMA
from homeassistant.components.device_automation.exceptions import (
    InvalidDeviceAutomationConfig,
)
from homeassistant.components.homeassistant.triggers import event as event_trigger
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import (
    CONF_DEVICE_ID,
    CONF_DOMAIN,
    CONF_EVENT,
    CONF_EVENT_DATA,
    CONF_PLATFORM,
    CONF_TYPE,
)
from homeassistant.core import CALLBACK_TYPE, HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.trigger import TriggerActionType, TriggerInfo
from homeassistant.helpers.typing import ConfigType
import voluptuous as vol

from .const import CONF_BUTTONS, DEFAULT_BUTTONS, DOMAIN, EVENT_BELL, MAX_BUTTONS
from .protocol.bell import PressType
from .protocol.calls import CallChange

CONF_SUBTYPE: Final = "subtype"

# The trigger types are the event's types, so a trigger matches the event as it is.
TRIGGER_TYPES: Final = (
    PressType.PRESS.value,
    PressType.LONG_PRESS.value,
    PressType.DOUBLE_PRESS.value,
    CallChange.STARTED.value,
    CallChange.ACKNOWLEDGED.value,
    CallChange.SERVED.value,
    CallChange.CANCELLED.value,
)


def table_subtype(table: int) -> str:
    """Return the trigger subtype of a table: `table_3`."""
    return f"table_{table}"


TABLE_SUBTYPES: Final = {table_subtype(table): table for table in range(1, MAX_BUTTONS + 1)}

TRIGGER_SCHEMA: Final = DEVICE_TRIGGER_BASE_SCHEMA.extend(
    {
        vol.Required(CONF_TYPE): vol.In(TRIGGER_TYPES),
        vol.Required(CONF_SUBTYPE): vol.In(list(TABLE_SUBTYPES)),
    }
)


def _bell_entry(hass: HomeAssistant, device_id: str) -> ConfigEntry | None:
    """Return the config entry whose bell this device is; None for any other device."""
    device = dr.async_get(hass).async_get(device_id)
    if device is None:
        return None
    for entry_id in device.config_entries:
        entry = hass.config_entries.async_get_entry(entry_id)
        if (
            entry is not None
            and entry.domain == DOMAIN
            and (DOMAIN, f"{entry_id}_bell") in device.identifiers
        ):
            return entry
    return None


def _tables(entry: ConfigEntry) -> int:
    tables: int = entry.options.get(CONF_BUTTONS, DEFAULT_BUTTONS)
    return tables


async def async_validate_trigger_config(hass: HomeAssistant, config: ConfigType) -> ConfigType:
    """Check the form, then that the device is a bell and has the table."""
    config = TRIGGER_SCHEMA(config)
    entry = _bell_entry(hass, config[CONF_DEVICE_ID])
    if entry is None:
        raise InvalidDeviceAutomationConfig(
            translation_domain=DOMAIN,
            translation_key="trigger_not_a_bell",
            translation_placeholders={"device_id": config[CONF_DEVICE_ID]},
        )
    table = TABLE_SUBTYPES[config[CONF_SUBTYPE]]
    if table > (tables := _tables(entry)):
        raise InvalidDeviceAutomationConfig(
            translation_domain=DOMAIN,
            translation_key="trigger_no_such_table",
            translation_placeholders={
                "bell": entry.title,
                "tables": str(tables),
                "table": str(table),
            },
        )
    return config


async def async_get_triggers(hass: HomeAssistant, device_id: str) -> list[dict[str, Any]]:
    """List every table's triggers of a bell device; other devices have none."""
    entry = _bell_entry(hass, device_id)
    if entry is None:
        return []
    return [
        {
            CONF_PLATFORM: "device",
            CONF_DOMAIN: DOMAIN,
            CONF_DEVICE_ID: device_id,
            CONF_TYPE: trigger_type,
            CONF_SUBTYPE: table_subtype(table),
        }
        for table in range(1, _tables(entry) + 1)
        for trigger_type in TRIGGER_TYPES
    ]


async def async_attach_trigger(
    hass: HomeAssistant,
    config: ConfigType,
    action: TriggerActionType,
    trigger_info: TriggerInfo,
) -> CALLBACK_TYPE:
    """Listen to the bell's events of this device, table and type."""
    event_config = event_trigger.TRIGGER_SCHEMA(
        {
            CONF_PLATFORM: CONF_EVENT,
            event_trigger.CONF_EVENT_TYPE: EVENT_BELL,
            CONF_EVENT_DATA: {
                CONF_DEVICE_ID: config[CONF_DEVICE_ID],
                "table": TABLE_SUBTYPES[config[CONF_SUBTYPE]],
                CONF_TYPE: config[CONF_TYPE],
            },
        }
    )
    return await event_trigger.async_attach_trigger(
        hass, event_config, action, trigger_info, platform_type="device"
    )
