"""Assist, Home Assistant's voice assistant: "is table 3 calling?", "set the heater to 22".

Three things make the integration's entities work by voice out of the box:

- The calling sensors are exposed to Assist when first registered. Home Assistant exposes a
  new binary sensor by default only for a few device classes (door, window, motion, ...),
  and no device class describes a guest asking for service honestly. The heater, a climate
  entity, is exposed by Home Assistant's own defaults.
- The heater gets the alias "Heater" when first registered, so "turn off the heater" works
  and not only its full name, "Blynk heater".
- The integration answers questions about the tables ("is table 3 calling", "which tables
  are calling") as conversation sentence triggers: the built-in intents can only say
  "... is on" about a binary sensor without a device class.

Exposure and the alias are set once, before Assist first sees the entity; from then on
they are the user's, live in the entity registry and are never touched again here. Nothing
is exposed when the user turned off "Expose new entities" for Assist, and answers only
cover calling sensors that are exposed.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import TYPE_CHECKING, Final

from homeassistant.components.binary_sensor import DOMAIN as BINARY_SENSOR_DOMAIN
from homeassistant.components.climate.const import DOMAIN as CLIMATE_DOMAIN
from homeassistant.components.homeassistant.const import DATA_EXPOSED_ENTITIES
from homeassistant.components.homeassistant.exposed_entities import (
    async_expose_entity,
    async_should_expose,
)
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, Event, HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
from homeassistant.util.hass_dict import HassKey

from .const import DOMAIN
from .entity import table_of_unique_id, table_unique_id

if TYPE_CHECKING:
    from hassil.recognize import RecognizeResult
    from homeassistant.components.conversation import ConversationInput

    from .service_bell import ServiceBell

# Home Assistant's own voice assistant; the cloud assistants (Alexa, Google) are left alone.
ASSIST: Final = "conversation"
SHOULD_EXPOSE: Final = "should_expose"
HEATER_ALIAS: Final = "Heater"

TABLE_QUESTIONS: Final = [
    "is table {table} (calling|waiting|ringing)",
    "does table {table} (need|want) [a] (waiter|service)",
]
ANY_TABLE_QUESTIONS: Final = [
    "(which|what) tables are (calling|waiting)",
    "(is|are) (anyone|anybody|any table|any tables) (calling|waiting)",
    "who is calling",
]
# Speech-to-text may spell the table out; tables go up to 16.
_NUMBER_WORDS: Final = (  # noqa: SIM905 - reads better than 17 quoted words
    "zero one two three four five six seven eight nine ten "
    "eleven twelve thirteen fourteen fifteen sixteen"
).split()
_QUESTIONS: HassKey[_TableQuestions] = HassKey(f"{DOMAIN}_table_questions")


# New entities ---------------------------------------------------------------------------


def is_calling_sensor(entry_id: str, entity: er.RegistryEntry) -> bool:
    """Tell whether a registry entry is one of the entry's "Table N calling" sensors."""
    if entity.platform != DOMAIN or entity.domain != BINARY_SENSOR_DOMAIN:
        return False
    table = table_of_unique_id(entry_id, entity.unique_id)
    return table is not None and entity.unique_id == table_unique_id(entry_id, table, "calling")


@callback
def async_prepare_new_entities(hass: HomeAssistant, entry: ConfigEntry) -> CALLBACK_TYPE:
    """Expose new calling sensors to Assist and name the new heater "Heater" for it.

    The registry announces a new entity synchronously, before the entity writes its first
    state; Assist decides its default only once it sees that state, so this comes first.
    """
    registry = er.async_get(hass)

    @callback
    def created(event_data: er.EventEntityRegistryUpdatedData) -> bool:
        return event_data["action"] == "create"

    @callback
    def prepare(event: Event[er.EventEntityRegistryUpdatedData]) -> None:
        entity = registry.async_get(event.data["entity_id"])
        if entity is None or entity.config_entry_id != entry.entry_id:
            return
        if entity.domain == CLIMATE_DOMAIN and not entity.aliases:
            registry.async_update_entity(entity.entity_id, aliases={HEATER_ALIAS})
        elif is_calling_sensor(entry.entry_id, entity):
            _expose(hass, entity)

    return hass.bus.async_listen(er.EVENT_ENTITY_REGISTRY_UPDATED, prepare, event_filter=created)


