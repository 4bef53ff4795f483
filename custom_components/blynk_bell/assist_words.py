# Japanese and Chinese write with full-width punctuation (，：？): it is meant.
# ruff: noqa: RUF001, RUF003
"""The words Assist hears and says about the tables, language by language.

Each language is a `Words`: the sentences it adds to Assist (hassil templates: `(a|b)`
one of, `[a]` optional, `{table}` the words naming the table), how its staff name a table,
and its answers. Assist's language picks the answers: "ja" Japanese, "zh-TW" (and the UI's
"zh-Hant") Taiwanese Mandarin, "zh-HK" Cantonese; any other English.

Japanese and Chinese put no spaces between words. Home Assistant matches the sentence
triggers of every integration (of every language, before its own intents) in one hassil
`Intents` with default settings: not with `ignore_whitespace`, which its own `zh-TW` and
`zh-HK` sentences set (its `ja` ones do without). That is enough here: hassil sees from the
template where `{table}` ends ("{table}は呼んで..." ends it before は, no space needed),
and the words naming the table are compared without spaces, particles or fillers
(`spaced=False`): "テーブル3は呼んでいますか", "3番テーブル、呼んでる", "三號桌在叫嗎" all
find table 3. What a trigger cannot do is skip spaces inside the fixed words: those are
written without, as Japanese and Chinese speech-to-text and keyboards produce them.

Assist passes a trigger the first of its sentences that matches, and `{table}` ends where
the next words first fit, so the more particular sentences and the longer alternatives
come first ("有沒有" before "有"), else "三號桌有沒有在叫" would leave "有沒" in the table's
words.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Final

from .const import DEFAULT_NAME


@dataclass(frozen=True)
class Words:
    """One language's sentences and answers about the tables."""

    ask_one: list[str]
    ask_all: list[str]
    acknowledge: list[str]
    serve: list[str]
    numbers: dict[str, int]
    # Spoken forms of "table N", with N as {n}; and words dropped around a name.
    table_forms: list[str]
    fillers: list[str]
    answers: dict[str, str]
    join: Callable[[list[str]], str]
    minutes: Callable[[int], str]
    # Words that show a phrase is about a table even when no table matches.
    table_words: list[str]
    # False for languages written without spaces: words are compared with none, and a
    # filler is dropped from either end of the phrase wherever it stands.
    spaced: bool = True
    # Between the answers about several bells.
    separator: str = "; "
    # What an unnamed bell is called: its device's name in the translations.
    default_bell: str = DEFAULT_NAME


def _english_join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _joiner(comma: str, last: str) -> Callable[[list[str]], str]:
    """Return a join of the form "1、3 and 4" with the language's comma and "and"."""

    def join(items: list[str]) -> str:
        return items[0] if len(items) == 1 else f"{comma.join(items[:-1])}{last}{items[-1]}"

    return join


ENGLISH: Final = Words(
    ask_one=[
        "is {table} (calling|waiting|ringing)",
        "does {table} (need|want) [a] (waiter|service)",
        "has {table} been (seen|acknowledged)",
    ],
    ask_all=[
        "(which|what) tables are (calling|waiting)",
        "(is|are) (anyone|anybody|any table|any tables) (calling|waiting)",
        "who is calling",
    ],
    acknowledge=[
        "acknowledge {table}",
        "(I'm|I am) (coming|on my way) (to|for) {table}",
        "{table} (is|has been) (seen|acknowledged)",
    ],
    serve=[
        "{table} (is|was|has been) served",
        "(I|we) (served|have served) {table}",
        "(served|serve) {table}",
    ],
    numbers=dict(
        zip(
            [
                "one",
                "two",
                "three",
                "four",
                "five",
                "six",
                "seven",
                "eight",
                "nine",
                "ten",
                "eleven",
                "twelve",
                "thirteen",
                "fourteen",
                "fifteen",
                "sixteen",
            ],
            range(1, 17),
            strict=True,
        )
    ),
    table_forms=["table {n}", "table number {n}", "number {n}"],
    fillers=["the", "on", "at", "in", "of"],
    answers={
        "unknown": "I don't know a {spoken}",
        "hidden": "I cannot see {spoken}",
        "calling": "Yes, {table} is calling",
        "calling_for": "Yes, {table} has been calling for {minutes}",
        "seen": "{table} has been seen: a waiter is on the way",
        "idle": "No, {table} is not calling",
        "none_calling": "No table is calling",
        "one_calling": "{tables} is calling",
        "many_calling": "{tables} are calling",
        "no_tables": "I cannot see any table",
        "acknowledged": "OK, {table} knows a waiter is on the way",
        "not_calling": "{table} is not calling",
        "served": "OK, {table} is served",
        "nothing_open": "{table} has no open call",
        "which_bell": "Which one: {choices}?",
        "unreachable": "{answer}, but {bell} is out of reach: new calls cannot arrive",
        "silent": "{answer}, but {bell} itself has been offline for {minutes}",
        "on_bell": "{bell}: {answer}",
        "bell_table": "{bell} {table}",
        "table": "table {n}",
        "tables": "tables {numbers}",
    },
    join=_english_join,
    minutes=lambda n: f"{n} minute{'s' * (n != 1)}",
    table_words=["table", "number"],
)

