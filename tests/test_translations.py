"""Every language says everything English says, with the same placeholders.

`translations/en.json` is the source of every string. A string added to it fails here
until each other language has it too; a string another language has and English lacks
(left behind when English dropped or renamed it) fails as well.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
import json
from pathlib import Path
import re
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er, translation
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.blynk_bell.const import DOMAIN

from .helpers import wait_for

TRANSLATIONS = Path(__file__).parents[1] / "custom_components" / "blynk_bell" / "translations"
# The languages our first users read: the Japanese tutorial's, the Chinese walkthrough's.
REQUIRED = {"ja", "zh-Hant"}
PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


def load(language: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((TRANSLATIONS / f"{language}.json").read_text("utf-8"))
    return data


def strings(tree: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Yield (dotted key, value) for every leaf of a translation file."""
    for key, value in tree.items():
        if isinstance(value, dict):
            yield from strings(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def placeholders(text: str) -> list[str]:
    return sorted(PLACEHOLDER.findall(text))


LANGUAGES = sorted(path.stem for path in TRANSLATIONS.glob("*.json") if path.stem != "en")


def test_our_users_languages_are_there() -> None:
    assert set(LANGUAGES) >= REQUIRED


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_english_string_is_translated(language: str) -> None:
    english = dict(strings(load("en")))
    translated = dict(strings(load(language)))
    missing = sorted(english.keys() - translated.keys())
    assert not missing, f"{language}.json lacks {len(missing)} string(s) of en.json: {missing}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_string_english_lacks(language: str) -> None:
    english = dict(strings(load("en")))
    translated = dict(strings(load(language)))
    extra = sorted(translated.keys() - english.keys())
    assert not extra, f"{language}.json has string(s) en.json lacks: {extra}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_placeholders_are_the_same(language: str) -> None:
    english = dict(strings(load("en")))
    differ = {
        key: (placeholders(english[key]), placeholders(text))
        for key, text in strings(load(language))
        if key in english and placeholders(english[key]) != placeholders(text)
    }
    assert not differ, f"{language}.json: placeholders (en, {language}) differ: {differ}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_translation_is_a_non_empty_string(language: str) -> None:
    bad = [key for key, text in strings(load(language)) if not isinstance(text, str) or not text]
    assert not bad, f"{language}.json: empty or not text: {bad}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_code_blocks_stay_as_they_are(language: str) -> None:
    """The lines the user pastes into config.py are shown in a ```python block."""
    english = dict(strings(load("en")))
    for key, text in strings(load(language)):
        if key in english:
            assert text.count("```") == english[key].count("```"), key


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("{subtype} pressed", ["subtype"]),
        ("```python\n{config_lines}\n```", ["config_lines"]),
        ("{host} port {port}: {error}", ["error", "host", "port"]),
        ("no placeholder", []),
    ],
)
def test_placeholders_are_found(text: str, found: list[str]) -> None:
    assert placeholders(text) == found


# As Home Assistant shows them -------------------------------------------------------


# The entities by platform and unique id (after the entry id): the table's and the bell's.
NAMED = [
    ("binary_sensor", "_table_3_calling"),
    ("sensor", "_table_3_call"),
    ("button", "_table_3_acknowledge"),
    ("switch", "_bell_active"),
]


@pytest.mark.parametrize(
    ("language", "names"),
    [
        (
            "ja",
            [
                "サービスベル テーブル3 呼び出し",
                "サービスベル テーブル3 呼び出し状態",
                "サービスベル テーブル3の呼び出しを確認",
                "サービスベル ベル有効",
            ],
        ),
        (
            "zh-Hant",
            [
                "服務鈴 3 號桌呼叫",
                "服務鈴 3 號桌呼叫狀態",
                "服務鈴 確認 3 號桌",
                "服務鈴 服務鈴啟用",
            ],
        ),
    ],
)
async def test_entities_are_named_in_home_assistants_language(
    hass: HomeAssistant,
    bell_data: dict[str, Any],
    make_entry: Callable[..., MockConfigEntry],
    language: str,
    names: list[str],
) -> None:
    """A bell without a name of its own: its device's name is translated too."""
    hass.config.language = language
    entry = make_entry(bell_data)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await wait_for(hass, lambda: entry.runtime_data.bell.available)
    registry = er.async_get(hass)
    for (platform, unique_id), name in zip(NAMED, names, strict=True):
        entity_id = registry.async_get_entity_id(platform, DOMAIN, entry.entry_id + unique_id)
        assert entity_id is not None, unique_id
        state = hass.states.get(entity_id)
        assert state is not None, entity_id
        assert state.attributes["friendly_name"] == name
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.parametrize("language", ["ja", "zh-Hant"])
async def test_home_assistant_loads_each_language(hass: HomeAssistant, language: str) -> None:
    loaded = await translation.async_get_translations(hass, language, "config", {DOMAIN})
    english = dict(strings(load("en")["config"], f"component.{DOMAIN}.config."))
    assert loaded.keys() >= english.keys()
    title = loaded[f"component.{DOMAIN}.config.step.user.title"]
    assert title == load(language)["config"]["step"]["user"]["title"]
