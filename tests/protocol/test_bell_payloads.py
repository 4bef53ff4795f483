"""The bell's wire format: presses and status, signed and unsigned, and their bounds."""

from __future__ import annotations

import json

import pytest

from custom_components.blynk_bell.protocol.bell import (
    BellStatus,
    Press,
    PressOrder,
    PressType,
    RedeliveryFilter,
    Rejected,
    Rejection,
    parse_press,
    parse_status,
    validate_topic,
)
from custom_components.blynk_bell.protocol.signing import (
    InvalidKey,
    generate_key,
    key_bytes,
    normalize_key,
    press_text,
    sign,
    status_text,
)

TOPIC = "blynk-bell/test"
KEY = key_bytes("11" * 32)


def signed_press(
    key: bytes = KEY,
    topic: str = TOPIC,
    *,
    button: int = 3,
    event: str = "press",
    boot: int = 17,
    seq: int = 42,
    age_ms: int = 120,
) -> bytes:
    text = press_text(topic, button=button, event=event, boot=boot, seq=seq, age_ms=age_ms)
    values = {"button": button, "event": event, "boot": boot, "seq": seq, "age_ms": age_ms}
    return json.dumps({**values, "sig": sign(key, text)}).encode()


def unsigned(payload: bytes, tables: int = 16) -> Press:
    return parse_press(payload, topic=TOPIC, tables=tables)


def rejection(payload: bytes, key: bytes | None = None, tables: int = 16) -> Rejection:
    with pytest.raises(Rejected) as raised:
        parse_press(payload, topic=TOPIC, tables=tables, key=key)
    return raised.value.reason


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b"button 1 is pressed", Press(1)),
        (b"button 16 is pressed", Press(16)),
        (b"BuTtOn 2 iS pReSsEd", Press(2)),
        (b"\tbutton  3   is pressed \r\n\x00", Press(3)),
        (
            b'{"button": 2, "event": "long_press", "seq": 9, "age_ms": 15}',
            Press(2, PressType.LONG_PRESS, 9, 15),
        ),
        (b'{"button": 2, "age_ms": 15.7}', Press(2, age_ms=15)),
        (b' {"button": 4, "event": "double_press"}\n', Press(4, PressType.DOUBLE_PRESS)),
        (b'{"button": 1, "seq": 0, "extra": [1, 2]}', Press(1, seq=0)),
        (
            b'{"button": 1, "event": "press", "boot": 4, "seq": 1, "age_ms": 0}',
            Press(1, seq=1, age_ms=0, boot=4),
        ),
    ],
)
def test_unsigned_presses_are_read(payload: bytes, expected: Press) -> None:
    assert unsigned(payload) == expected


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"\xc3\x28", Rejection.GARBAGE),
        (b"x" * 1025, Rejection.GARBAGE),
        (b"button 1 is pressed please", Rejection.GARBAGE),
        (b"{not json", Rejection.GARBAGE),
        (b"[1]", Rejection.GARBAGE),
        (b"[" * 1000 + b"]" * 24, Rejection.GARBAGE),
        (b'{"button": "1"}', Rejection.GARBAGE),
        (b'{"button": false}', Rejection.GARBAGE),
        (b'{"button": 1, "event": "tap"}', Rejection.GARBAGE),
        (b'{"button": 1, "event": null}', Rejection.GARBAGE),
        (b'{"button": 1, "event": ["press"]}', Rejection.GARBAGE),
        (b'{"button": 1, "seq": true}', Rejection.GARBAGE),
        (b'{"button": 1, "age_ms": NaN}', Rejection.GARBAGE),
        (b'{"button": 1, "age_ms": Infinity}', Rejection.GARBAGE),
        (b'{"button": 1, "age_ms": -1}', Rejection.OUT_OF_RANGE),
        (b'{"button": 1, "event": "press", "age_ms": 1e20}', Rejection.OUT_OF_RANGE),
        (b'{"button": 1, "event": "press", "age_ms": 1e14}', Rejection.OUT_OF_RANGE),
        (b'{"button": 1, "age_ms": 1180591620717411303424}', Rejection.OUT_OF_RANGE),
        (b'{"button": 1, "age_ms": 86400001}', Rejection.OUT_OF_RANGE),
        (b'{"button": 1, "seq": 1208925819614629174706176}', Rejection.OUT_OF_RANGE),
        (b'{"button": 1, "seq": -3}', Rejection.OUT_OF_RANGE),
        (b'{"button": 1, "boot": 4294967296}', Rejection.OUT_OF_RANGE),
        (b'{"button": 0}', Rejection.OUT_OF_RANGE),
        (b'{"button": 17}', Rejection.OUT_OF_RANGE),
        (b"button 17 is pressed", Rejection.OUT_OF_RANGE),
        (b'{"button": 1, "seq": ' + b"9" * 900 + b"}", Rejection.OUT_OF_RANGE),
    ],
)
def test_unsigned_garbage_and_out_of_range_numbers_are_rejected(
    payload: bytes, reason: Rejection
) -> None:
    assert rejection(payload) is reason


def test_a_button_beyond_the_configured_tables_is_out_of_range() -> None:
    assert rejection(b"button 5 is pressed", tables=4) is Rejection.OUT_OF_RANGE
    assert unsigned(b"button 4 is pressed", tables=4) == Press(4)