# 一 to 十六, as Japanese and Chinese write table numbers out.
_KANJI_DIGITS: Final = "一二三四五六七八九"
_KANJI_NUMBERS: Final = {
    **{digit: n for n, digit in enumerate(_KANJI_DIGITS, start=1)},
    "十": 10,
    **{f"十{digit}": 10 + n for n, digit in enumerate(_KANJI_DIGITS[:6], start=1)},
}

# Japanese: "テーブル3は呼んでいますか", "3番テーブル、呼んでる？", "3番さんに行きます".
# Particles (は, が, を) are optional after the table, as staff drop them when speaking.
_JA_IS: Final = "(ますか|ます|るか|る|ませんか)"
JAPANESE: Final = Words(
    ask_one=[
        "{table}[は|が|、](スタッフ|店員|ウェイター)[さん]を(呼んで|待って)[い]" + _JA_IS,
        "{table}(から|で|に)呼び出し(は|が)(ありますか|あります|あるか|ある)",
        "{table}[は|が|、]呼び出し中[ですか|です|か]",
        "{table}[は|って|、](確認済み|対応中)(ですか|か)",
        "{table}[は|が|って|、]呼んで[い]" + _JA_IS,
        "{table}[は|が|、]待って[い]" + _JA_IS,
    ],
    ask_all=[
        "(どの|どこの)(テーブル|席)(が|は)(呼んで|待って)[い]" + _JA_IS,
        "呼んで[い]る(テーブル|席)(は|が)(どこ|どれ|ありますか|ある)[ですか|か]",
        "呼び出し中の(テーブル|席)(は|が)(どこ|どれ|ありますか|ある)[ですか|か]",
        "(誰か|だれか|どこか)[が]呼んで[い]" + _JA_IS,
        "呼び出し(は|が)(ありますか|あります|あるか|ある)",
    ],
    acknowledge=[
        "(今|いま|すぐ)[、]{table}(に|へ)(行きます|向かいます|向かっています|行く|向かう)",
        "{table}(に|へ)[今|いま|すぐ](行きます|向かいます|向かっています|行く|向かう)",
        "{table}[の呼び出し][を|は|、](確認|了解)[しました|します|して|です]",
    ],
    serve=[
        "{table}[は|の|、](対応|提供|配膳)(完了|済み|終わり|終了)[です|しました|しています]",
        "{table}(の|は)(対応|提供|配膳)(が|は)(終わりました|終わった|完了しました)",
        "{table}(を|に)(対応|提供)しました",
        "{table}(に|へ)[料理を|お料理を|注文を](出しました|お出ししました|届けました)",
    ],
    numbers=_KANJI_NUMBERS,
    table_forms=[
        "テーブル{n}",
        "テーブル{n}番",
        "テーブル番号{n}",
        "{n}番テーブル",
        "{n}番のテーブル",
        "{n}番卓",
        "{n}卓",
        "{n}番席",
        "{n}番",
    ],
    fillers=["の呼び出し", "さん", "様", "って", "は", "が", "を", "に", "へ", "の"],
    answers={
        "unknown": "{spoken}は知りません",
        "hidden": "{spoken}は見えません",
        "calling": "はい、{table}が呼んでいます",
        "calling_for": "はい、{table}が{minutes}前から呼んでいます",
        "seen": "{table}は確認済みです。スタッフが向かっています",
        "idle": "いいえ、{table}は呼んでいません",
        "none_calling": "呼んでいるテーブルはありません",
        "one_calling": "{tables}が呼んでいます",
        "many_calling": "{tables}が呼んでいます",
        "no_tables": "テーブルが一つも見えません",
        "acknowledged": "了解です。スタッフが向かうことを{table}に知らせました",
        "not_calling": "{table}は呼んでいません",
        "served": "了解です。{table}の対応を完了しました",
        "nothing_open": "{table}に対応中の呼び出しはありません",
        "which_bell": "どちらですか: {choices}",
        "unreachable": "{answer}。ただし{bell}に接続できないため、新しい呼び出しは届きません",
        "silent": "{answer}。ただし{bell}自体が{minutes}前からオフラインです",
        "on_bell": "{bell}: {answer}",
        "bell_table": "{bell}の{table}",
        "table": "テーブル{n}",
        "tables": "テーブル{numbers}",
    },
    join=_joiner("、", "と"),
    minutes=lambda n: f"{n}分",
    table_words=["テーブル", "番", "卓", "席"],
    spaced=False,
    separator="。",
    default_bell="サービスベル",
)

