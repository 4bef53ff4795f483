"""Config flow: the bell broker, topic and key, then the optional Blynk heater token.

When Home Assistant's MQTT integration is set up, its broker is offered first: no second
connection and nothing to type but the topic. Every step that names a server connects to
it before saving (test-before-configure), and says which server failed and why. Stored
secrets (the broker password, the Blynk token, the bell key) are never sent back to the
browser: in reconfigure and reauth an empty secret field keeps what is stored.
"""

from __future__ import annotations

from collections.abc import Mapping
import secrets
from typing import Any
import uuid

from homeassistant.config_entries import (
    ConfigEntry,
    ConfigFlow,
    ConfigFlowResult,
    OptionsFlowWithReload,
)
from homeassistant.core import callback
from homeassistant.data_entry_flow import section
from homeassistant.helpers.selector import (
    BooleanSelector,
    EntitySelector,
    EntitySelectorConfig,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
import voluptuous as vol

from .const import (
    CONF_BELL_KEY,
    CONF_BLYNK_SERVER,
    CONF_BROKER,
    CONF_BUTTONS,
    CONF_HEATER_MODE,
    CONF_HEATER_SWITCH,
    CONF_HYSTERESIS,
    CONF_NAME,
    CONF_PASSWORD,
    CONF_PORT,
    CONF_RESET_AFTER,
    CONF_SCHEDULE,
    CONF_TABLE_NAMES,
    CONF_TEMPERATURE_SENSOR,
    CONF_TEMPLATE_ID,
    CONF_TLS,
    CONF_TOKEN,
    CONF_TOPIC,
    CONF_USE_HA_MQTT,
    CONF_USERNAME,
    DEFAULT_BLYNK_SERVER,
    DEFAULT_BROKER,
    DEFAULT_BUTTONS,
    DEFAULT_HYSTERESIS,
    DEFAULT_NAME,
    DEFAULT_PORT,
    DEFAULT_RESET_AFTER,
    DOMAIN,
    HEATER_MODE_ENTITIES,
    HEATER_MODE_SIMULATED,
    MAX_BUTTONS,
    TEMPLATE_ID,
)
from .ha_mqtt_link import ha_mqtt_connected, ha_mqtt_loaded
from .protocol.bell import validate_topic
from .protocol.blynk import blynk_session_options
from .protocol.mqtt import (
    CannotConnect,
    Endpoint,
    InvalidAuth,
    InvalidEndpoint,
    SessionOptions,
    async_check_connection,
)
from .protocol.signing import InvalidKey, generate_key, normalize_key
from .service_bell import bell_endpoint, uses_ha_mqtt

SECTION_BELL = "bell"
SECTION_TABLES = "tables"
SECTION_HEATER = "heater"
CONF_CLEAR_AFTER_MINUTES = "clear_after"
MAX_TABLE_NAME = 40
MAX_BELL_NAME = 40

REAUTH_TARGET = "target"
REAUTH_BELL = "bell"
# Reconfigure: what to do with the bell key (an empty key field keeps the stored one).
CONF_SIGNING = "signing"
SIGNING_KEEP = "keep"
SIGNING_NEW_KEY = "new_key"
SIGNING_UNSIGNED = "unsigned"
CONF_REMOVE_HEATER = "remove_heater"
NEW_TOPIC_PREFIX = "blynk-bell/"
# The menu that offers Home Assistant's MQTT broker first, and its options (step ids).
STEP_CHOOSE_BROKER = "choose_broker"
STEP_HA_MQTT = "ha_mqtt"
STEP_OWN_BROKER = "own_broker"
STEP_RECONFIGURE_CHOOSE_BROKER = "reconfigure_choose_broker"
STEP_RECONFIGURE_HA_MQTT = "reconfigure_ha_mqtt"
STEP_RECONFIGURE_OWN_BROKER = "reconfigure_own_broker"
# Every key of entry.data that describes the bell's broker, topic and key: replaced as a
# whole when reconfigured, so a switch of broker kind leaves nothing of the old one.
BELL_KEYS = frozenset(
    {
        CONF_NAME,
        CONF_BROKER,
        CONF_PORT,
        CONF_USERNAME,
        CONF_PASSWORD,
        CONF_TLS,
        CONF_TOPIC,
        CONF_BELL_KEY,
        CONF_USE_HA_MQTT,
    }
)
# The unique id's broker part for Home Assistant's broker. A "/" cannot be in a host
# name, so no own-broker entry ("host:port:topic") can take this id.
HA_MQTT_UNIQUE_ID = "homeassistant/mqtt"
# The server URLs the Blynk steps' texts name: translations carry no URLs, only these names.
BLYNK_SERVER_PLACEHOLDERS = {
    "default_server": DEFAULT_BLYNK_SERVER,
    "region_server": "mqtts://fra1.blynk.cloud:8883",
}

_PASSWORD = TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD))
_PORT = vol.All(
    NumberSelector(NumberSelectorConfig(min=1, max=65535, mode=NumberSelectorMode.BOX)),
    vol.Coerce(int),
)
_SIGNING = SelectSelector(
    SelectSelectorConfig(
        options=[SIGNING_KEEP, SIGNING_NEW_KEY, SIGNING_UNSIGNED],
        translation_key=CONF_SIGNING,
        mode=SelectSelectorMode.LIST,
    )
)


