"""Payload bytes: the JSON the integration parses, and the tutorial's text."""

import json

from pico_bell.buttons import LONG_PRESS, PRESS
from pico_bell.payload import press_payload, status_topic
from pico_bell.presses import Press


def test_json_payload_has_fixed_key_order_and_parses():
    press = Press(3, PRESS, 123456789, pressed_at=1000)
    payload = press_payload(press, now=1250)
    assert payload == b'{"button": 3, "event": "press", "seq": 123456789, "age_ms": 250}'
    assert json.loads(payload) == {"button": 3, "event": "press", "seq": 123456789, "age_ms": 250}


def test_age_is_recomputed_for_each_send():
    press = Press(1, LONG_PRESS, 5, pressed_at=0)
    assert json.loads(press_payload(press, 1000))["age_ms"] == 1000
    assert json.loads(press_payload(press, 61000))["age_ms"] == 61000
    assert json.loads(press_payload(press, 61000))["event"] == "long_press"


def test_age_is_never_negative():
    assert json.loads(press_payload(Press(1, PRESS, 5, pressed_at=10), 9))["age_ms"] == 0


def test_dropped_count_is_included_only_when_there_is_one():
    press = Press(4, PRESS, 7, pressed_at=0)
    press.dropped = 12
    data = json.loads(press_payload(press, 5))
    assert data == {"button": 4, "event": "press", "seq": 7, "age_ms": 5, "dropped": 12}


def test_legacy_payload_is_the_tutorial_text_for_both_kinds():
    assert press_payload(Press(2, PRESS, 1, 0), 0, legacy=True) == b"button 2 is pressed"
    assert press_payload(Press(2, LONG_PRESS, 2, 0), 0, legacy=True) == b"button 2 is pressed"


def test_status_topic_sits_next_to_the_press_topic():
    assert status_topic("SunFounder MQTT Test") == "SunFounder MQTT Test/status"
