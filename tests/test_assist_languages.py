# Japanese and Chinese write with full-width punctuation (，：？) and digits: it is meant.
# ruff: noqa: RUF001, RUF003
"""Assist about the tables in Japanese and Chinese: asked, acknowledged, served.

As in the English tests, presses come from a real Mosquitto broker and every question goes
through `conversation.async_converse`, with the language a pipeline would pass: "ja",
"zh-TW" (Taiwan) or "zh-HK" (Hong Kong). Table numbers come as digits, full-width digits
and numerals (三), in the forms staff use (テーブル3, 3番テーブル, 3號桌, 三號枱).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from homeassistant.components import conversation
from homeassistant.components.homeassistant.exposed_entities import async_expose_entity
from homeassistant.core import Context, HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from blynk_emulator import Device
from custom_components.blynk_bell.assist_words import LANGUAGES
from custom_components.blynk_bell.const import (
    CONF_BUTTONS,
    CONF_NAME,
    CONF_TABLE_NAMES,
    CONF_TOPIC,
    DOMAIN,
)

from .conftest import TOPIC
from .helpers import state_of, wait_for
from .mosquitto import Mosquitto
from .test_assist import assist  # noqa: F401 - the fixture sets Assist up
from .test_assist_tables import press
from .test_translations import load

CALL = "sensor.{}_table_{}_call"
CALLING = "binary_sensor.service_bell_table_{}_calling"
KANJI = "〇一二三四五六七八九"


async def ask(hass: HomeAssistant, text: str, language: str) -> str:
    """Say `text` to Assist in `language` and return its spoken answer."""
    result = await conversation.async_converse(hass, text, None, Context(), language=language)
    await hass.async_block_till_done()
    speech: str = result.response.speech["plain"]["speech"]
    return speech


def spoken(template: str, table: int) -> str:
    """Fill a question with a table number: {n} as digits, {k} as a numeral, {w} full-width."""
    wide = "".join(chr(ord(digit) - ord("0") + ord("０")) for digit in str(table))
    return template.format(n=table, k=KANJI[table], w=wide)


async def table_3_calls(hass: HomeAssistant, mosquitto: Mosquitto) -> None:
    await press(mosquitto, 3)
    await wait_for(hass, lambda: state_of(hass, CALLING.format(3)) == "on")


# Is table 3 calling? ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "question", "calling", "idle"),
    [
        (
            "ja",
            "テーブル{n}は呼んでいますか",
            "はい、テーブル3が呼んでいます",
            "いいえ、テーブル2は呼んでいません",
        ),
        (
            "ja",
            "{n}番テーブル、呼んでる？",
            "はい、テーブル3が呼んでいます",
            "いいえ、テーブル2は呼んでいません",
        ),
        (
            "ja",
            "テーブル{n}番は呼んでいますか？",
            "はい、テーブル3が呼んでいます",
            "いいえ、テーブル2は呼んでいません",
        ),
        (
            "ja",
            "{k}番テーブルは呼び出し中ですか",
            "はい、テーブル3が呼んでいます",
            "いいえ、テーブル2は呼んでいません",
        ),
        (
            "ja",
            "テーブル{w}はスタッフを呼んでいますか",
            "はい、テーブル3が呼んでいます",
            "いいえ、テーブル2は呼んでいません",
        ),
        (
            "ja",
            "{k}番卓は待っていますか",
            "はい、テーブル3が呼んでいます",
            "いいえ、テーブル2は呼んでいません",
        ),
        ("zh-TW", "{n}號桌在叫嗎", "是的，3號桌正在呼叫", "沒有，2號桌沒有在呼叫"),
        ("zh-TW", "{k}號桌有沒有在呼叫？", "是的，3號桌正在呼叫", "沒有，2號桌沒有在呼叫"),
        ("zh-TW", "第{k}桌需要服務生嗎", "是的，3號桌正在呼叫", "沒有，2號桌沒有在呼叫"),
        ("zh-TW", "{w}號桌有叫嗎", "是的，3號桌正在呼叫", "沒有，2號桌沒有在呼叫"),
        ("zh-HK", "{n}號枱係咪叫緊呀", "係，3號枱叫緊", "冇，2號枱冇叫"),
        ("zh-HK", "{k}號枱有冇叫呀", "係，3號枱叫緊", "冇，2號枱冇叫"),
        ("zh-HK", "{n}號枱要唔要伙記", "係，3號枱叫緊", "冇，2號枱冇叫"),
    ],
)
async def test_is_a_table_calling(
    hass: HomeAssistant,
    mosquitto: Mosquitto,
    bell_entry: MockConfigEntry,
    language: str,
    question: str,
    calling: str,
    idle: str,
) -> None:
    await table_3_calls(hass, mosquitto)
    assert await ask(hass, spoken(question, 3), language) == calling
    assert await ask(hass, spoken(question, 2), language) == idle


@pytest.mark.parametrize(
    ("language", "answer"),
    [
        ("ja", "はい、テーブル2が2分前から呼んでいます"),
        ("zh-TW", "是的，2號桌已經呼叫了2分鐘"),
        ("zh-HK", "係，2號枱已經叫咗2分鐘"),
    ],
)
async def test_how_long_a_table_has_been_calling(
    hass: HomeAssistant,
    mosquitto: Mosquitto,
    bell_entry: MockConfigEntry,
    language: str,
    answer: str,
) -> None:
    await mosquitto.publish(TOPIC, '{"button": 2, "event": "press", "age_ms": 130000}')
    await wait_for(hass, lambda: state_of(hass, CALLING.format(2)) == "on")
    question = {"ja": "テーブル2は呼んでいますか", "zh-TW": "2號桌在叫嗎", "zh-HK": "2號枱叫緊呀"}
    assert await ask(hass, question[language], language) == answer


@pytest.mark.parametrize(
    ("language", "question", "beyond", "unknown", "hidden"),
    [
        (
            "ja",
            "テーブル{n}は呼んでいますか",
            "テーブル9は見えません",
            "テーブル20は知りません",
            "テーブル3は見えません",
        ),
        ("zh-TW", "{n}號桌在叫嗎", "我看不到9號桌", "我不知道有20號桌", "我看不到3號桌"),
        ("zh-HK", "{n}號枱叫緊呀", "我睇唔到9號枱", "我唔知有20號枱", "我睇唔到3號枱"),
    ],
)
async def test_tables_it_cannot_see_or_does_not_know(
    hass: HomeAssistant,
    mosquitto: Mosquitto,
    bell_entry: MockConfigEntry,
    language: str,
    question: str,
    beyond: str,
    unknown: str,
    hidden: str,
) -> None:
    assert await ask(hass, question.format(n=9), language) == beyond  # The bell has 4.
    assert await ask(hass, question.format(n=20), language) == unknown
    async_expose_entity(hass, "conversation", CALLING.format(3), False)
    assert await ask(hass, question.format(n=3), language) == hidden


# Which tables are calling? -----------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "questions", "none", "one", "many"),
    [
        (
            "ja",
            ["どのテーブルが呼んでいますか", "呼んでいるテーブルはどこ？", "誰か呼んでる？"],
            "呼んでいるテーブルはありません",
            "テーブル3が呼んでいます",
            "テーブル1、3と4が呼んでいます",
        ),
        (
            "zh-TW",
            ["哪些桌在叫", "有沒有桌在呼叫？", "有人在叫嗎"],
            "沒有桌子在呼叫",
            "3號桌正在呼叫",
            "1、3和4號桌正在呼叫",
        ),
        (
            "zh-HK",
            ["邊啲枱叫緊呀", "有冇人叫緊", "邊個叫緊"],
            "冇枱叫緊",
            "3號枱叫緊",
            "1、3同4號枱叫緊",
        ),
    ],
)
async def test_which_tables_are_calling(
    hass: HomeAssistant,
    mosquitto: Mosquitto,
    bell_entry: MockConfigEntry,
    language: str,
    questions: list[str],
    none: str,
    one: str,
    many: str,
) -> None:
    for question in questions:
        assert await ask(hass, question, language) == none
    await table_3_calls(hass, mosquitto)
    for question in questions:
        assert await ask(hass, question, language) == one
    for table in (1, 4):
        await press(mosquitto, table)
    await wait_for(hass, lambda: state_of(hass, CALLING.format(1)) == "on")
    await wait_for(hass, lambda: state_of(hass, CALLING.format(4)) == "on")
    for question in questions:
        assert await ask(hass, question, language) == many


# Acknowledge, serve ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "sentences"),
    [
        (
            "ja",
            {
                "acknowledge": "テーブル3を確認しました",
                "acknowledged": "了解です。スタッフが向かうことをテーブル3に知らせました",
                "ask": "テーブル3は確認済みですか",
                "seen": "テーブル3は確認済みです。スタッフが向かっています",
                "serve": "テーブル3の対応完了",
                "served": "了解です。テーブル3の対応を完了しました",
                "serve_again": "三番テーブルの対応が終わりました",
                "nothing_open": "テーブル3に対応中の呼び出しはありません",
                "acknowledge_idle": "テーブル2の呼び出しを確認",
                "not_calling": "テーブル2は呼んでいません",
            },
        ),
        (
            "zh-TW",
            {
                "acknowledge": "確認3號桌",
                "acknowledged": "好的，已讓3號桌知道服務生正在過去",
                "ask": "3號桌確認了嗎",
                "seen": "3號桌已確認：服務生正在過去",
                "serve": "3號桌服務完成了",
                "served": "好的，3號桌已服務",
                "serve_again": "三號桌已經服務了",
                "nothing_open": "3號桌沒有未處理的呼叫",
                "acknowledge_idle": "收到2號桌的呼叫",
                "not_calling": "2號桌沒有在呼叫",
            },
        ),
        (
            "zh-HK",
            {
                "acknowledge": "收到3號枱",
                "acknowledged": "好，已經話咗俾3號枱知伙記過緊去",
                "ask": "3號枱確認咗未",
                "seen": "3號枱已經確認咗：伙記過緊去",
                "serve": "3號枱搞掂",
                "served": "好，3號枱搞掂咗",
                "serve_again": "三號枱招呼好咗",
                "nothing_open": "3號枱冇未處理嘅呼叫",
                "acknowledge_idle": "2號枱收到",
                "not_calling": "2號枱冇叫",
            },
        ),
    ],
)
async def test_acknowledge_and_serve_a_table_by_voice(
    hass: HomeAssistant,
    mosquitto: Mosquitto,
    bell_entry: MockConfigEntry,
    language: str,
    sentences: dict[str, str],
) -> None:
    async def say(key: str) -> str:
        return await ask(hass, sentences[key], language)

    assert await say("acknowledge_idle") == sentences["not_calling"]
    await table_3_calls(hass, mosquitto)
    assert await say("acknowledge") == sentences["acknowledged"]
    assert state_of(hass, CALL.format("service_bell", 3)) == "acknowledged"
    assert await say("ask") == sentences["seen"]
    assert await say("serve") == sentences["served"]
    assert state_of(hass, CALL.format("service_bell", 3)) == "idle"
    assert await say("serve_again") == sentences["nothing_open"]


@pytest.mark.parametrize(
    ("language", "sentence"),
    [
        ("ja", "今テーブル4に行きます"),
        ("ja", "4番さんに向かいます"),
        ("ja", "テーブル四番、了解"),
        ("ja", "4番さん、了解"),
        ("ja", "テーブル4の呼び出しを確認しました"),
        ("zh-TW", "我馬上過去4號桌"),
        ("zh-TW", "4號桌收到了"),
        ("zh-TW", "確認四號桌的呼叫"),
        ("zh-HK", "4號枱我而家過嚟"),
        ("zh-HK", "收到咗四號枱"),
    ],
)
async def test_ways_to_acknowledge(
    hass: HomeAssistant,
    mosquitto: Mosquitto,
    bell_entry: MockConfigEntry,
    language: str,
    sentence: str,
) -> None:
    await press(mosquitto, 4)
    await wait_for(hass, lambda: state_of(hass, CALL.format("service_bell", 4)) == "calling")
    answer = await ask(hass, sentence, language)
    assert "4" in answer
    assert state_of(hass, CALL.format("service_bell", 4)) == "acknowledged"


@pytest.mark.parametrize(
    ("language", "sentence"),
    [
        ("ja", "テーブル4は対応済みです"),
        ("ja", "4番テーブルに料理を出しました"),
        ("ja", "テーブル4に対応しました"),
        ("zh-TW", "4號桌處理好了"),
        ("zh-TW", "已經服務完4號桌"),
        ("zh-HK", "四號枱搞掂咗"),
    ],
)
async def test_ways_to_serve(
    hass: HomeAssistant,
    mosquitto: Mosquitto,
    bell_entry: MockConfigEntry,
    language: str,
    sentence: str,
) -> None:
    await press(mosquitto, 4)
    await wait_for(hass, lambda: state_of(hass, CALL.format("service_bell", 4)) == "calling")
    assert "4" in await ask(hass, sentence, language)
    assert state_of(hass, CALL.format("service_bell", 4)) == "idle"


# Names, several bells, a silent bell -----------------------------------------------


async def test_tables_by_their_names(
    hass: HomeAssistant,
    mosquitto: Mosquitto,
    bell_data: dict[str, Any],
    make_entry: Callable[..., MockConfigEntry],
) -> None:
    entry = make_entry(bell_data, {CONF_BUTTONS: 4, CONF_TABLE_NAMES: {"2": "窓際の席"}})
    assert await hass.config_entries.async_setup(entry.entry_id)
    await wait_for(hass, lambda: entry.runtime_data.bell.available)
    await press(mosquitto, 2)
    await press(mosquitto, 4)
    await wait_for(hass, lambda: state_of(hass, CALL.format("service_bell", 4)) == "calling")
    assert await ask(hass, "窓際の席は呼んでいますか", "ja") == "はい、窓際の席が呼んでいます"
    assert await ask(hass, "どのテーブルが呼んでいますか", "ja") == (
        "窓際の席とテーブル4が呼んでいます"
    )
    assert await ask(hass, "窓際の席を確認しました", "ja") == (
        "了解です。スタッフが向かうことを窓際の席に知らせました"
    )
    assert await ask(hass, "哪些桌在叫", "zh-TW") == "4號桌正在呼叫"


@pytest.fixture
async def two_bells(
    hass: HomeAssistant,
    socket_enabled: None,
    tmp_path: Path,
    bell_data: dict[str, Any],
    make_entry: Callable[..., MockConfigEntry],
    mosquitto: Mosquitto,
) -> tuple[MockConfigEntry, MockConfigEntry]:
    terrace = make_entry({**bell_data, CONF_NAME: "テラス"})
    bar = make_entry({**bell_data, CONF_NAME: "吧台", CONF_TOPIC: "blynk-bell/bar"})
    assert await hass.config_entries.async_setup(terrace.entry_id)  # Sets up both.
    for entry in (terrace, bar):
        await wait_for(hass, lambda entry=entry: entry.runtime_data.bell.available)
    await press(mosquitto, 1)
    await press(mosquitto, 1, topic="blynk-bell/bar")
    await press(mosquitto, 3)
    for entry in (terrace, bar):
        bell = entry.runtime_data.bell
        await wait_for(hass, lambda bell=bell: bell.calling(1))
    await wait_for(hass, lambda: terrace.runtime_data.bell.calling(3))
    return terrace, bar


async def test_with_several_bells_answers_say_which(
    hass: HomeAssistant, two_bells: tuple[MockConfigEntry, MockConfigEntry]
) -> None:
    terrace, bar = two_bells
    assert await ask(hass, "テーブル3は呼んでいますか", "ja") == (
        "テラス: はい、テーブル3が呼んでいます。吧台: いいえ、テーブル3は呼んでいません"
    )
    assert await ask(hass, "テラスのテーブル3は呼んでいますか", "ja") == (
        "はい、テーブル3が呼んでいます"
    )
    assert await ask(hass, "吧台的3號桌在叫嗎", "zh-TW") == "沒有，3號桌沒有在呼叫"
    assert await ask(hass, "吧台3號桌在叫嗎", "zh-TW") == "沒有，3號桌沒有在呼叫"
    assert await ask(hass, "哪些桌在叫", "zh-TW") == (
        "テラス：1和3號桌正在呼叫；吧台：1號桌正在呼叫"
    )
    assert await ask(hass, "テーブル1を確認", "ja") == (
        "どちらですか: テラスのテーブル1と吧台のテーブル1"
    )
    assert await ask(hass, "確認1號桌", "zh-TW") == "哪一個：テラス的1號桌和吧台的1號桌？"
    assert terrace.runtime_data.bell.calling(1)
    assert bar.runtime_data.bell.calling(1)
    assert await ask(hass, "吧台的1號桌收到了", "zh-TW") == ("好的，已讓1號桌知道服務生正在過去")
    assert not bar.runtime_data.bell.calling(1)
    assert terrace.runtime_data.bell.calling(1)


@pytest.mark.parametrize(
    ("language", "question", "answer"),
    [
        (
            "ja",
            "テーブル1は呼んでいますか",
            "いいえ、テーブル1は呼んでいません。ただしサービスベル自体が7分前からオフラインです",
        ),
        ("zh-TW", "1號桌在叫嗎", "沒有，1號桌沒有在呼叫，但服務鈴本身已離線7分鐘"),
        ("zh-HK", "1號枱叫緊呀", "冇，1號枱冇叫，不過服務鈴本身已經離線7分鐘"),
    ],
)
async def test_a_silent_bell_is_mentioned(
    hass: HomeAssistant,
    mosquitto: Mosquitto,
    bell_entry: MockConfigEntry,
    language: str,
    question: str,
    answer: str,
) -> None:
    await mosquitto.publish(f"{TOPIC}/status", "offline", retain=True)
    await wait_for(hass, lambda: bell_entry.runtime_data.bell.offline_since is not None)
    bell_entry.runtime_data.bell.offline_since = dt_util.utcnow() - timedelta(minutes=7)
    assert await ask(hass, question, language) == answer


# The language of the answer --------------------------------------------------------


async def test_answers_come_in_the_language_assist_was_asked_in(
    hass: HomeAssistant, mosquitto: Mosquitto, bell_entry: MockConfigEntry
) -> None:
    """A pipeline's language picks the answer; every language's sentences are heard."""
    await table_3_calls(hass, mosquitto)
    assert await ask(hass, "テーブル3は呼んでいますか", "en") == "Yes, table 3 is calling"
    assert await ask(hass, "is table 3 calling", "ja") == "はい、テーブル3が呼んでいます"
    assert await ask(hass, "is table three calling", "zh-TW") == "是的，3號桌正在呼叫"
    assert await ask(hass, "3號桌在叫嗎", "zh-Hant") == "是的，3號桌正在呼叫"
    assert await ask(hass, "3號桌在叫嗎", "fr") == "Yes, table 3 is calling"


async def test_is_any_table_calling_asks_about_all_tables(
    hass: HomeAssistant, mosquitto: Mosquitto, bell_entry: MockConfigEntry
) -> None:
    """Not about a table called "any table": the questions about all come first."""
    assert await ask(hass, "is any table calling", "en") == "No table is calling"
    await table_3_calls(hass, mosquitto)
    assert await ask(hass, "are any tables calling", "en") == "Table 3 is calling"


def test_an_unnamed_bell_is_called_as_its_device_is() -> None:
    """The answers' name for a bell without one is its device's name in that language."""
    for language, words in LANGUAGES.items():
        translation = "zh-Hant" if language.startswith("zh") else language
        assert words.default_bell == load(translation)["device"]["service_bell"]["name"]


def test_every_language_has_every_answer() -> None:
    english = LANGUAGES["en"].answers
    for language, words in LANGUAGES.items():
        assert words.answers.keys() == english.keys(), language


# The heater --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "assist_language", "aliases", "off", "on", "answers"),
    [
        (
            "ja",
            "ja",
            {"Heater", "ヒーター"},
            "ヒーターを消して",
            "ヒーターを点けて",
            ("エアコンがオフになりました", "エアコンがオンになりました"),
        ),
        (
            "zh-Hant",
            "zh-TW",
            {"Heater", "加熱器", "暖氣"},
            "關掉暖氣",
            "打開加熱器",
            ("暖氣已關閉", "加熱器已打開"),
        ),
        (
            "zh-Hant",
            "zh-HK",
            {"Heater", "加熱器", "暖氣"},
            "關閉暖氣",
            "開啟暖氣",
            ("暖氣已關閉", "暖氣已打開"),
        ),
    ],
)
async def test_the_heater_answers_to_its_local_name(
    hass: HomeAssistant,
    heater_data: dict[str, Any],
    make_entry: Callable[..., MockConfigEntry],
    device: Device,
    language: str,
    assist_language: str,
    aliases: set[str],
    off: str,
    on: str,
    answers: tuple[str, str],
) -> None:
    """Home Assistant's own sentences turn it off and on by the alias of its language."""
    hass.config.language = language
    entry = make_entry(heater_data)
    assert await hass.config_entries.async_setup(entry.entry_id)
    registry = er.async_get(hass)
    # Its entity id comes from its device's translated name ("Blynk ヒーター").
    climate = registry.async_get_entity_id("climate", DOMAIN, f"{entry.entry_id}_heater")
    assert climate is not None, climate
    await wait_for(hass, lambda: state_of(hass, climate) == "heat")
    entity = registry.async_get(climate)
    assert entity is not None
    assert entity.aliases == aliases
    assert await ask(hass, off, assist_language) == answers[0]
    assert state_of(hass, climate) == "off"
    await device.wait_for(lambda d: d.value("Power") == "0")
    assert await ask(hass, on, assist_language) == answers[1]
    assert state_of(hass, climate) == "heat"
    await device.wait_for(lambda d: d.value("Power") == "1")
    await hass.config_entries.async_unload(entry.entry_id)
