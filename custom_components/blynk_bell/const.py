"""Constants for the Blynk Bell integration."""

from __future__ import annotations

import re
from typing import Final

from .protocol.bell import MAX_TABLES

DOMAIN: Final = "blynk_bell"

# entry.data: the bell broker and topic, and the optional Blynk heater.
CONF_BROKER: Final = "broker"
CONF_PORT: Final = "port"
CONF_USERNAME: Final = "username"
CONF_PASSWORD: Final = "password"
CONF_TLS: Final = "tls"
CONF_TOPIC: Final = "topic"
CONF_BELL_KEY: Final = "bell_key"
CONF_NAME: Final = "name"
CONF_TOKEN: Final = "token"
CONF_BLYNK_SERVER: Final = "blynk_server"
# True: the bell talks through Home Assistant's MQTT integration, and the entry has no
# broker, port or login of its own.
CONF_USE_HA_MQTT: Final = "use_ha_mqtt"

# entry.options
CONF_BUTTONS: Final = "buttons"
CONF_RESET_AFTER: Final = "reset_after"
# Table number (as text) -> the name staff use ("Window table").
CONF_TABLE_NAMES: Final = "table_names"
# A schedule helper whose "on" means open: outside it presses start no call.
CONF_SCHEDULE: Final = "schedule"

DEFAULT_NAME: Final = "Service bell"
DEFAULT_BROKER: Final = "broker.hivemq.com"
DEFAULT_PORT: Final = 1883
DEFAULT_TOPIC: Final = "SunFounder MQTT Test"
DEFAULT_BLYNK_SERVER: Final = "mqtts://blynk.cloud:8883"
DEFAULT_BUTTONS: Final = 4
DEFAULT_RESET_AFTER: Final = 300
MAX_BUTTONS: Final = MAX_TABLES

# How long setup waits for the bell broker before Home Assistant retries later.
SETUP_CONNECT_TIMEOUT: Final = 10.0
BELL_KEEPALIVE: Final = 30
# A bad payload logs a warning at most this often (seconds); the rest go to debug.
INVALID_PAYLOAD_WARNING_INTERVAL: Final = 60.0

# Fired on every accepted press and every change of a call: device triggers and the
# logbook read it. Data: device_id, entry_id, table, type (press, long_press,
# double_press, or a CallChange), reminders, and wait_s / response_s when known.
EVENT_BELL: Final = "blynk_bell_event"

ATTR_PRESSED_AT: Final = "pressed_at"
ATTR_CALLED_AT: Final = "called_at"
ATTR_REMINDERS: Final = "reminders"
ATTR_LAST_PRESSED_AT: Final = "last_pressed_at"
ATTR_SEQ: Final = "seq"
ATTR_AGE_MS: Final = "age_ms"

# Heater options: the seed's simulation, or a real Home Assistant sensor and switch.
CONF_HEATER_MODE: Final = "heater_mode"
HEATER_MODE_SIMULATED: Final = "simulated"
HEATER_MODE_ENTITIES: Final = "entities"
CONF_TEMPERATURE_SENSOR: Final = "temperature_sensor"
CONF_HEATER_SWITCH: Final = "heater_switch"
CONF_HYSTERESIS: Final = "hysteresis"
DEFAULT_HYSTERESIS: Final = 0.5
# The user's template id from Blynk's Device Info, sent in info/mcu (optional).
CONF_TEMPLATE_ID: Final = "template_id"
# Blynk's template ids read like TMPL4zGiS1A7l.
TEMPLATE_ID: Final = re.compile(r"TMPL[A-Za-z0-9_-]{1,40}")

VERSION: Final = "0.2.0"
ISSUE_TOKEN_CONFLICT: Final = "token_conflict"