def new_bell_topic() -> str:
    """Return a topic nobody else uses: the tutorial's is shared by every kit owner."""
    return NEW_TOPIC_PREFIX + secrets.token_hex(5)


def _bell_schema(
    defaults: Mapping[str, Any], *, new_bell: bool, ha_mqtt: bool = False
) -> vol.Schema:
    """Return the bell form; secrets get no default, the browser must not see them.

    With Home Assistant's broker there is no broker, port or login to ask for.
    """
    schema: dict[vol.Marker, Any] = {
        vol.Required(CONF_NAME, default=defaults.get(CONF_NAME) or DEFAULT_NAME): str,
    }
    if not ha_mqtt:
        schema |= {
            vol.Required(CONF_BROKER, default=defaults.get(CONF_BROKER, DEFAULT_BROKER)): str,
            vol.Required(CONF_PORT, default=defaults.get(CONF_PORT, DEFAULT_PORT)): _PORT,
            vol.Optional(CONF_USERNAME, default=defaults.get(CONF_USERNAME, "")): str,
            vol.Optional(CONF_PASSWORD, default=""): _PASSWORD,
            vol.Required(CONF_TLS, default=defaults.get(CONF_TLS, False)): BooleanSelector(),
        }
    schema[vol.Required(CONF_TOPIC, default=defaults[CONF_TOPIC])] = str
    if new_bell:
        # A fresh key, not a stored one: shown here and once more with the config line.
        schema[vol.Optional(CONF_BELL_KEY, default=defaults[CONF_BELL_KEY])] = str
    else:
        schema[vol.Required(CONF_SIGNING, default=defaults[CONF_SIGNING])] = _SIGNING
        schema[vol.Optional(CONF_BELL_KEY, default="")] = _PASSWORD
    return vol.Schema(schema)


def _blynk_schema(server: str, *, has_heater: bool = False) -> vol.Schema:
    schema: dict[vol.Marker, Any] = {
        vol.Optional(CONF_TOKEN, default=""): _PASSWORD,
        vol.Required(CONF_BLYNK_SERVER, default=server): str,
    }
    if has_heater:
        schema[vol.Required(CONF_REMOVE_HEATER, default=False)] = BooleanSelector()
    return vol.Schema(schema)


def _bell_unique_id(data: Mapping[str, Any]) -> str:
    """One entry per broker, port and topic: two entries would double every press.

    Home Assistant's broker is one broker, whatever its address.
    """
    if uses_ha_mqtt(data):
        return f"{HA_MQTT_UNIQUE_ID}:{data[CONF_TOPIC]}"
    return f"{data[CONF_BROKER].strip().lower()}:{data[CONF_PORT]}:{data[CONF_TOPIC]}"


