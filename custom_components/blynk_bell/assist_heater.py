"""Assist's answers about the heater where Home Assistant's built-in intents go wrong.

Asked as a new user would, the built-in intents answer "is the heater on" with "No, heat"
(they compare the hvac mode with "on"), "what is the heater set to" with the room
temperature, and "set the heater to 45 degrees" with "An unexpected error occurred" and a
traceback (the climate service refuses a set point out of range). These sentences are
answered here instead, as conversation sentence triggers, which Assist tries before its
intents. They are built from the names and aliases of the heaters exposed to Assist
(never a wildcard name, which would capture questions about other devices), and rebuilt
when those change. A set point in range goes through `climate.set_temperature`, as the
built-in intent would; one out of range is answered with the range and changes nothing.
Turning the heater on or off is left to the built-in intents, which get it right.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
import logging
import re
from typing import TYPE_CHECKING, Any, Final

from homeassistant.components.climate.const import (
    ATTR_HVAC_ACTION,
    DOMAIN as CLIMATE_DOMAIN,
    SERVICE_SET_TEMPERATURE,
    HVACAction,
    HVACMode,
)
from homeassistant.components.homeassistant.exposed_entities import (
    async_listen_entity_updates,
    async_should_expose,
)
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import (
    ATTR_ENTITY_ID,
    ATTR_TEMPERATURE,
    EVENT_STATE_CHANGED,
    STATE_UNAVAILABLE,
    STATE_UNKNOWN,
    UnitOfTemperature,
)
from homeassistant.core import CALLBACK_TYPE, Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er
from homeassistant.util.hass_dict import HassKey
from homeassistant.util.unit_conversion import TemperatureConverter
import voluptuous as vol

from .const import DOMAIN
from .protocol.template import MAX_SET_POINT, MIN_SET_POINT, parse_number

if TYPE_CHECKING:
    from hassil.recognize import RecognizeResult
    from homeassistant.components.conversation import ConversationInput

_LOGGER = logging.getLogger(__name__)

ASSIST: Final = "conversation"
_SET: Final = "(set|change|adjust|make|turn)"
_TEMPERATURE: Final = "(temp|temperature)"
_TO: Final = "(to|at)"
_WHAT: Final = "(what is|what's|whats|tell me)"
_SET_POINT: Final = "(set point|setpoint|target [temperature])"
# A name the sentence templates can hold as plain words (no template syntax).
_PLAIN_NAME: Final = re.compile(r"[\w' -]{1,60}")
_SPOKEN_UNIT: Final = re.compile(r"\s*(°\s*[cf]?|degrees?( (celsius|fahrenheit))?)\s*$")
_HEATERS: HassKey[_HeaterQuestions] = HassKey(f"{DOMAIN}_heater_questions")


def set_point_sentences(name: str) -> list[str]:
    """Return the sentences that set the named heater's temperature."""
    return [
        f"{_SET} [the] {name} [{_TEMPERATURE}] {_TO} {{temperature}}",
        f"{_SET} [the] {_TEMPERATURE} (of|on) [the] {name} {_TO} {{temperature}}",
    ]


def nameless_set_point_sentences() -> list[str]:
    """Return "set the temperature to N": for the only thermostat Assist can see."""
    return [f"{_SET} [the] {_TEMPERATURE} {_TO} {{temperature}}"]


def question_sentences(name: str) -> list[str]:
    """Return the questions about the named heater's power and set point."""
    return [
        f"(is|are) [the] {name} {{state}}",
        f"{_WHAT} [the] {name} set (to|at)",
        f"what [temperature] is [the] {name} set (to|at)",
        f"{_WHAT} the {_SET_POINT} (of|on|for) [the] {name}",
        f"{_WHAT} [the] {name} {_SET_POINT}",
    ]


@callback
def async_answer_heater_questions(hass: HomeAssistant, entry: ConfigEntry) -> CALLBACK_TYPE:
    """Let Assist answer about this entry's heater until the returned callback is called.

    One set of triggers serves every entry with a heater.
    """
    if ASSIST not in hass.config.components:
        return lambda: None  # No Assist in this installation.
    if (questions := hass.data.get(_HEATERS)) is None:
        questions = hass.data[_HEATERS] = _HeaterQuestions(hass)
    questions.entries.add(entry.entry_id)

    @callback
    def release() -> None:
        questions.entries.discard(entry.entry_id)
        if not questions.entries:
            questions.close()
            hass.data.pop(_HEATERS, None)
        else:
            questions.rebuild()

    return release


@dataclass(frozen=True, slots=True)
class _Heater:
    entity_id: str
    name: str  # As spoken: the lower-case name or alias the sentence used.


