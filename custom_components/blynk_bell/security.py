"""The repair issue for a bell that anyone can ring: an unkeyed bell on a public broker.

On a public broker anyone may publish on any topic, so an unkeyed bell's tables ring for
strangers (and every kit owner following the tutorial publishes on the same topic).
The issue says so, says how to fix it, and clears itself once the entry has a key or
another broker: it is checked at every set-up, which a reconfigure triggers.
"""

from __future__ import annotations

from typing import Final

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir

from .const import CONF_BELL_KEY, CONF_BROKER, CONF_TOPIC, CONF_USE_HA_MQTT, DOMAIN
from .ha_mqtt_link import ha_broker_endpoint
from .protocol.bell import TUTORIAL_TOPIC

# Brokers that accept anyone's publishes; the first four are named in the protocol.
PUBLIC_BROKERS: Final = frozenset(
    {
        "broker.hivemq.com",
        "test.mosquitto.org",
        "broker.emqx.io",
        "mqtt.eclipseprojects.io",
        "broker.mqttdashboard.com",
        "public.mqtthq.com",
        "mqtt.eclipse.org",
        "iot.eclipse.org",
        "test.mosca.io",
        "broker.mqtt.cool",
    }
)
ISSUE_PUBLIC_BROKER: Final = "public_broker"
ISSUE_PUBLIC_BROKER_TUTORIAL_TOPIC: Final = "public_broker_tutorial_topic"
LEARN_MORE_URL: Final = "https://github.com/blynk-bell/blynk_bell#security"


def is_public_broker(host: str) -> bool:
    """Tell whether `host` is a broker that anyone may publish to."""
    return host.strip().lower().rstrip(".") in PUBLIC_BROKERS


def issue_id(entry: ConfigEntry) -> str:
    """Return the id of the entry's public-broker issue."""
    return f"{ISSUE_PUBLIC_BROKER}_{entry.entry_id}"


def async_check_public_broker(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """Raise or clear the repair issue for an unkeyed bell on a public broker."""
    # Home Assistant's own broker counts too: someone may point it at a public one.
    broker: str = (
        ha_broker_endpoint(hass).host
        if entry.data.get(CONF_USE_HA_MQTT)
        else entry.data[CONF_BROKER]
    )
    topic: str = entry.data[CONF_TOPIC]
    if entry.data.get(CONF_BELL_KEY) or not is_public_broker(broker):
        ir.async_delete_issue(hass, DOMAIN, issue_id(entry))
        return
    tutorial = topic == TUTORIAL_TOPIC
    ir.async_create_issue(
        hass,
        DOMAIN,
        issue_id(entry),
        is_fixable=False,
        is_persistent=False,
        learn_more_url=LEARN_MORE_URL,
        severity=ir.IssueSeverity.ERROR if tutorial else ir.IssueSeverity.WARNING,
        translation_key=ISSUE_PUBLIC_BROKER_TUTORIAL_TOPIC if tutorial else ISSUE_PUBLIC_BROKER,
        translation_placeholders={"title": entry.title, "broker": broker, "topic": topic},
    )


def async_remove_public_broker_issue(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """Remove the entry's issue with the entry."""
    ir.async_delete_issue(hass, DOMAIN, issue_id(entry))
