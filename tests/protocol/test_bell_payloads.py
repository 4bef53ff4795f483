"""Bell payload parsing, redelivery filtering and topic validation."""

from __future__ import annotations

import pytest

from custom_components.blynk_bell.protocol.bell import (
    InvalidPayload,
    Press,
    PressType,
    RedeliveryFilter,
    parse_press,
    parse_status,
    validate_topic,
)


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
        (b'{"button": 1, "seq": -3, "extra": [1, 2]}', Press(1, seq=-3)),
    ],
)
def test_parse_press_accepts(payload: bytes, expected: Press) -> None:
    assert parse_press(payload) == expected


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"\xc3\x28", "UTF-8"),
        (b"x" * 1025, "too large"),
        (b"button 1 is pressed please", "neither"),
        (b"{not json", "invalid JSON"),
        (b"[1]", "not an object"),
        (b'{"button": "1"}', "'button'"),
        (b'{"button": false}', "'button'"),
        (b'{"button": 1, "event": "tap"}', "unknown event"),
        (b'{"button": 1, "event": null}', "unknown event"),
        (b'{"button": 1, "seq": true}', "'seq'"),
        (b'{"button": 1, "age_ms": NaN}', "'age_ms'"),
        (b'{"button": 1, "age_ms": Infinity}', "'age_ms'"),
        (b'{"button": 1, "age_ms": -1}', "'age_ms'"),
    ],
)
def test_parse_press_rejects_with_a_reason(payload: bytes, reason: str) -> None:
    with pytest.raises(InvalidPayload, match=reason):
        parse_press(payload)


def test_parse_press_size_limit_is_inclusive() -> None:
    payload = b"button 1 is pressed".ljust(1024, b" ")
    assert parse_press(payload) == Press(1)


@pytest.mark.parametrize(
    ("payload", "expected"),
    [(b"online", True), (b"OFFLINE\n", False), (b"", None), (b"maybe", None), (b"\xff", None)],
)
def test_parse_status(payload: bytes, expected: bool | None) -> None:
    assert parse_status(payload) is expected


def test_redelivery_filter_remembers_a_bounded_window() -> None:
    seen = RedeliveryFilter(size=3)
    assert [seen.first_time(seq) for seq in (1, 2, 1, 3, 4)] == [True, True, False, True, True]
    # Adding 4 pushed out 2, the least recently seen (1 was refreshed by its repeat).
    assert seen.first_time(3) is False
    assert seen.first_time(2) is True


def test_redelivery_filter_accepts_a_rebooted_bells_lower_seq() -> None:
    seen = RedeliveryFilter()
    assert seen.first_time(5_000_000)
    assert seen.first_time(12)


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