class _HeaterQuestions:
    """The sentence triggers about every exposed heater, rebuilt when names change."""

    def __init__(self, hass: HomeAssistant) -> None:
        # Imported here: the conversation integration is loaded (checked by the caller).
        from homeassistant.components.conversation.agent_manager import (  # noqa: PLC0415
            get_agent_manager,
        )
        from homeassistant.components.conversation.trigger import (  # noqa: PLC0415
            TriggerDetails,
        )

        self._hass = hass
        self._manager = get_agent_manager(hass)
        self._details = TriggerDetails
        self.entries: set[str] = set()  # Config entries with a heater.
        self._names: dict[str, list[str]] = {}
        self._nameless: str | None = None
        self._unregister: list[CALLBACK_TYPE] = []
        self._stop_listening = [
            hass.bus.async_listen(er.EVENT_ENTITY_REGISTRY_UPDATED, self._registry_updated),
            hass.bus.async_listen(
                EVENT_STATE_CHANGED, self._state_changed, event_filter=_climate_appears
            ),
            async_listen_entity_updates(hass, ASSIST, self.rebuild),
        ]
        self.rebuild()

    def close(self) -> None:
        for stop in self._stop_listening:
            stop()
        self._drop_triggers()

    @callback
    def _registry_updated(self, event: Event[er.EventEntityRegistryUpdatedData]) -> None:
        if event.data["entity_id"].startswith(f"{CLIMATE_DOMAIN}."):
            self.rebuild()

    @callback
    def _state_changed(self, _event: Event[EventStateChangedData]) -> None:
        self.rebuild()

    @callback
    def rebuild(self) -> None:
        """Register triggers for the current names, if they changed."""
        names, nameless = self._current_names()
        if names == self._names and nameless == self._nameless:
            return
        self._drop_triggers()
        self._names, self._nameless = names, nameless
        for name, entity_ids in names.items():
            heaters = [_Heater(entity_id, name) for entity_id in entity_ids]
            self._register(set_point_sentences(name), self._set_point_handler(heaters))
            self._register(question_sentences(name), self._question_handler(heaters))
        if nameless is not None:
            heater = _Heater(nameless, "heater")
            self._register(nameless_set_point_sentences(), self._set_point_handler([heater]))

    def _register(
        self,
        sentences: list[str],
        handler: Callable[[ConversationInput, RecognizeResult], Coroutine[Any, Any, str | None]],
    ) -> None:
        self._unregister.append(self._manager.register_trigger(self._details(sentences, handler)))

    def _drop_triggers(self) -> None:
        for unregister in self._unregister:
            unregister()
        self._unregister = []

    def _current_names(self) -> tuple[dict[str, list[str]], str | None]:
        """Return spoken name -> heater entity ids, and the only exposed thermostat if ours."""
        hass = self._hass
        registry = er.async_get(hass)
        names: dict[str, list[str]] = {}
        ours: set[str] = set()
        for entry_id in self.entries:
            entity_id = registry.async_get_entity_id(CLIMATE_DOMAIN, DOMAIN, f"{entry_id}_heater")
            state = hass.states.get(entity_id) if entity_id else None
            if (
                entity_id is None
                or state is None
                or not async_should_expose(hass, ASSIST, entity_id)
            ):
                continue
            ours.add(entity_id)
            entity = registry.async_get(entity_id)
            spoken = {state.name, *(entity.aliases if entity is not None else ())}
            for name in spoken:
                key = " ".join(str(name).lower().split())
                if _PLAIN_NAME.fullmatch(key):
                    names.setdefault(key, []).append(entity_id)
        exposed_climates = [
            entity_id
            for entity_id in hass.states.async_entity_ids(CLIMATE_DOMAIN)
            if async_should_expose(hass, ASSIST, entity_id)
        ]
        nameless = exposed_climates[0] if len(exposed_climates) == 1 else None
        return names, (nameless if nameless in ours else None)

    # Answers ---------------------------------------------------------------------------

    def _set_point_handler(
        self, heaters: list[_Heater]
    ) -> Callable[[ConversationInput, RecognizeResult], Coroutine[Any, Any, str | None]]:
        async def answer(_user_input: ConversationInput, result: RecognizeResult) -> str:
            if len(heaters) > 1:
                return f"There is more than one {heaters[0].name}; use its full name"
            spoken = result.entities["temperature"].text if "temperature" in result.entities else ""
            return await self._set_point(heaters[0], spoken)

        return answer

    def _question_handler(
        self, heaters: list[_Heater]
    ) -> Callable[[ConversationInput, RecognizeResult], Coroutine[Any, Any, str | None]]:
        async def answer(_user_input: ConversationInput, result: RecognizeResult) -> str:
            if len(heaters) > 1:
                return f"There is more than one {heaters[0].name}; use its full name"
            asked = (
                result.entities["state"].text.strip().lower() if "state" in result.entities else ""
            )
            return self._answer_question(heaters[0], asked)

        return answer

    async def _set_point(self, heater: _Heater, spoken: str) -> str:
        hass = self._hass
        unit = hass.config.units.temperature_unit
        low, high = (_in_unit(limit, unit) for limit in (MIN_SET_POINT, MAX_SET_POINT))
        state = hass.states.get(heater.entity_id)
        if state is None or state.state in (STATE_UNAVAILABLE, STATE_UNKNOWN):
            return f"The {heater.name} is not available right now"
        if (power := spoken.strip().lower()) in ("on", "off"):  # "set the heater to off"
            return await self._switch(heater, power == "on")
        value = parse_number(_SPOKEN_UNIT.sub("", spoken))
        if value is None:
            return f"Say a temperature from {low} to {high} degrees"
        celsius = TemperatureConverter.convert(value, unit, UnitOfTemperature.CELSIUS)
        if not MIN_SET_POINT <= round(celsius, 1) <= MAX_SET_POINT:
            now = state.attributes.get(ATTR_TEMPERATURE)
            stays = f"; it stays at {_number(now)} degrees" if isinstance(now, int | float) else ""
            return f"The {heater.name} can be set from {low} to {high} degrees{stays}"
        try:
            await hass.services.async_call(
                CLIMATE_DOMAIN,
                SERVICE_SET_TEMPERATURE,
                {ATTR_ENTITY_ID: heater.entity_id, ATTR_TEMPERATURE: value},
                blocking=True,
            )
        except (HomeAssistantError, vol.Invalid) as err:
            _LOGGER.debug("Could not set %s to %s: %s", heater.entity_id, value, err)
            return f"I could not set the {heater.name}: {err}"
        return f"Temperature set to {_number(value)} degrees"

    async def _switch(self, heater: _Heater, on: bool) -> str:
        service = "turn_on" if on else "turn_off"
        try:
            await self._hass.services.async_call(
                CLIMATE_DOMAIN, service, {ATTR_ENTITY_ID: heater.entity_id}, blocking=True
            )
        except (HomeAssistantError, vol.Invalid) as err:
            _LOGGER.debug("Could not %s %s: %s", service, heater.entity_id, err)
            return f"I could not turn the {heater.name} {'on' if on else 'off'}: {err}"
        return f"Turned the {heater.name} {'on' if on else 'off'}"

    def _answer_question(self, heater: _Heater, asked: str) -> str:
        state = self._hass.states.get(heater.entity_id)
        if state is None or state.state in (STATE_UNAVAILABLE, STATE_UNKNOWN):
            return f"I cannot tell: the {heater.name} is not available right now"
        on = state.state != HVACMode.OFF
        target = state.attributes.get(ATTR_TEMPERATURE)  # In Home Assistant's unit.
        set_to = (
            f"set to {_number(target)} degrees"
            if isinstance(target, int | float)
            else ("not set yet")
        )
        if asked in ("on", "off", "running", "working", "heating", "cooling"):
            if asked == "heating":
                heating = state.attributes.get(ATTR_HVAC_ACTION) == HVACAction.HEATING
                doing = "heating" if heating else "on, and not heating" if on else "off"
                return f"{'Yes' if heating else 'No'}, the {heater.name} is {doing}"
            if asked == "cooling":
                cooling = state.attributes.get(ATTR_HVAC_ACTION) == HVACAction.COOLING
                doing = "cooling" if cooling else "on, and not cooling" if on else "off"
                return f"{'Yes' if cooling else 'No'}, the {heater.name} is {doing}"
            yes = on if asked != "off" else not on
            return f"{'Yes' if yes else 'No'}, the {heater.name} is {'on' if on else 'off'}"
        if asked:
            return f"The {heater.name} is {'on' if on else 'off'}, {set_to}"
        if on:
            return f"The {heater.name} is {set_to}"
        return f"The {heater.name} is off; it is {set_to}"


@callback
def _climate_appears(event_data: EventStateChangedData) -> bool:
    """Tell whether a state change adds, removes or renames a climate entity."""
    if not event_data["entity_id"].startswith(f"{CLIMATE_DOMAIN}."):
        return False
    old, new = event_data["old_state"], event_data["new_state"]
    return old is None or new is None or old.name != new.name


def _in_unit(celsius: float, unit: str) -> str:
    return _number(TemperatureConverter.convert(celsius, UnitOfTemperature.CELSIUS, unit))


def _number(value: float) -> str:
    """Say 22, 22.5 (not 22.0, 22.50)."""
    return f"{round(value, 1):g}"
