"""The calls feedback from Home Assistant: accepted per the protocol, hostile input refused."""

import json
import random

from pico_bell import calls as calls_module
from pico_bell.calls import Calls
from pico_bell.signing import Signer, parse_key, signed_text

from .support import TEST_KEY

TOPIC = "bistro/bell/calls"


def signed_calls(boot, n, is_open, tables, key=TEST_KEY, topic=TOPIC):
    signer = Signer(parse_key(key))
    sig = signer.sign(signed_text(topic, boot, n, is_open, tables))
    return json.dumps(
        {"boot": boot, "n": n, "open": is_open, "tables": tables, "sig": sig}
    ).encode()


def check(calls, payload):
    """calls.handle(), with the rate limit out of the way (tested on its own below)."""
    calls._tokens = calls_module.BURST
    return calls.handle(payload)


def keyed(tables=4, boot=17):
    calls = Calls(TOPIC, tables, Signer(parse_key(TEST_KEY)))
    calls.start_boot(boot)
    return calls


def test_a_signed_message_for_this_boot_shows_the_tables():
    calls = keyed()
    assert calls.states == "iiii"
    assert calls.handle(signed_calls(17, 120, 1, "icai")) is None
    assert calls.states == "icai"
    assert calls.is_open
    assert [calls.state(table) for table in (1, 2, 3, 4)] == ["i", "c", "a", "i"]
    assert calls.handle(signed_calls(17, 121, 0, "iiii")) is None
    assert not calls.is_open


def test_older_or_repeated_messages_and_other_boots_change_nothing():
    calls = keyed()
    assert calls.handle(signed_calls(17, 120, 1, "cccc")) is None
    assert calls.handle(signed_calls(17, 120, 1, "iiii")) == "replay"
    assert calls.handle(signed_calls(17, 119, 1, "iiii")) == "replay"
    assert calls.handle(signed_calls(16, 500, 1, "iiii")) == "other_boot"  # Before reboot.
    assert calls.handle(signed_calls(18, 500, 1, "iiii")) == "other_boot"
    assert calls.states == "cccc"
    calls.start_boot(18)  # After a reboot, the integration starts over with the new boot.
    assert calls.handle(signed_calls(18, 121, 1, "aiii")) is None
    assert calls.states == "aiii"


def test_unsigned_tampered_and_foreign_messages_are_refused():
    calls = keyed()
    good = json.loads(signed_calls(17, 5, 1, "ciii"))
    unsigned = dict(good)
    del unsigned["sig"]
    assert calls.handle(json.dumps(unsigned).encode()) == "unsigned"
    tampered = dict(good, tables="cccc")
    assert calls.handle(json.dumps(tampered).encode()) == "bad_signature"
    assert calls.handle(signed_calls(17, 5, 1, "ciii", key="ab" * 32)) == "bad_signature"
    other_topic = signed_calls(17, 5, 1, "ciii", topic="other/bell/calls")
    assert calls.handle(other_topic) == "bad_signature"
    assert calls.states == "iiii"
    assert calls.refused == {"unsigned": 1, "bad_signature": 3}


def test_bounds_and_types():
    calls = keyed()
    for boot, n, is_open, tables in (
        (2**32, 1, 1, "iiii"),
        (-1, 1, 1, "iiii"),
        (17, 0, 1, "iiii"),
        (17, 2**32, 1, "iiii"),
        (17, 1, 2, "iiii"),
        (17, 1, 1, ""),
        (17, 1, 1, "i" * 17),
    ):
        message = {"boot": boot, "n": n, "open": is_open, "tables": tables, "sig": "0" * 64}
        assert check(calls, json.dumps(message).encode()) == "out_of_range", message
    for message in (
        {"boot": 17, "n": 1, "open": True, "tables": "iiii"},
        {"boot": 17.0, "n": 1, "open": 1, "tables": "iiii"},
        {"boot": "17", "n": 1, "open": 1, "tables": "iiii"},
        {"boot": 17, "n": 1, "open": 1, "tables": "ixii"},
        {"boot": 17, "n": 1, "open": 1, "tables": ["i"]},
        {"n": 1, "open": 1, "tables": "iiii"},
    ):
        assert check(calls, json.dumps(message).encode()) == "garbage", message
    for payload in (b"", b"[]", b"null", b"{", b"\xff\xfe", b"{}" + b" " * 1024, None):
        assert check(calls, payload) == "garbage", payload
    assert check(calls, b"[" * 1000 + b"]" * 1000) == "garbage"
    assert check(calls, b'{"boot": 1' + b"0" * 900 + b"}") == "garbage"


def test_fewer_or_more_tables_than_buttons():
    calls = keyed(tables=4)
    assert calls.handle(signed_calls(17, 1, 1, "ca")) is None
    assert calls.states == "caii"
    assert calls.handle(signed_calls(17, 2, 1, "iiiiaaaa")) is None
    assert calls.states == "iiii"


def test_an_unkeyed_bell_takes_any_well_formed_message():
    calls = Calls(TOPIC, 4)
    calls.start_boot(3)
    message = {"boot": 0, "n": 9, "open": 1, "tables": "icii"}
    assert calls.handle(json.dumps(message).encode()) is None
    assert calls.states == "icii"
    assert calls.handle(json.dumps(dict(message, tables="ccci", sig="zz")).encode()) is None
    assert calls.handle(b'{"boot": 0}') == "garbage"


def test_a_flood_is_refused_before_it_is_parsed():
    calls = keyed()
    results = [calls.handle(b"x" * 10) for _ in range(100)]
    assert results.count("garbage") == calls_module.BURST
    assert results.count("rate_limited") == 100 - calls_module.BURST


def test_random_bytes_never_raise():
    calls = Calls(TOPIC, 4)
    rng = random.Random(12345) if hasattr(random, "Random") else None
    pieces = [b"{", b"}", b'"boot":', b'"n":', b'"open":', b'"tables":', b'"icai"', b"1", b","]
    pieces += [b"-", b"e99", b"[", b"]", b"\xc3", b"\x00", b'"', b"\\u0000", b"999999999999"]
    for count in range(1500):
        calls._tokens = calls_module.BURST  # This test is about parsing, not the rate.
        if rng is not None:
            payload = b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 30)))
        else:
            payload = b"".join(pieces[(count * 7 + i) % len(pieces)] for i in range(count % 30))
        calls.handle(payload)
    assert sum(calls.refused.values()) + calls.accepted == 1500
