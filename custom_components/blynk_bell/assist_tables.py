"""Assist and the tables: "is table 3 calling", "acknowledge table 3", "table 3 is served".

The built-in intents can only say "... is on" about a binary sensor, and know nothing of
acknowledging a call, so these are conversation sentence triggers, registered once for
every loaded bell (Home Assistant's public conversation API). They only see the tables
whose "calling" sensor the user exposes to Assist.

A table is named as staff speak: "table 3", "table three", "number 3", or its name from
the options ("the window table"), optionally with the bell's name ("terrace table 3",
"table 3 on the terrace"). With several bells, answers say which bell they speak of; an
action that could mean two bells' tables asks which.

The words live in `assist_words.py`: the sentences every language adds (all of them are
heard whatever Assist's language), and the answers by the language Assist was asked in
(falling back to English). The table is looked for in the words of that language first,
then in the others': a Japanese sentence asked of an English pipeline still finds it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
import re
from typing import TYPE_CHECKING, Final
import unicodedata

from homeassistant.components.binary_sensor import DOMAIN as BINARY_SENSOR_DOMAIN
from homeassistant.components.homeassistant.exposed_entities import async_should_expose
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
from homeassistant.util.hass_dict import HassKey

from .assist_words import LANGUAGES, Words, words_for
from .const import DOMAIN
from .entity import table_unique_id
from .protocol.calls import CallState
from .service_bell import SILENT_AFTER, ServiceBell

if TYPE_CHECKING:
    from hassil.recognize import RecognizeResult
    from homeassistant.components.conversation import ConversationInput

    from .service_bell import ServiceBell

ASSIST: Final = "conversation"
MAX_SPOKEN_TABLE: Final = 16
_KEY: HassKey[_TableVoice] = HassKey(f"{DOMAIN}_table_voice")


@callback
def async_answer_table_questions(hass: HomeAssistant) -> CALLBACK_TYPE:
    """Let Assist hear about the tables while any bell is loaded; return the release."""
    if "conversation" not in hass.config.components:
        return lambda: None  # No Assist in this installation.
    if (voice := hass.data.get(_KEY)) is None:
        voice = hass.data[_KEY] = _TableVoice(hass)
    voice.users += 1

    @callback
    def release() -> None:
        voice.users -= 1
        if voice.users == 0:
            voice.unregister()
            hass.data.pop(_KEY, None)

    return release


@dataclass(frozen=True)
class _Table:
    bell: ServiceBell
    number: int

    def bell_name(self, words: Words) -> str:
        return self.bell.name or words.default_bell

    def spoken(self, words: Words) -> str:
        return self.bell.table_name(self.number) or words.answers["table"].format(n=self.number)


class _TableVoice:
    """The sentence triggers about the tables of every loaded bell, and the answers."""

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
        # Questions about all tables come before those about one: Assist passes a trigger
        # the first of its sentences that matches, and "有沒有桌在叫" ("is any table
        # calling") also reads as a question about a table called "有沒有桌".
        ask: list[str] = []
        for words in LANGUAGES.values():
            ask += words.ask_all
        for words in LANGUAGES.values():
            ask += words.ask_one

        def every(sentences: Callable[[Words], list[str]]) -> list[str]:
            # zh-HK shares zh-TW's sentences: each once.
            return list(dict.fromkeys(s for w in LANGUAGES.values() for s in sentences(w)))

        self._unregister = [
            manager.register_trigger(TriggerDetails(list(dict.fromkeys(ask)), self._ask)),
            manager.register_trigger(
                TriggerDetails(every(lambda w: w.acknowledge), self._acknowledge)
            ),
            manager.register_trigger(TriggerDetails(every(lambda w: w.serve), self._serve)),
        ]

    def unregister(self) -> None:
        for unregister in self._unregister:
            unregister()

    # Answers -------------------------------------------------------------------------

    async def _ask(self, user_input: ConversationInput, result: RecognizeResult) -> str | None:
        words = words_for(user_input.language)
        if "table" not in result.entities:
            return self._ask_all(words)
        found = self._find(words, result)
        if found is None or isinstance(found, str):
            return found
        several = len({table.bell.entry.entry_id for table in found}) > 1
        return words.separator.join(self._state_answer(words, table, several) for table in found)

    def _ask_all(self, words: Words) -> str:
        tables = list(self._exposed_tables())
        if not tables:
            return words.answers["no_tables"]
        bells: dict[str, list[_Table]] = {}
        for table in tables:
            bells.setdefault(table.bell.entry.entry_id, []).append(table)
        answers = []
        for bell_tables in bells.values():
            calling = [table for table in bell_tables if table.bell.calling(table.number)]
            answer = self._calling_list(words, calling)
            answer = self._caveat(words, bell_tables[0].bell, answer)
            if len(bells) > 1:
                answer = words.answers["on_bell"].format(
                    bell=bell_tables[0].bell_name(words), answer=answer
                )
            answers.append(answer)
        return words.separator.join(answers)

    async def _acknowledge(
        self, user_input: ConversationInput, result: RecognizeResult
    ) -> str | None:
        words = words_for(user_input.language)
        found = self._find(words, result)
        if found is None or isinstance(found, str):
            return found
        calling = [table for table in found if table.bell.calling(table.number)]
        if len(calling) > 1:
            return self._which(words, calling)
        if not calling:
            return words.answers["not_calling"].format(table=_cap(found[0].spoken(words)))
        table = calling[0]
        table.bell.acknowledge(table.number, user_input.context)
        return words.answers["acknowledged"].format(table=table.spoken(words))

    async def _serve(self, user_input: ConversationInput, result: RecognizeResult) -> str | None:
        words = words_for(user_input.language)
        found = self._find(words, result)
        if found is None or isinstance(found, str):
            return found
        open_calls = [table for table in found if table.bell.desk.calls[table.number].open]
        if len(open_calls) > 1:
            return self._which(words, open_calls)
        if not open_calls:
            return words.answers["nothing_open"].format(table=_cap(found[0].spoken(words)))
        table = open_calls[0]
        table.bell.serve(table.number, user_input.context)
        return words.answers["served"].format(table=table.spoken(words))

    def _state_answer(self, words: Words, table: _Table, several: bool) -> str:
        call = table.bell.desk.calls[table.number]
        name = table.spoken(words)
        if call.state is CallState.CALLING and call.started_at is not None:
            waited = dt_util.utcnow() - call.started_at
            minutes = int(waited.total_seconds() // 60)
            answer = (
                words.answers["calling_for"].format(table=name, minutes=words.minutes(minutes))
                if minutes >= 1
                else words.answers["calling"].format(table=name)
            )
        elif call.state is CallState.ACKNOWLEDGED:
            answer = words.answers["seen"].format(table=_cap(name))
        else:
            answer = words.answers["idle"].format(table=name)
        answer = self._caveat(words, table.bell, answer)
        if several:
            answer = words.answers["on_bell"].format(bell=table.bell_name(words), answer=answer)
        return answer

    def _calling_list(self, words: Words, calling: list[_Table]) -> str:
        if not calling:
            return words.answers["none_calling"]
        named = [table for table in calling if table.bell.table_name(table.number)]
        numbered = sorted(table.number for table in calling if table not in named)
        parts = [table.spoken(words) for table in named]
        if len(numbered) == 1:
            parts.append(words.answers["table"].format(n=numbered[0]))
        elif numbered:
            listed = words.join([str(number) for number in numbered])
            parts.append(words.answers["tables"].format(numbers=listed))
        template = words.answers["one_calling" if len(calling) == 1 else "many_calling"]
        return _cap(template.format(tables=words.join(parts)))

    def _caveat(self, words: Words, bell: ServiceBell, answer: str) -> str:
        """Say when the answer may be stale: the broker or the bell itself is away."""
        name = bell.name or words.default_bell
        if not bell.available:
            return words.answers["unreachable"].format(answer=answer, bell=name)
        if (since := bell.offline_since) is not None:
            away = dt_util.utcnow() - since
            if away >= SILENT_AFTER:
                minutes = int(away.total_seconds() // 60)
                return words.answers["silent"].format(
                    answer=answer, bell=name, minutes=words.minutes(minutes)
                )
        return answer

    def _which(self, words: Words, tables: list[_Table]) -> str:
        choices = words.join(
            [
                words.answers["bell_table"].format(
                    bell=table.bell_name(words), table=table.spoken(words)
                )
                for table in tables
            ]
        )
        return words.answers["which_bell"].format(choices=choices)

    # Finding the table -----------------------------------------------------------------

    def _find(self, words: Words, result: RecognizeResult) -> list[_Table] | str | None:
        """Return the exposed tables the spoken words name, or the answer why none.

        None when the words are not about a table at all ("is anyone calling"), so
        another sentence may answer. The words are read as `words`' language first, then
        as each other language (the sentences of every language are heard).
        """
        spoken = result.entities["table"].text.strip() if "table" in result.entities else ""
        readings = [words, *(other for other in LANGUAGES.values() if other is not words)]
        candidates = next(
            (
                found
                for found in (self._matches(reading, spoken) for reading in readings)
                if found is not None
            ),
            None,
        )
        if candidates is None:
            for reading in readings:
                if _about_a_table(spoken, reading):
                    return words.answers["unknown"].format(spoken=_normalize(spoken, reading))
            return None
        exposed = set(self._exposed_tables())
        found = [table for table in candidates if table in exposed]
        if not found:
            return words.answers["hidden"].format(spoken=spoken)
        return found

    def _matches(self, words: Words, spoken: str) -> list[_Table] | None:
        """Return the tables of every loaded bell that `spoken` may mean; None: no table.

        "Terrace table 3" means the terrace's table 3 only; "table 3" every bell's.
        """
        text = _normalize(spoken, words)
        by_bell_name: list[_Table] = []
        anywhere: list[_Table] = []
        understood = False
        for bell in self._loaded_bells():
            # An unnamed bell is "Service bell", "サービスベル", "服務鈴": its device's name.
            names = [bell.name] if bell.name else [w.default_bell for w in LANGUAGES.values()]
            rests = [rest for name in names if (rest := _without_bell_name(text, name, words))]
            for number in range(1, MAX_SPOKEN_TABLE + 1):
                if any(_says_table(rest, number, bell, words) for rest in rests):
                    understood = True
                    if number <= bell.tables:
                        by_bell_name.append(_Table(bell, number))
                if _says_table(text, number, bell, words):
                    understood = True
                    if number <= bell.tables:
                        anywhere.append(_Table(bell, number))
        if not understood:
            return None
        return by_bell_name or anywhere

    def _loaded_bells(self) -> Iterator[ServiceBell]:
        for entry in self._hass.config_entries.async_loaded_entries(DOMAIN):
            yield entry.runtime_data.bell

    def _exposed_tables(self) -> Iterator[_Table]:
        """Yield every table whose calling sensor the user lets Assist see."""
        registry = er.async_get(self._hass)
        for bell in self._loaded_bells():
            for number in range(1, bell.tables + 1):
                entity_id = registry.async_get_entity_id(
                    BINARY_SENSOR_DOMAIN,
                    DOMAIN,
                    table_unique_id(bell.entry.entry_id, number, "calling"),
                )
                if entity_id is not None and async_should_expose(self._hass, ASSIST, entity_id):
                    yield _Table(bell, number)


def _says_table(phrase: str, number: int, bell: ServiceBell, words: Words) -> bool:
    """Tell whether `phrase` names table `number` of `bell` (by number or by name)."""
    spelled = [str(number), *(word for word, n in words.numbers.items() if n == number)]
    for form in words.table_forms:
        if phrase in (_normalize(form.format(n=value), words) for value in spelled):
            return True
    name = bell.table_name(number)
    return name is not None and phrase == _normalize(name, words)


def _about_a_table(spoken: str, words: Words) -> bool:
    """Tell whether words no table matches still speak of one ("table 20", "窓際")."""
    text = _normalize(spoken, words)
    if words.spaced:
        tokens = text.split()
        return any(word in tokens for word in words.table_words) or any(
            token.isdigit() for token in tokens
        )
    return any(word in text for word in words.table_words) or any(c.isdigit() for c in text)


def _without_bell_name(text: str, bell_name: str, words: Words) -> str | None:
    """Return `text` without the bell's name before or after it; None if it has none."""
    name = _normalize(bell_name, words)
    if not name:
        return None
    gap = " " if words.spaced else ""
    if text.startswith(name + gap) and len(text) > len(name + gap):
        return _normalize(text[len(name + gap) :], words)
    if text.endswith(gap + name) and len(text) > len(gap + name):
        return _normalize(text[: -len(gap + name)], words)
    return None


def _normalize(text: str, words: Words) -> str:
    """Lower case, no punctuation, no filler words at either end ("the", "on").

    Full-width letters and digits become ASCII (NFKC). Without spaces between words
    (Japanese, Chinese), spaces are dropped and fillers are stripped from either end
    wherever the words would end ("のテーブル3は" is "テーブル3").
    """
    text = re.sub(r"[^\w\s]", " ", unicodedata.normalize("NFKC", text).casefold())
    if not words.spaced:
        text = "".join(text.split())
        fillers = sorted(words.fillers, key=len, reverse=True)
        stripped = True
        while stripped:
            stripped = False
            for filler in fillers:
                if text.startswith(filler) and len(text) > len(filler):
                    text, stripped = text[len(filler) :], True
                if text.endswith(filler) and len(text) > len(filler):
                    text, stripped = text[: -len(filler)], True
        return text
    tokens = text.split()
    while tokens and tokens[0] in words.fillers:
        tokens.pop(0)
    while tokens and tokens[-1] in words.fillers:
        tokens.pop()
    return " ".join(tokens)


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]