# Chinese, in Taiwan and in Hong Kong: "3號桌在叫嗎", "三號枱係咪叫緊呀", "確認3號桌".
# One set of sentences for both (桌 and 枱 for table, Mandarin and Cantonese phrasings);
# the answers differ.
TAIWANESE: Final = Words(
    ask_one=[
        (
            "{table}[有沒有|是不是|係唔係|係咪|有](需唔需要|要唔要|使唔使|需要|要)"
            "(服務生|服務|伙記|人)[嗎|呀|啊|呢]"
        ),
        "{table}[有沒有|有冇|已經](被確認|確認)(了沒有|了嗎|了沒|咗未|未)",
        "{table}[有沒有|是不是|係唔係|係咪|有][正]在(呼叫|叫|等)[服務生|服務|伙記|人][嗎|呢|呀]",
        "{table}[係唔係|係咪|有冇|有](叫緊|等緊)[伙記|嘢|人][呀|嗎|啊|呢]",
        "{table}(有沒有|有冇|有)(呼叫|叫)[服務生|伙記|人][嗎|呀|啊|呢]",
    ],
    ask_all=[
        "[有]哪(些|幾|一)(桌|張桌|桌子|張桌子|枱|張枱)[正]在(叫|呼叫|等)[嗎|呢]",
        "(邊啲|邊張|邊幾張)(枱|桌)(叫緊|等緊|喺度叫)[呀|啊|呢]",
        "(有沒有|有冇|有)(人|桌|桌子|枱|客人)[正]在(叫|呼叫)[嗎|呀|呢]",
        "(有沒有|有冇|有)(人|枱|客人)叫緊[嘢][呀|嗎|啊]",
        "(誰|邊個)[正]在(叫|呼叫)[呢]",
        "邊個叫緊[呀|啊]",
    ],
    acknowledge=[
        "(確認|收到|了解)[了|咗]{table}[的|嘅](呼叫|叫)",
        "(確認|收到)[了|咗]{table}",
        "{table}[的|嘅][呼叫](確認|收到|了解)[了|咗|喇|啦]",
        "[我](馬上|現在|而家|即刻|立即|立刻)(過去|去|到){table}",
        "{table}我[馬上|現在|而家|即刻|立即|立刻](過去|過嚟|去|來|嚟)[了|啦|喇]",
    ],
    serve=[
        "{table}[已經|已](服務|處理|招呼)(完成|完畢|好|完)[了|咗|喇|啦]",
        "{table}[已經|已](服務|招呼|處理)(了|咗)",
        "{table}[已經](搞掂|搞定)[了|咗|喇|啦]",
        "(已經|已)(服務|招呼)[完|好][了|咗]{table}",
        "(服務|招呼)(完|好)[了|咗]{table}",
    ],
    numbers=_KANJI_NUMBERS,
    table_forms=[
        "{n}號桌",
        "{n}號桌子",
        "{n}號枱",
        "{n}號檯",
        "{n}號台",
        "{n}号桌",
        "{n}桌",
        "{n}枱",
        "第{n}桌",
        "第{n}枱",
        "第{n}號桌",
        "第{n}號枱",
        "桌號{n}",
        "桌{n}",
        "枱{n}",
        "{n}號",
    ],
    fillers=["的", "嘅", "那", "這", "呢", "嗰", "張", "了", "咗", "啦", "喇", "呀", "啊", "嗎"],
    answers={
        "unknown": "我不知道有{spoken}",
        "hidden": "我看不到{spoken}",
        "calling": "是的，{table}正在呼叫",
        "calling_for": "是的，{table}已經呼叫了{minutes}",
        "seen": "{table}已確認：服務生正在過去",
        "idle": "沒有，{table}沒有在呼叫",
        "none_calling": "沒有桌子在呼叫",
        "one_calling": "{tables}正在呼叫",
        "many_calling": "{tables}正在呼叫",
        "no_tables": "我看不到任何桌子",
        "acknowledged": "好的，已讓{table}知道服務生正在過去",
        "not_calling": "{table}沒有在呼叫",
        "served": "好的，{table}已服務",
        "nothing_open": "{table}沒有未處理的呼叫",
        "which_bell": "哪一個：{choices}？",
        "unreachable": "{answer}，但{bell}目前連不上：新的呼叫無法送達",
        "silent": "{answer}，但{bell}本身已離線{minutes}",
        "on_bell": "{bell}：{answer}",
        "bell_table": "{bell}的{table}",
        "table": "{n}號桌",
        "tables": "{numbers}號桌",
    },
    join=_joiner("、", "和"),
    minutes=lambda n: f"{n}分鐘",
    table_words=["桌", "枱", "檯", "號"],
    spaced=False,
    separator="；",
    default_bell="服務鈴",
)