def _expose(hass: HomeAssistant, entity: er.RegistryEntry) -> None:
    if SHOULD_EXPOSE in entity.options.get(ASSIST, {}):
        return  # A choice restored with a table that was removed and added back.
    if (exposed := hass.data.get(DATA_EXPOSED_ENTITIES)) is None:
        return
    if not exposed.async_get_expose_new_entities(ASSIST):
        return  # The user keeps new entities away from Assist.
    async_expose_entity(hass, ASSIST, entity.entity_id, True)


# Questions about the tables ----------------------------------------------------------------


@callback
def async_answer_table_questions(hass: HomeAssistant) -> CALLBACK_TYPE:
    """Let Assist answer questions about the tables while any bell is loaded.

    Registered once for all entries (each answer covers every loaded bell); the returned
    callback unregisters when the last entry unloads.
    """
    if "conversation" not in hass.config.components:
        return lambda: None  # No Assist in this installation.
    if (questions := hass.data.get(_QUESTIONS)) is None:
        questions = hass.data[_QUESTIONS] = _TableQuestions(hass)
    questions.users += 1

    @callback
    def release() -> None:
        questions.users -= 1
        if questions.users == 0:
            questions.unregister()
            hass.data.pop(_QUESTIONS, None)

    return release


class _TableQuestions:
    """The sentence triggers, and the answers, about the tables of every loaded bell."""

    def __init__(self, hass: HomeAssistant) -> None:
        # Imported here: the conversation integration is loaded (checked by the caller).
        from homeassistant.components.conversation.agent_manager import (  # noqa: PLC0415
            get_agent_manager,
        )
        from homeassistant.components.conversation.trigger import (  # noqa: PLC0415
            TriggerDetails,
        )

        self._hass = hass
        self.users = 0
        manager = get_agent_manager(hass)
        self._unregister = [
            manager.register_trigger(TriggerDetails(TABLE_QUESTIONS, self._about_one_table)),
            manager.register_trigger(TriggerDetails(ANY_TABLE_QUESTIONS, self._about_all)),
        ]

    def unregister(self) -> None:
        for unregister in self._unregister:
            unregister()

    async def _about_one_table(
        self, _user_input: ConversationInput, result: RecognizeResult
    ) -> str | None:
        spoken = result.entities["table"].text.strip() if "table" in result.entities else ""
        table = _parse_table(spoken)
        if table is None:
            return f"I don't know a table {spoken}" if spoken else None
        tables = [(bell, number) for bell, number in self._exposed_tables() if number == table]
        if not tables:
            return f"I cannot see table {table}"
        if not any(bell.available for bell, _number in tables):
            return f"I cannot tell: the service bell of table {table} is offline"
        called_at = min(
            (at for bell, _ in tables if (at := bell.called_at(table)) is not None),
            default=None,
        )
        if called_at is None:
            return f"No, table {table} is not calling"
        waited = dt_util.utcnow() - called_at
        if waited < timedelta(minutes=1):
            return f"Yes, table {table} is calling"
        minutes = int(waited.total_seconds() // 60)
        return f"Yes, table {table} has been calling for {minutes} minute{'s' * (minutes > 1)}"

    async def _about_all(self, _user_input: ConversationInput, _result: RecognizeResult) -> str:
        tables = list(self._exposed_tables())
        if not tables:
            return "I cannot see any table"
        if not any(bell.available for bell, _table in tables):
            return "I cannot tell: the service bell is offline"
        calling = sorted({table for bell, table in tables if bell.calling(table)})
        if not calling:
            return "No table is calling"
        if len(calling) == 1:
            return f"Table {calling[0]} is calling"
        listed = ", ".join(str(table) for table in calling[:-1])
        return f"Tables {listed} and {calling[-1]} are calling"

    def _exposed_tables(self) -> Iterator[tuple[ServiceBell, int]]:
        """Yield (bell, table) for every calling sensor the user lets Assist see."""
        registry = er.async_get(self._hass)
        for entry in self._hass.config_entries.async_loaded_entries(DOMAIN):
            bell: ServiceBell = entry.runtime_data.bell
            for table in range(1, bell.tables + 1):
                entity_id = registry.async_get_entity_id(
                    BINARY_SENSOR_DOMAIN, DOMAIN, table_unique_id(entry.entry_id, table, "calling")
                )
                if entity_id is not None and async_should_expose(self._hass, ASSIST, entity_id):
                    yield bell, table


def _parse_table(spoken: str) -> int | None:
    """Read "3", "three" or "number 3" as a table number."""
    words = spoken.lower().removeprefix("number").strip()
    if words.isdigit():
        return int(words)
    return _NUMBER_WORDS.index(words) if words in _NUMBER_WORDS else None