def _clean_bell_input(
    user_input: Mapping[str, Any],
    stored: Mapping[str, Any] | None = None,
    *,
    ha_mqtt: bool = False,
) -> dict[str, Any]:
    """Return the bell's settings; with `stored`, an empty password keeps the stored one."""
    name = (user_input.get(CONF_NAME) or DEFAULT_NAME).strip()[:MAX_BELL_NAME]
    if ha_mqtt:
        return {CONF_NAME: name, CONF_USE_HA_MQTT: True, CONF_TOPIC: user_input[CONF_TOPIC]}
    username = user_input.get(CONF_USERNAME, "").strip()
    password = user_input.get(CONF_PASSWORD, "")
    if not password and stored is not None and username:
        password = stored.get(CONF_PASSWORD, "")
    return {
        CONF_NAME: name,
        CONF_BROKER: user_input[CONF_BROKER].strip(),
        CONF_PORT: int(user_input[CONF_PORT]),
        CONF_USERNAME: username,
        CONF_PASSWORD: password if username else "",
        CONF_TLS: bool(user_input.get(CONF_TLS, False)),
        CONF_TOPIC: user_input[CONF_TOPIC],
    }


def _chosen_key(
    user_input: Mapping[str, Any], stored: Mapping[str, Any] | None
) -> tuple[str, dict[str, str]]:
    """Return the bell key the form asks for ("" for none), or a form error."""
    pasted = user_input.get(CONF_BELL_KEY, "").strip()
    if pasted:
        try:
            return normalize_key(pasted), {}
        except InvalidKey:
            return "", {CONF_BELL_KEY: "invalid_bell_key"}
    if stored is None:  # A new bell: an empty field means the tutorial's firmware.
        return "", {}
    signing = user_input.get(CONF_SIGNING, SIGNING_KEEP)
    if signing == SIGNING_NEW_KEY:
        return generate_key(), {}
    if signing == SIGNING_UNSIGNED:
        return "", {}
    return stored.get(CONF_BELL_KEY, ""), {}


# The check of a server answers within this, whatever the server does (or does not do):
# it covers the lookup, the TCP connect, the TLS handshake and the CONNACK.
CHECK_TIMEOUT = 10.0


def _connect_error(err: CannotConnect | InvalidAuth, *, blynk: bool = False) -> str:
    if isinstance(err, InvalidAuth):
        return "invalid_token" if blynk else "invalid_auth"
    return f"cannot_connect_{err.kind}"


async def _async_check(
    endpoint: Endpoint, options: SessionOptions, *, blynk: bool = False
) -> tuple[dict[str, str], dict[str, str]]:
    """Connect once; return form errors and the placeholders that explain them."""
    placeholders = {"host": endpoint.host, "port": str(endpoint.port), "error": ""}
    try:
        await async_check_connection(endpoint, options, CHECK_TIMEOUT)
    except (CannotConnect, InvalidAuth) as err:
        placeholders["error"] = str(err)
        return {"base": _connect_error(err, blynk=blynk)}, placeholders
    return {}, placeholders


async def _async_check_bell(
    data: Mapping[str, Any],
) -> tuple[dict[str, str], dict[str, str]]:
    """Return form errors for the bell settings; none when the broker accepts them."""
    if uses_ha_mqtt(data):
        placeholders = {"host": "", "port": "", "error": ""}
        if validate_topic(data[CONF_TOPIC]) is not None:
            return {CONF_TOPIC: "invalid_topic"}, placeholders
        return {}, placeholders
    placeholders = {"host": data[CONF_BROKER], "port": str(data[CONF_PORT]), "error": ""}
    if not data[CONF_BROKER]:
        return {CONF_BROKER: "invalid_broker"}, placeholders
    if validate_topic(data[CONF_TOPIC]) is not None:
        return {CONF_TOPIC: "invalid_topic"}, placeholders
    options = SessionOptions(
        # A throwaway id: the entry's own id would take over its persistent session.
        client_id=f"blynkbell-check-{uuid.uuid4().hex[:6]}",
        username=data[CONF_USERNAME] or None,
        password=data[CONF_PASSWORD] or None,
    )
    return await _async_check(bell_endpoint(data), options)


async def _async_check_blynk(
    data: Mapping[str, Any],
) -> tuple[dict[str, str], dict[str, str]]:
    """Return form errors for the Blynk settings; none when Blynk accepts the token."""
    try:
        endpoint = Endpoint.from_url(data[CONF_BLYNK_SERVER])
    except InvalidEndpoint:
        return {CONF_BLYNK_SERVER: "invalid_server_url"}, {"host": "", "port": "", "error": ""}
    placeholders = {"host": endpoint.host, "port": str(endpoint.port), "error": ""}
    if not data[CONF_TOKEN]:
        return {}, placeholders
    return await _async_check(endpoint, blynk_session_options(data[CONF_TOKEN]), blynk=True)