CANTONESE: Final = replace(
    TAIWANESE,
    answers={
        "unknown": "我唔知有{spoken}",
        "hidden": "我睇唔到{spoken}",
        "calling": "係，{table}叫緊",
        "calling_for": "係，{table}已經叫咗{minutes}",
        "seen": "{table}已經確認咗：伙記過緊去",
        "idle": "冇，{table}冇叫",
        "none_calling": "冇枱叫緊",
        "one_calling": "{tables}叫緊",
        "many_calling": "{tables}叫緊",
        "no_tables": "我睇唔到任何枱",
        "acknowledged": "好，已經話咗俾{table}知伙記過緊去",
        "not_calling": "{table}冇叫",
        "served": "好，{table}搞掂咗",
        "nothing_open": "{table}冇未處理嘅呼叫",
        "which_bell": "邊一個：{choices}？",
        "unreachable": "{answer}，不過{bell}而家連唔到：新嘅呼叫入唔到嚟",
        "silent": "{answer}，不過{bell}本身已經離線{minutes}",
        "on_bell": "{bell}：{answer}",
        "bell_table": "{bell}嘅{table}",
        "table": "{n}號枱",
        "tables": "{numbers}號枱",
    },
    join=_joiner("、", "同"),
)

# Assist's language codes. Others are answered in English.
LANGUAGES: Final[dict[str, Words]] = {
    "en": ENGLISH,
    "ja": JAPANESE,
    "zh-TW": TAIWANESE,
    "zh-HK": CANTONESE,
    "zh-Hant": TAIWANESE,  # The UI's code for Traditional Chinese.
}


def words_for(language: str | None) -> Words:
    """Return the words of `language` ("zh-TW", else "zh-TW"'s base "zh"), else English."""
    if language:
        for candidate in (language, language.split("-")[0]):
            if candidate in LANGUAGES:
                return LANGUAGES[candidate]
    return ENGLISH