def test_the_size_limit_is_inclusive() -> None:
    payload = b"button 1 is pressed".ljust(1024, b" ")
    assert unsigned(payload) == Press(1)


def test_a_signed_press_is_accepted_with_its_key() -> None:
    press = parse_press(signed_press(), topic=TOPIC, tables=4, key=KEY)
    assert press == Press(3, PressType.PRESS, 42, 120, 17, signed=True)
    assert press.order == (17, 42)


@pytest.mark.parametrize(
    "payload",
    [
        signed_press(key=key_bytes("22" * 32)),  # a foreign key
        signed_press(topic="SunFounder MQTT Test"),  # signed for another topic
        signed_press().replace(b'"seq": 42', b'"seq": 43'),  # tampered
        signed_press().replace(b'"age_ms": 120', b'"age_ms": 121'),
        signed_press().replace(b'"event": "press"', b'"event": "long_press"'),
        signed_press().replace(b'"sig": "', b'"sig": "0'),
    ],
)
def test_a_press_not_signed_with_the_key_is_refused(payload: bytes) -> None:
    assert rejection(payload, key=KEY, tables=4) is Rejection.BAD_SIGNATURE


@pytest.mark.parametrize(
    "payload",
    [
        b"button 3 is pressed",
        b'{"button": 3, "event": "press", "boot": 17, "seq": 42, "age_ms": 120}',
    ],
)
def test_a_keyed_bell_refuses_unsigned_presses(payload: bytes) -> None:
    assert rejection(payload, key=KEY) is Rejection.UNSIGNED


def test_a_signed_press_needs_every_signed_member() -> None:
    data = json.loads(signed_press())
    del data["boot"]
    assert rejection(json.dumps(data).encode(), key=KEY) is Rejection.GARBAGE
    assert rejection(signed_press(seq=0), key=KEY) is Rejection.OUT_OF_RANGE


def test_an_unkeyed_integration_reads_a_signed_press_without_checking_it() -> None:
    assert unsigned(signed_press(key=key_bytes("22" * 32))) == Press(3, seq=42, age_ms=120, boot=17)


def test_status_words_and_json() -> None:
    def status(payload: bytes) -> BellStatus:
        return parse_status(payload, topic=TOPIC)

    assert status(b"online") == BellStatus(True)
    assert status(b"OFFLINE\n") == BellStatus(False)
    assert status(b'{"state": "online", "boot": 3}') == BellStatus(True, 3)
    for garbage in (b"", b"maybe", b"\xff", b'{"state": 1}', b'{"state": "online", "boot": -1}'):
        with pytest.raises(Rejected):
            status(garbage)


def test_a_keyed_bell_status_must_be_signed() -> None:
    good = json.dumps(
        {
            "state": "offline",
            "boot": 9,
            "sig": sign(KEY, status_text(TOPIC, state="offline", boot=9)),
        }
    ).encode()
    assert parse_status(good, topic=TOPIC, key=KEY) == BellStatus(False, 9)
    for payload, reason in (
        (b"offline", Rejection.UNSIGNED),
        (good.replace(b"offline", b"online"), Rejection.BAD_SIGNATURE),
        (good.replace(b'"boot": 9', b'"boot": 10'), Rejection.BAD_SIGNATURE),
    ):
        with pytest.raises(Rejected) as raised:
            parse_status(payload, topic=TOPIC, key=KEY)
        assert raised.value.reason is reason


def test_press_order_accepts_only_newer_pairs() -> None:
    order = PressOrder((17, 42))
    assert not order.is_fresh((17, 42))
    assert not order.is_fresh((17, 41))
    assert not order.is_fresh((16, 9999))
    assert order.is_fresh((17, 43))
    assert order.is_fresh((18, 1))


def test_redelivery_filter_remembers_a_bounded_window() -> None:
    seen = RedeliveryFilter(size=3)
    pairs = [(0, 1), (0, 2), (0, 1), (0, 3), (0, 4)]
    assert [seen.first_time(pair) for pair in pairs] == [True, True, False, True, True]
    # Adding 4 pushed out 2, the least recently seen (1 was refreshed by its repeat).
    assert seen.first_time((0, 3)) is False
    assert seen.first_time((0, 2)) is True


def test_redelivery_filter_accepts_a_rebooted_bells_first_seq() -> None:
    seen = RedeliveryFilter()
    assert seen.first_time((4, 1))
    assert seen.first_time((5, 1))


def test_keys() -> None:
    key = generate_key()
    assert len(key) == 64
    assert normalize_key(f"  {key.upper()} ") == key
    assert generate_key() != key
    for bad in ("", "xyz", "11" * 31, "g" * 64):
        with pytest.raises(InvalidKey):
            normalize_key(bad)


@pytest.mark.parametrize(
    ("topic", "problem"),
    [
        ("SunFounder MQTT Test", None),
        ("bells/dining room/π", None),
        ("", "empty"),
        ("a/+/b", "wildcard"),
        ("a/#", "wildcard"),
        ("a\x00b", "nul"),
        ("é" * 32768, "too_long"),
    ],
)
def test_validate_topic(topic: str, problem: str | None) -> None:
    assert validate_topic(topic) == problem
