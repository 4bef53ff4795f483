"""Diagnostics: what a maintainer needs to debug a bell or heater, without the secrets."""

from __future__ import annotations

import time
from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.core import HomeAssistant

from . import BlynkBellConfigEntry
from .const import CONF_BELL_KEY, CONF_PASSWORD, CONF_TOKEN, CONF_USERNAME
from .ha_mqtt_link import HaMqttLink
from .protocol.bell import Rejection
from .protocol.blynk import BlynkLink
from .protocol.mqtt import MqttLink

TO_REDACT = {CONF_TOKEN, CONF_PASSWORD, CONF_USERNAME, CONF_BELL_KEY}


def _link_diagnostics(link: MqttLink | BlynkLink | HaMqttLink) -> dict[str, Any]:
    # The URL holds host, port and scheme only; credentials live in the session options,
    # and no error text of the link quotes them.
    diagnostics: dict[str, Any] = {
        "connected": link.connected,
        "configured_endpoint": link.endpoint.url,
        "current_endpoint": link.current_endpoint.url,
        "last_error": link.last_error,
        "auth_failed": link.auth_failed,
    }
    if isinstance(link, MqttLink):  # Not a stand-in of the tests.
        since = link.connected_since
        diagnostics |= {
            "state": link.state,
            "connected_for_s": None if since is None else round(time.monotonic() - since, 1),
            "last_disconnect": link.last_disconnect,
            "attempts": link.stats.attempts,
            "connections": link.stats.connections,
            "messages_received": link.stats.received,
            "messages_dropped": link.stats.dropped,
        }
    elif isinstance(link, HaMqttLink):
        diagnostics |= {
            "last_disconnect": link.last_disconnect,
            "connections": link.connections,
            "messages_received": link.received,
        }
    return diagnostics


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: BlynkBellConfigEntry
) -> dict[str, Any]:
    """Return the entry's settings and the live state of its links."""
    bell = entry.runtime_data.bell
    diagnostics: dict[str, Any] = {
        "entry": {
            "data": async_redact_data(dict(entry.data), TO_REDACT),
            "options": dict(entry.options),
        },
        "bell": {
            # Which client carries the bell: Home Assistant's MQTT integration or our own.
            "broker": "home_assistant_mqtt" if isinstance(bell.link, HaMqttLink) else "own",
            "link": _link_diagnostics(bell.link),
            "tables": bell.tables,
            "reset_after_seconds": bell.reset_after.total_seconds(),
            "bell_online": bell.bell_online,
            "signed": bell.gate.keyed,
            "accepted_presses": bell.gate.accepted,
            "last_accepted_press": bell.gate.memory.last_press,
            "rejected": {reason.value: bell.gate.rejected[reason] for reason in Rejection},
            "calling": {
                table: called_at.isoformat()
                for table in range(1, bell.tables + 1)
                if (called_at := bell.called_at(table)) is not None
            },
        },
        "heater": None,
    }
    if (heater := entry.runtime_data.heater) is not None:
        controller = heater.controller
        diagnostics["heater"] = {
            "link": _link_diagnostics(heater.device.link),
            "token_conflict": heater.device.token_conflict,
            "messages_sent": heater.device.messages_sent,
            "messages_last_hour": heater.device.outbox.budget.spent(),
            "model": type(controller.model).__name__,
            "power": controller.power,
            "target": controller.target,
            "current": controller.state.current,
            "status": controller.state.status.name.lower(),
            "pending": sorted(controller.pending),
            "real_heater": heater.diagnostics() or None,
        }
    return diagnostics
