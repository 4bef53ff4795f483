"""Payload bytes: the JSON the integration parses (signed or not), and the tutorial's text."""

import json

from pico_bell.buttons import LONG_PRESS, PRESS
from pico_bell.payload import MAX_AGE_MS, press_payload, status_payload, status_topic
from pico_bell.presses import Press
from pico_bell.signing import Signer, parse_key, signed_text

from .support import TEST_KEY

TOPIC = "SunFounder MQTT Test"


def test_unsigned_json_has_fixed_member_order_and_parses():
    press = Press(3, PRESS, 42, pressed_at=1000)
    payload = press_payload(press, 1120, TOPIC, boot=17)
    assert payload == b'{"button": 3, "event": "press", "boot": 17, "seq": 42, "age_ms": 120}'
    assert json.loads(payload) == {
        "button": 3,
        "event": "press",
        "boot": 17,
        "seq": 42,
        "age_ms": 120,
    }


def test_signed_press_carries_the_signature_of_its_values():
    signer = Signer(parse_key(TEST_KEY))
    press = Press(3, PRESS, 42, pressed_at=1000)
    data = json.loads(press_payload(press, 1120, TOPIC, 17, signer))
    assert data["sig"] == signer.sign(b"SunFounder MQTT Test|3|press|17|42|120")
    assert len(data["sig"]) == 64
    assert set(data) == {"button", "event", "boot", "seq", "age_ms", "sig"}


def test_each_send_is_signed_again_with_its_own_age():
    signer = Signer(parse_key(TEST_KEY))
    press = Press(1, LONG_PRESS, 5, pressed_at=0)
    first = json.loads(press_payload(press, 1000, TOPIC, 2, signer))
    later = json.loads(press_payload(press, 61000, TOPIC, 2, signer))
    assert (first["age_ms"], later["age_ms"]) == (1000, 61000)
    assert first["sig"] != later["sig"]
    assert later["sig"] == signer.sign(signed_text(TOPIC, 1, "long_press", 2, 5, 61000))


def test_age_is_bounded_by_the_protocol():
    press = Press(1, PRESS, 5, pressed_at=10)
    assert json.loads(press_payload(press, 9, TOPIC, 1))["age_ms"] == 0
    week = 7 * MAX_AGE_MS
    assert json.loads(press_payload(press, week, TOPIC, 1))["age_ms"] == MAX_AGE_MS


def test_legacy_payload_is_the_tutorial_text_for_both_kinds():
    assert press_payload(Press(2, PRESS, 1, 0), 0, TOPIC, 1, legacy=True) == b"button 2 is pressed"
    long_press = Press(2, LONG_PRESS, 2, 0)
    assert press_payload(long_press, 0, TOPIC, 1, legacy=True) == b"button 2 is pressed"


def test_status_is_json_with_the_boot_and_signed_for_its_own_topic():
    assert status_payload("online", "t/status", 17) == b'{"state": "online", "boot": 17}'
    signer = Signer(parse_key(TEST_KEY))
    data = json.loads(status_payload("offline", "t/status", 17, signer))
    assert data["state"] == "offline"
    assert data["sig"] == signer.sign(b"t/status|offline|17")


def test_status_topic_sits_next_to_the_press_topic():
    assert status_topic("SunFounder MQTT Test") == "SunFounder MQTT Test/status"
