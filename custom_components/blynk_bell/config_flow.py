"""Config flow: the bell broker and topic, then the optional Blynk heater token.

Every step that names a server connects to it before saving (test-before-configure).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
import uuid

from homeassistant.config_entries import (
    ConfigEntry,
    ConfigFlow,
    ConfigFlowResult,
    OptionsFlowWithReload,
)
from homeassistant.core import callback
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
    CONF_BLYNK_SERVER,
    CONF_BROKER,
    CONF_BUTTONS,
    CONF_HEATER_MODE,
    CONF_HEATER_SWITCH,
    CONF_HYSTERESIS,
    CONF_PASSWORD,
    CONF_PORT,
    CONF_RESET_AFTER,
    CONF_TEMPERATURE_SENSOR,
    CONF_TLS,
    CONF_TOKEN,
    CONF_TOPIC,
    CONF_USERNAME,
    DEFAULT_BLYNK_SERVER,
    DEFAULT_BROKER,
    DEFAULT_BUTTONS,
    DEFAULT_HYSTERESIS,
    DEFAULT_PORT,
    DEFAULT_RESET_AFTER,
    DEFAULT_TOPIC,
    DOMAIN,
    HEATER_MODE_ENTITIES,
    HEATER_MODE_SIMULATED,
    MAX_BUTTONS,
)
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
from .service_bell import bell_endpoint

REAUTH_TARGET = "target"
REAUTH_BELL = "bell"

_PASSWORD = TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD))
_PORT = vol.All(
    NumberSelector(NumberSelectorConfig(min=1, max=65535, mode=NumberSelectorMode.BOX)),
    vol.Coerce(int),
)


def _bell_schema(defaults: Mapping[str, Any]) -> vol.Schema:
    return vol.Schema(
        {
            vol.Required(CONF_BROKER, default=defaults.get(CONF_BROKER, DEFAULT_BROKER)): str,
            vol.Required(CONF_PORT, default=defaults.get(CONF_PORT, DEFAULT_PORT)): _PORT,
            vol.Optional(CONF_USERNAME, default=defaults.get(CONF_USERNAME, "")): str,
            vol.Optional(CONF_PASSWORD, default=defaults.get(CONF_PASSWORD, "")): _PASSWORD,
            vol.Required(CONF_TLS, default=defaults.get(CONF_TLS, False)): BooleanSelector(),
            vol.Required(CONF_TOPIC, default=defaults.get(CONF_TOPIC, DEFAULT_TOPIC)): str,
        }
    )


def _blynk_schema(defaults: Mapping[str, Any]) -> vol.Schema:
    return vol.Schema(
        {
            vol.Optional(CONF_TOKEN, default=defaults.get(CONF_TOKEN, "")): _PASSWORD,
            vol.Required(
                CONF_BLYNK_SERVER, default=defaults.get(CONF_BLYNK_SERVER, DEFAULT_BLYNK_SERVER)
            ): str,
        }
    )


def _bell_unique_id(data: Mapping[str, Any]) -> str:
    """One entry per broker, port and topic: two entries would double every press."""
    return f"{data[CONF_BROKER].strip().lower()}:{data[CONF_PORT]}:{data[CONF_TOPIC]}"


def _clean_bell_input(user_input: Mapping[str, Any]) -> dict[str, Any]:
    return {
        CONF_BROKER: user_input[CONF_BROKER].strip(),
        CONF_PORT: int(user_input[CONF_PORT]),
        CONF_USERNAME: user_input.get(CONF_USERNAME, "").strip(),
        CONF_PASSWORD: user_input.get(CONF_PASSWORD, ""),
        CONF_TLS: bool(user_input.get(CONF_TLS, False)),
        CONF_TOPIC: user_input[CONF_TOPIC],
    }


async def _async_check_bell(data: Mapping[str, Any]) -> dict[str, str]:
    """Return form errors for the bell settings; empty when the broker accepts them."""
    if not data[CONF_BROKER]:
        return {CONF_BROKER: "invalid_broker"}
    if validate_topic(data[CONF_TOPIC]) is not None:
        return {CONF_TOPIC: "invalid_topic"}
    options = SessionOptions(
        # A throwaway id: the entry's own id would take over its persistent session.
        client_id=f"blynkbell-check-{uuid.uuid4().hex[:6]}",
        username=data[CONF_USERNAME] or None,
        password=data[CONF_PASSWORD] or None,
    )
    return await _async_check(bell_endpoint(data), options)


async def _async_check_blynk(data: Mapping[str, Any]) -> dict[str, str]:
    """Return form errors for the Blynk settings; empty when Blynk accepts the token."""
    try:
        endpoint = Endpoint.from_url(data[CONF_BLYNK_SERVER])
    except InvalidEndpoint:
        return {CONF_BLYNK_SERVER: "invalid_server_url"}
    if not data[CONF_TOKEN]:
        return {}
    return await _async_check(endpoint, blynk_session_options(data[CONF_TOKEN]))


async def _async_check(endpoint: Endpoint, options: SessionOptions) -> dict[str, str]:
    try:
        await async_check_connection(endpoint, options)
    except InvalidAuth:
        return {"base": "invalid_auth"}
    except CannotConnect:
        return {"base": "cannot_connect"}
    return {}


def _clean_blynk_input(user_input: Mapping[str, Any]) -> dict[str, Any]:
    return {
        CONF_TOKEN: user_input.get(CONF_TOKEN, "").strip(),
        CONF_BLYNK_SERVER: user_input.get(CONF_BLYNK_SERVER, DEFAULT_BLYNK_SERVER).strip(),
    }


class BlynkBellConfigFlow(ConfigFlow, domain=DOMAIN):
    """Set up a service bell and, optionally, a Blynk heater."""

    VERSION = 1

    def __init__(self) -> None:
        """Start with nothing entered."""
        self._bell: dict[str, Any] = {}

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: ConfigEntry) -> BlynkBellOptionsFlow:
        """Return the options flow."""
        return BlynkBellOptionsFlow()

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask for the bell broker and topic."""
        errors: dict[str, str] = {}
        if user_input is not None:
            data = _clean_bell_input(user_input)
            await self.async_set_unique_id(_bell_unique_id(data))
            self._abort_if_unique_id_configured()
            if not (errors := await _async_check_bell(data)):
                self._bell = data
                return await self.async_step_blynk()
        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(_bell_schema({}), user_input),
            errors=errors,
        )

    async def async_step_blynk(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask for the Blynk heater's auth token; empty means no heater."""
        errors: dict[str, str] = {}
        if user_input is not None:
            data = _clean_blynk_input(user_input)
            errors = self._token_in_use(data[CONF_TOKEN]) or await _async_check_blynk(data)
            if not errors:
                return self.async_create_entry(
                    title=f"{self._bell[CONF_TOPIC]} on {self._bell[CONF_BROKER]}",
                    data={**self._bell, **data},
                )
        return self.async_show_form(
            step_id="blynk",
            data_schema=self.add_suggested_values_to_schema(_blynk_schema({}), user_input),
            errors=errors,
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the bell broker or topic."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            data = _clean_bell_input(user_input)
            unique_id = _bell_unique_id(data)
            if self._unique_id_taken(unique_id, entry):
                return self.async_abort(reason="already_configured")
            if not (errors := await _async_check_bell(data)):
                self._bell = data
                return await self.async_step_reconfigure_blynk()
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=_bell_schema(user_input or entry.data),
            errors=errors,
        )

    async def async_step_reconfigure_blynk(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the Blynk token or server."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            data = _clean_blynk_input(user_input)
            unchanged = all(data[key] == entry.data.get(key) for key in data)
            # Checking an unchanged token would kick our own running connection.
            if unchanged or not (
                errors := self._token_in_use(data[CONF_TOKEN], entry)
                or await _async_check_blynk(data)
            ):
                return self.async_update_reload_and_abort(
                    entry,
                    unique_id=_bell_unique_id(self._bell),
                    title=f"{self._bell[CONF_TOPIC]} on {self._bell[CONF_BROKER]}",
                    data={**entry.data, **self._bell, **data},
                )
        return self.async_show_form(
            step_id="reconfigure_blynk",
            data_schema=_blynk_schema(user_input or entry.data),
            errors=errors,
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
        if user_input is not None:
            data = {
                CONF_TOKEN: user_input[CONF_TOKEN].strip(),
                CONF_BLYNK_SERVER: entry.data.get(CONF_BLYNK_SERVER, DEFAULT_BLYNK_SERVER),
            }
            errors = self._token_in_use(data[CONF_TOKEN], entry) or await _async_check_blynk(data)
            if not errors:
                return self.async_update_reload_and_abort(
                    entry, data_updates={CONF_TOKEN: data[CONF_TOKEN]}
                )
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=vol.Schema({vol.Required(CONF_TOKEN): _PASSWORD}),
            errors=errors,
            description_placeholders={"title": entry.title},
        )

    async def async_step_reauth_bell(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for new bell broker credentials."""
        entry = self._get_reauth_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            data = _clean_bell_input({**entry.data, **user_input})
            if not (errors := await _async_check_bell(data)):
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
            description_placeholders={"broker": entry.data[CONF_BROKER]},
        )

    def _unique_id_taken(self, unique_id: str, entry: ConfigEntry) -> bool:
        return any(
            other.unique_id == unique_id and other.entry_id != entry.entry_id
            for other in self._async_current_entries(include_ignore=False)
        )

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
    """Tables, call duration and (with a Blynk token) the heater; the entry reloads."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Show the options."""
        errors: dict[str, str] = {}
        has_heater = bool(self.config_entry.data.get(CONF_TOKEN))
        if user_input is not None:
            options = {
                **self.config_entry.options,
                CONF_BUTTONS: int(user_input[CONF_BUTTONS]),
                CONF_RESET_AFTER: int(user_input[CONF_RESET_AFTER]),
            }
            if has_heater:
                errors = _heater_options(user_input, options)
            if not errors:
                return self.async_create_entry(data=options)
        schema = _bell_options_schema()
        if has_heater:
            schema = schema.extend(_heater_options_schema().schema)
        return self.async_show_form(
            step_id="init",
            data_schema=self.add_suggested_values_to_schema(
                schema, user_input or _current_options(self.config_entry.options)
            ),
            errors=errors,
        )


def _current_options(options: Mapping[str, Any]) -> dict[str, Any]:
    return {
        CONF_BUTTONS: DEFAULT_BUTTONS,
        CONF_RESET_AFTER: DEFAULT_RESET_AFTER,
        CONF_HEATER_MODE: HEATER_MODE_SIMULATED,
        CONF_HYSTERESIS: DEFAULT_HYSTERESIS,
        **options,
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
            vol.Required(CONF_RESET_AFTER, default=DEFAULT_RESET_AFTER): vol.All(
                NumberSelector(
                    NumberSelectorConfig(
                        min=10, max=86400, unit_of_measurement="s", mode=NumberSelectorMode.BOX
                    )
                ),
                vol.Coerce(int),
            ),
        }
    )


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
    if mode == HEATER_MODE_ENTITIES and not (
        options.get(CONF_TEMPERATURE_SENSOR) and options.get(CONF_HEATER_SWITCH)
    ):
        return {"base": "entities_required"}
    return {}