def _clean_blynk_input(user_input: Mapping[str, Any]) -> dict[str, Any]:
    return {
        CONF_TOKEN: user_input.get(CONF_TOKEN, "").strip(),
        CONF_BLYNK_SERVER: user_input.get(CONF_BLYNK_SERVER, DEFAULT_BLYNK_SERVER).strip(),
    }


def firmware_config_lines(data: Mapping[str, Any]) -> str:
    """Return the lines of the firmware's config.py that must match this entry.

    With Home Assistant's broker the broker lines are the user's: only they know the
    address the bell reaches it at (Home Assistant may know it as "core-mosquitto").
    """
    lines = []
    if not uses_ha_mqtt(data):
        lines += [
            f"BROKER = {data[CONF_BROKER]!r}",
            f"PORT = {data[CONF_PORT]}",
            f"TLS = {bool(data[CONF_TLS])}",
        ]
    lines.append(f"TOPIC = {data[CONF_TOPIC]!r}")
    if data.get(CONF_BELL_KEY):
        lines.append(f'BELL_KEY = "{data[CONF_BELL_KEY]}"')
    return "\n".join(lines)


class BlynkBellConfigFlow(ConfigFlow, domain=DOMAIN):
    """Set up a service bell and, optionally, a Blynk heater."""

    VERSION = 1

    def __init__(self) -> None:
        """Start with nothing entered, a unique topic and a fresh key to suggest."""
        self._bell: dict[str, Any] = {}
        self._suggested = {CONF_TOPIC: new_bell_topic(), CONF_BELL_KEY: generate_key()}

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: ConfigEntry) -> BlynkBellOptionsFlow:
        """Return the options flow."""
        return BlynkBellOptionsFlow()

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Offer Home Assistant's MQTT broker first when it is set up, else ask for a broker.

        The broker form keeps the step id "user": its answers come back here.
        """
        if user_input is None and ha_mqtt_loaded(self.hass):
            return await self.async_step_choose_broker()
        return await self._async_new_bell("user", user_input, ha_mqtt=False)

    async def async_step_choose_broker(
        self, _user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Offer Home Assistant's MQTT broker first, then another broker."""
        return self.async_show_menu(
            step_id=STEP_CHOOSE_BROKER, menu_options=[STEP_HA_MQTT, STEP_OWN_BROKER]
        )

    async def async_step_own_broker(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for another broker: the form of a Home Assistant without MQTT."""
        return await self._async_new_bell("user", user_input, ha_mqtt=False)

    async def async_step_ha_mqtt(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask only for the name, topic and key: Home Assistant's MQTT brings the rest."""
        return await self._async_new_bell(STEP_HA_MQTT, user_input, ha_mqtt=True)

    async def _async_new_bell(
        self, step_id: str, user_input: dict[str, Any] | None, *, ha_mqtt: bool
    ) -> ConfigFlowResult:
        """Check a new bell's settings, then show its key or go on to the heater."""
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {"host": "", "port": "", "error": ""}
        if user_input is not None:
            data = _clean_bell_input(user_input, ha_mqtt=ha_mqtt)
            key, errors = _chosen_key(user_input, None)
            if not errors and self._unique_id_taken(_bell_unique_id(data)):
                errors = {CONF_TOPIC: "topic_in_use"}
            if not errors:
                errors = self._name_in_use(data[CONF_NAME])
            if not errors:
                errors, placeholders = await self._async_check_bell(data)
            if not errors:
                await self.async_set_unique_id(_bell_unique_id(data))
                self._bell = {**data, CONF_BELL_KEY: key}
                if key:
                    return await self.async_step_bell_key()
                return await self.async_step_blynk()
        defaults = {**self._suggested, **(user_input or {})}
        return self.async_show_form(
            step_id=step_id,
            data_schema=_bell_schema(defaults, new_bell=True, ha_mqtt=ha_mqtt),
            errors=errors,
            description_placeholders=placeholders,
        )

    async def _async_check_bell(
        self, data: Mapping[str, Any]
    ) -> tuple[dict[str, str], dict[str, str]]:
        """Check the settings; Home Assistant's broker must be connected to be chosen."""
        errors, placeholders = await _async_check_bell(data)
        if not errors and uses_ha_mqtt(data) and not ha_mqtt_connected(self.hass):
            errors = {"base": "ha_mqtt_not_connected"}
        return errors, placeholders

    async def async_step_bell_key(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show the key once, with the lines to paste into the firmware's config.py."""
        if user_input is not None:
            return await self.async_step_blynk()
        return self.async_show_form(
            step_id="bell_key",
            data_schema=vol.Schema({}),
            description_placeholders={"config_lines": firmware_config_lines(self._bell)},
        )

    async def async_step_blynk(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask for the Blynk heater's auth token; empty means no heater."""
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {"host": "", "port": "", "error": ""}
        if user_input is not None:
            data = _clean_blynk_input(user_input)
            errors = self._token_in_use(data[CONF_TOKEN])
            if not errors:
                errors, placeholders = await _async_check_blynk(data)
            if not errors:
                return self.async_create_entry(
                    title=self._bell[CONF_NAME],
                    data={**self._bell, **data},
                )
        server = (user_input or {}).get(CONF_BLYNK_SERVER, DEFAULT_BLYNK_SERVER)
        return self.async_show_form(
            step_id="blynk",
            data_schema=_blynk_schema(server),
            errors=errors,
            description_placeholders={**placeholders, **BLYNK_SERVER_PLACEHOLDERS},
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the bell broker, topic, login or key; or move to or from Home Assistant's.

        The own-broker form keeps the step id "reconfigure": its answers come back here.
        """
        entry = self._get_reconfigure_entry()
        if user_input is None and ha_mqtt_loaded(self.hass):
            return await self.async_step_reconfigure_choose_broker()
        return await self._async_change_bell("reconfigure", entry, user_input, ha_mqtt=False)

    async def async_step_reconfigure_choose_broker(
        self, _user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Offer Home Assistant's MQTT broker first, then another broker."""
        return self.async_show_menu(
            step_id=STEP_RECONFIGURE_CHOOSE_BROKER,
            menu_options=[STEP_RECONFIGURE_HA_MQTT, STEP_RECONFIGURE_OWN_BROKER],
        )

    async def async_step_reconfigure_own_broker(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change to, or stay on, a broker of the bell's own."""
        entry = self._get_reconfigure_entry()
        return await self._async_change_bell("reconfigure", entry, user_input, ha_mqtt=False)

    async def async_step_reconfigure_ha_mqtt(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change to, or stay on, Home Assistant's MQTT broker."""
        entry = self._get_reconfigure_entry()
        return await self._async_change_bell(
            STEP_RECONFIGURE_HA_MQTT, entry, user_input, ha_mqtt=True
        )

    async def _async_change_bell(
        self,
        step_id: str,
        entry: ConfigEntry,
        user_input: dict[str, Any] | None,
        *,
        ha_mqtt: bool,
    ) -> ConfigFlowResult:
        """Check the bell's new settings, then show a new key or go on to the heater."""
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {"host": "", "port": "", "error": ""}
        if user_input is not None:
            data = _clean_bell_input(user_input, entry.data, ha_mqtt=ha_mqtt)
            key, errors = _chosen_key(user_input, entry.data)
            if not errors and self._unique_id_taken(_bell_unique_id(data), entry):
                errors = {CONF_TOPIC: "topic_in_use"}
            if not errors:
                errors = self._name_in_use(data[CONF_NAME], entry)
            if not errors:
                errors, placeholders = await self._async_check_bell(data)
            if not errors:
                self._bell = {**data, CONF_BELL_KEY: key}
                if key and key != entry.data.get(CONF_BELL_KEY):
                    return await self.async_step_reconfigure_bell_key()
                return await self.async_step_reconfigure_blynk()
        signing = SIGNING_KEEP if entry.data.get(CONF_BELL_KEY) else SIGNING_UNSIGNED
        defaults = {**entry.data, CONF_SIGNING: signing, **(user_input or {})}
        return self.async_show_form(
            step_id=step_id,
            data_schema=_bell_schema(defaults, new_bell=False, ha_mqtt=ha_mqtt),
            errors=errors,
            description_placeholders=placeholders,
        )

    async def async_step_reconfigure_bell_key(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show a new key once, with the lines to paste into the firmware's config.py."""
        if user_input is not None:
            return await self.async_step_reconfigure_blynk()
        return self.async_show_form(
            step_id="reconfigure_bell_key",
            data_schema=vol.Schema({}),
            description_placeholders={"config_lines": firmware_config_lines(self._bell)},
        )

    async def async_step_reconfigure_blynk(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the Blynk token or server; an empty token keeps the stored one."""
        entry = self._get_reconfigure_entry()
        has_heater = bool(entry.data.get(CONF_TOKEN))
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {"host": "", "port": "", "error": ""}
        if user_input is not None:
            data = _clean_blynk_input(user_input)
            if user_input.get(CONF_REMOVE_HEATER):
                data[CONF_TOKEN] = ""
            elif not data[CONF_TOKEN]:
                data[CONF_TOKEN] = entry.data.get(CONF_TOKEN, "")
            unchanged = all(data[key] == entry.data.get(key) for key in data)
            # Checking an unchanged token would kick our own running connection.
            if not unchanged:
                errors = self._token_in_use(data[CONF_TOKEN], entry)
                if not errors:
                    errors, placeholders = await _async_check_blynk(data)
            if not errors:
                # The bell's keys are replaced as a whole: a switch between Home
                # Assistant's broker and an own one keeps nothing of the other.
                kept = {key: value for key, value in entry.data.items() if key not in BELL_KEYS}
                return self.async_update_reload_and_abort(
                    entry,
                    unique_id=_bell_unique_id(self._bell),
                    title=self._bell[CONF_NAME],
                    data={**kept, **self._bell, **data},
                )
        server = (user_input or entry.data).get(CONF_BLYNK_SERVER) or DEFAULT_BLYNK_SERVER
        return self.async_show_form(
            step_id="reconfigure_blynk",
            data_schema=_blynk_schema(server, has_heater=has_heater),
            errors=errors,
            description_placeholders={**placeholders, **BLYNK_SERVER_PLACEHOLDERS},
        )

    async def async_step_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """Ask again for whichever credentials the server refused."""
        if entry_data.get(REAUTH_TARGET) == REAUTH_BELL or not entry_data.get(CONF_TOKEN):
            return await self.async_step_reauth_bell()
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for a new Blynk auth token."""
        entry = self._get_reauth_entry()
        errors: dict[str, str] = {}
        server = entry.data.get(CONF_BLYNK_SERVER) or DEFAULT_BLYNK_SERVER
        placeholders = {"title": entry.title, "host": server, "port": "", "error": ""}
        if user_input is not None:
            data = {CONF_TOKEN: user_input[CONF_TOKEN].strip(), CONF_BLYNK_SERVER: server}
            errors = self._token_in_use(data[CONF_TOKEN], entry)
            if not errors:
                errors, checked = await _async_check_blynk(data)
                placeholders |= checked
            if not errors:
                return self.async_update_reload_and_abort(
                    entry, data_updates={CONF_TOKEN: data[CONF_TOKEN]}
                )
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=vol.Schema({vol.Required(CONF_TOKEN): _PASSWORD}),
            errors=errors,
            description_placeholders={**placeholders, **BLYNK_SERVER_PLACEHOLDERS},
        )

    async def async_step_reauth_bell(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for new bell broker credentials; an empty password keeps the stored one."""
        entry = self._get_reauth_entry()
        errors: dict[str, str] = {}
        placeholders = {
            "broker": entry.data[CONF_BROKER],
            "host": entry.data[CONF_BROKER],
            "port": str(entry.data[CONF_PORT]),
            "error": "",
        }
        if user_input is not None:
            data = _clean_bell_input({**entry.data, **user_input}, entry.data)
            errors, checked = await _async_check_bell(data)
            placeholders |= checked
            if not errors:
                return self.async_update_reload_and_abort(
                    entry,
                    data_updates={
                        CONF_USERNAME: data[CONF_USERNAME],
                        CONF_PASSWORD: data[CONF_PASSWORD],
                    },
                )
        return self.async_show_form(
            step_id="reauth_bell",
            data_schema=vol.Schema(
                {
                    vol.Optional(CONF_USERNAME, default=entry.data.get(CONF_USERNAME, "")): str,
                    vol.Optional(CONF_PASSWORD, default=""): _PASSWORD,
                }
            ),
            errors=errors,
            description_placeholders=placeholders,
        )

    def _unique_id_taken(self, unique_id: str, entry: ConfigEntry | None = None) -> bool:
        own_id = entry.entry_id if entry else None
        return any(
            other.unique_id == unique_id and other.entry_id != own_id
            for other in self._async_current_entries(include_ignore=False)
        )

    def _name_in_use(self, name: str, entry: ConfigEntry | None = None) -> dict[str, str]:
        """Two bells of one name would read alike everywhere: "Service bell Table 3"."""
        own_id = entry.entry_id if entry else None
        if any(
            (other.data.get(CONF_NAME) or DEFAULT_NAME).casefold() == name.casefold()
            and other.entry_id != own_id
            for other in self._async_current_entries(include_ignore=False)
        ):
            return {CONF_NAME: "name_in_use"}
        return {}

    def _token_in_use(self, token: str, entry: ConfigEntry | None = None) -> dict[str, str]:
        """Blynk takes one connection per token: two entries would kick each other."""
        own_id = entry.entry_id if entry else None
        if token and any(
            other.data.get(CONF_TOKEN) == token and other.entry_id != own_id
            for other in self._async_current_entries(include_ignore=False)
        ):
            return {CONF_TOKEN: "token_in_use"}
        return {}


class BlynkBellOptionsFlow(OptionsFlowWithReload):
    """The bell's options, its tables' names and (with a Blynk token) the heater's.

    Grouped in sections; the entry reloads after saving.
    """

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Show the options."""
        errors: dict[str, str] = {}
        entry = self.config_entry
        has_heater = bool(entry.data.get(CONF_TOKEN))
        tables = int(entry.options.get(CONF_BUTTONS, DEFAULT_BUTTONS))
        if user_input is not None:
            bell = user_input.get(SECTION_BELL, {})
            options: dict[str, Any] = {
                **entry.options,
                CONF_BUTTONS: int(bell[CONF_BUTTONS]),
                CONF_RESET_AFTER: int(float(bell[CONF_CLEAR_AFTER_MINUTES]) * 60),
            }
            if schedule := bell.get(CONF_SCHEDULE):
                options[CONF_SCHEDULE] = schedule
            else:
                options.pop(CONF_SCHEDULE, None)
            options[CONF_TABLE_NAMES] = _table_names(user_input.get(SECTION_TABLES, {}), tables)
            if has_heater:
                errors = _heater_options(user_input.get(SECTION_HEATER, {}), options)
            if not errors:
                return self.async_create_entry(data=options)
        schema: dict[vol.Marker, Any] = {
            vol.Required(SECTION_BELL): section(_bell_options_schema(), {"collapsed": False}),
            vol.Required(SECTION_TABLES): section(_table_names_schema(tables), {"collapsed": True}),
        }
        if has_heater:
            schema[vol.Required(SECTION_HEATER)] = section(
                _heater_options_schema(), {"collapsed": False}
            )
        return self.async_show_form(
            step_id="init",
            data_schema=self.add_suggested_values_to_schema(
                vol.Schema(schema), user_input or _current_options(entry.options, tables)
            ),
            errors=errors,
        )


def _current_options(options: Mapping[str, Any], tables: int) -> dict[str, Any]:
    names = options.get(CONF_TABLE_NAMES) or {}
    return {
        SECTION_BELL: {
            CONF_BUTTONS: options.get(CONF_BUTTONS, DEFAULT_BUTTONS),
            CONF_CLEAR_AFTER_MINUTES: options.get(CONF_RESET_AFTER, DEFAULT_RESET_AFTER) / 60,
            **({CONF_SCHEDULE: options[CONF_SCHEDULE]} if options.get(CONF_SCHEDULE) else {}),
        },
        SECTION_TABLES: {
            f"table_{table}": names[str(table)]
            for table in range(1, tables + 1)
            if names.get(str(table))
        },
        SECTION_HEATER: {
            CONF_HEATER_MODE: HEATER_MODE_SIMULATED,
            CONF_HYSTERESIS: DEFAULT_HYSTERESIS,
            **{
                key: options[key]
                for key in (
                    CONF_HEATER_MODE,
                    CONF_HYSTERESIS,
                    CONF_TEMPERATURE_SENSOR,
                    CONF_HEATER_SWITCH,
                    CONF_TEMPLATE_ID,
                )
                if key in options
            },
        },
    }


def _bell_options_schema() -> vol.Schema:
    return vol.Schema(
        {
            vol.Required(CONF_BUTTONS, default=DEFAULT_BUTTONS): vol.All(
                NumberSelector(
                    NumberSelectorConfig(min=1, max=MAX_BUTTONS, mode=NumberSelectorMode.BOX)
                ),
                vol.Coerce(int),
            ),
            # Minutes, like the blueprint's "Remind every"; stored in seconds.
            vol.Required(CONF_CLEAR_AFTER_MINUTES, default=DEFAULT_RESET_AFTER / 60): vol.All(
                NumberSelector(
                    NumberSelectorConfig(
                        min=1,
                        max=1440,
                        step=1,
                        unit_of_measurement="min",
                        mode=NumberSelectorMode.BOX,
                    )
                ),
                vol.Coerce(float),
            ),
            vol.Optional(CONF_SCHEDULE): EntitySelector(EntitySelectorConfig(domain="schedule")),
        }
    )


def _table_names_schema(tables: int) -> vol.Schema:
    return vol.Schema(
        {vol.Optional(f"table_{table}"): TextSelector() for table in range(1, tables + 1)}
    )


def _table_names(user_input: Mapping[str, Any], tables: int) -> dict[str, str]:
    """Return the names given, by table number as text; blank means "Table N"."""
    names: dict[str, str] = {}
    for table in range(1, tables + 1):
        name = str(user_input.get(f"table_{table}") or "").strip()[:MAX_TABLE_NAME]
        if name:
            names[str(table)] = name
    return names


def _heater_options_schema() -> vol.Schema:
    return vol.Schema(
        {
            vol.Required(CONF_HEATER_MODE, default=HEATER_MODE_SIMULATED): SelectSelector(
                SelectSelectorConfig(
                    options=[HEATER_MODE_SIMULATED, HEATER_MODE_ENTITIES],
                    translation_key=CONF_HEATER_MODE,
                    mode=SelectSelectorMode.LIST,
                )
            ),
            vol.Optional(CONF_TEMPERATURE_SENSOR): EntitySelector(
                EntitySelectorConfig(domain="sensor", device_class="temperature")
            ),
            vol.Optional(CONF_HEATER_SWITCH): EntitySelector(
                EntitySelectorConfig(domain=["switch", "input_boolean"])
            ),
            vol.Required(CONF_HYSTERESIS, default=DEFAULT_HYSTERESIS): vol.All(
                NumberSelector(
                    NumberSelectorConfig(
                        min=0.1,
                        max=5,
                        step=0.1,
                        unit_of_measurement="°C",
                        mode=NumberSelectorMode.BOX,
                    )
                ),
                vol.Coerce(float),
            ),
            vol.Optional(CONF_TEMPLATE_ID): TextSelector(),
        }
    )


def _heater_options(user_input: Mapping[str, Any], options: dict[str, Any]) -> dict[str, str]:
    """Copy the heater choices into `options`; return form errors."""
    mode = user_input[CONF_HEATER_MODE]
    options[CONF_HEATER_MODE] = mode
    options[CONF_HYSTERESIS] = float(user_input[CONF_HYSTERESIS])
    for key in (CONF_TEMPERATURE_SENSOR, CONF_HEATER_SWITCH):
        if user_input.get(key):
            options[key] = user_input[key]
        else:
            options.pop(key, None)
    template_id = str(user_input.get(CONF_TEMPLATE_ID) or "").strip()
    if template_id:
        options[CONF_TEMPLATE_ID] = template_id
    else:
        options.pop(CONF_TEMPLATE_ID, None)
    if mode == HEATER_MODE_ENTITIES and not (
        options.get(CONF_TEMPERATURE_SENSOR) and options.get(CONF_HEATER_SWITCH)
    ):
        return {"base": "entities_required"}
    if template_id and not TEMPLATE_ID.fullmatch(template_id):
        return {CONF_TEMPLATE_ID: "invalid_template_id"}
    return {}
