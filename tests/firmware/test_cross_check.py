"""What one side signs, the other accepts: and nothing else.

The firmware's code runs in MicroPython (WebAssembly, in Node.js). Its presses, status
and health are checked here by the integration's own code
(custom_components/blynk_bell/protocol), and the calls messages the integration signs
are checked by the firmware.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from custom_components.blynk_bell.protocol.bell import (
    BellStatus,
    PressType,
    Rejected,
    parse_press,
    parse_status,
)
from custom_components.blynk_bell.protocol.signing import (
    calls_text,
    health_text,
    key_bytes,
    sign,
    signature_matches,
)

from .micropython import require_micropython, run_script

KEY = "3f1c0e5a9b7d2c4e6f8a1b3c5d7e9f0a2b4c6d8e0f1a3b5c7d9e1f2a4b6c8d9a"
OTHER_KEY = "ab" * 32
TOPICS = ["SunFounder MQTT Test", "blynk-bell/7Qx2", "caf\u00e9/tables \u2615"]
# (button, event, boot, seq, pressed_at, now): the edges of every range.
PRESSES = [
    (1, "press", 1, 1, 0, 0),
    (3, "long_press", 17, 42, 1000, 1120),
    (16, "press", 4294967295, 4294967295, 0, 86400000),
    (4, "press", 2, 7, 0, 10 * 86400000),  # Older than a day: sent as a day old.
]

SCRIPT = """
import json
from pico_bell.payload import press_payload, status_payload
from pico_bell.presses import Press
from pico_bell.signing import Signer, parse_key

signer = Signer(parse_key(%(key)r))
for topic in %(topics)r:
    for button, kind, boot, seq, pressed_at, now in %(presses)r:
        press = Press(button, kind, seq, pressed_at)
        for key in (signer, None):
            payload = press_payload(press, now, topic, boot, key)
            print("@@PRESS " + json.dumps([topic, key is not None, payload.decode()]))
    for state in ("online", "offline"):
        for boot in (0, 17, 4294967295):
            payload = status_payload(state, topic + "/status", boot, signer)
            print("@@STATUS " + json.dumps([topic, state, boot, payload.decode()]))
"""


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations() -> None:
    """No Home Assistant needed here."""


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[list]]:
    node = require_micropython()
    source = SCRIPT % {"key": KEY, "topics": TOPICS, "presses": PRESSES}
    output = run_script(node, source, Path(tmp_path_factory.mktemp("cross_check")))
    found: dict[str, list[list]] = {"press": [], "status": []}
    for line in output.splitlines():
        if line.startswith("@@PRESS "):
            found["press"].append(json.loads(line.removeprefix("@@PRESS ")))
        elif line.startswith("@@STATUS "):
            found["status"].append(json.loads(line.removeprefix("@@STATUS ")))
    assert len(found["press"]) == 2 * len(TOPICS) * len(PRESSES), output[-2000:]
    return found


def changed_bytes(payload: bytes) -> list[bytes]:
    """Every copy of `payload` with one byte of a value changed (a digit, or a letter of
    a text value such as the event or the signature), still well-formed JSON."""
    copies = []
    in_value = in_string = False
    previous = ""
    for index, byte in enumerate(payload):
        char = chr(byte)
        if char == '"':
            in_value = not in_string and previous == ":"
            in_string = not in_string
            continue
        if not in_string and not char.isspace():
            previous = char
        if char.isdigit() and (in_value or not in_string):
            replacement = "1" if char != "1" else "2"
        elif in_value and char.isalpha():
            replacement = "a" if char != "a" else "b"
        else:
            continue
        copies.append(payload[:index] + replacement.encode() + payload[index + 1 :])
    return copies


def test_signed_presses_are_accepted_by_the_integration(signed: dict[str, list[list]]) -> None:
    key = key_bytes(KEY)
    rows = [row for row in signed["press"] if row[1]]
    assert len(rows) == len(TOPICS) * len(PRESSES)
    for (topic, _keyed, text), spec in zip(rows, PRESSES * len(TOPICS), strict=True):
        button, event, boot, seq, pressed_at, now = spec
        press = parse_press(text.encode(), topic=topic, key=key)
        assert press.signed
        assert (press.button, press.type, press.boot, press.seq) == (
            button,
            PressType(event),
            boot,
            seq,
        )
        assert press.age_ms == min(now - pressed_at, 86_400_000)


def test_one_changed_byte_is_refused(signed: dict[str, list[list]]) -> None:
    key = key_bytes(KEY)
    tried = 0
    for topic, keyed, text in signed["press"]:
        if not keyed:
            continue
        copies = changed_bytes(text.encode())
        assert len(copies) > 64 + 5  # The signature and at least a digit of each number.
        for copy in copies:
            with pytest.raises(Rejected):
                parse_press(copy, topic=topic, key=key)
            tried += 1
    assert tried > len(TOPICS) * len(PRESSES) * 69


def test_another_key_or_topic_is_refused(signed: dict[str, list[list]]) -> None:
    for topic, keyed, text in signed["press"]:
        if not keyed:
            continue
        with pytest.raises(Rejected, match="signature"):
            parse_press(text.encode(), topic=topic, key=key_bytes(OTHER_KEY))
        with pytest.raises(Rejected, match="signature"):
            parse_press(text.encode(), topic=topic + "x", key=key_bytes(KEY))


def test_unsigned_presses_are_what_an_unkeyed_integration_reads(
    signed: dict[str, list[list]],
) -> None:
    for topic, keyed, text in signed["press"]:
        if keyed:
            continue
        press = parse_press(text.encode(), topic=topic)
        assert not press.signed
        assert press.boot is not None
        assert press.seq is not None
        with pytest.raises(Rejected, match="unsigned"):
            parse_press(text.encode(), topic=topic, key=key_bytes(KEY))


def test_signed_status_and_will_are_accepted_and_tampering_refused(
    signed: dict[str, list[list]],
) -> None:
    key = key_bytes(KEY)
    for topic, state, boot, text in signed["status"]:
        payload = text.encode()
        assert parse_status(payload, topic=topic, key=key) == BellStatus(state == "online", boot)
        for copy in changed_bytes(payload):
            with pytest.raises(Rejected):
                parse_status(copy, topic=topic, key=key)
        with pytest.raises(Rejected, match="signature"):
            parse_status(payload, topic=topic, key=key_bytes(OTHER_KEY))


# Protocol version 2 ---------------------------------------------------------------------

CALLS_SCRIPT = """
import json
from pico_bell import calls as calls_module
from pico_bell.calls import Calls
from pico_bell.health import health_payload
from pico_bell.signing import Signer, parse_key

signer = Signer(parse_key(%(key)r))
for topic, boot, payload in %(calls)r:
    calls = Calls(topic + "/calls", 16, signer)
    calls.start_boot(boot)
    reason = calls.handle(payload.encode())
    print("@@CALLS " + json.dumps([reason, calls.states, calls.is_open]))
for topic in %(topics)r:
    for values in %(health)r:
        payload = health_payload(topic + "/health", *values, signer=signer)
        print("@@HEALTH " + json.dumps([topic, payload.decode()]))
"""
HEALTH = [
    (17, 3, "1.2.0", -61, 3600, 0, 3920),
    (1, 1, "1.2.0+dev", -120, 0, 4294967295, None),
    (4294967295, 4294967295, "1.2.0", 0, 4294967295, 2, 0),
]


def calls_message(topic: str, boot: int, n: int, is_open: bool, tables: str) -> str:
    """A calls message as the integration signs it (protocol/signing.py)."""
    text = calls_text(topic, boot=boot, n=n, is_open=is_open, tables=tables)
    return json.dumps(
        {
            "boot": boot,
            "n": n,
            "open": int(is_open),
            "tables": tables,
            "sig": sign(key_bytes(KEY), text),
        }
    )


@pytest.fixture(scope="module")
def version_2(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list]:
    calls = []
    for topic in TOPICS:
        for boot, n, is_open, tables in (
            (17, 120, True, "icai"),
            (0, 1, False, "i"),
            (3, 4294967295, True, "c" * 16),
        ):
            message = calls_message(topic, boot, n, is_open, tables)
            calls.append(("ok", tables, is_open, [topic, boot, message]))
            calls.extend(
                ("refused", tables, is_open, [topic, boot, copy.decode()])
                for copy in changed_bytes(message.encode())
            )
    node = require_micropython()
    source = CALLS_SCRIPT % {
        "key": KEY,
        "calls": [case[3] for case in calls],
        "topics": TOPICS,
        "health": HEALTH,
    }
    output = run_script(node, source, Path(tmp_path_factory.mktemp("cross_check_2")))
    results = [json.loads(line[8:]) for line in output.splitlines() if line.startswith("@@CALLS ")]
    health = [json.loads(line[9:]) for line in output.splitlines() if line.startswith("@@HEALTH ")]
    assert len(results) == len(calls), output[-2000:]
    return {"calls": list(zip(calls, results, strict=True)), "health": health}


def test_the_integrations_signed_calls_are_accepted_by_the_firmware(
    version_2: dict[str, list],
) -> None:
    accepted = [(case, result) for case, result in version_2["calls"] if case[0] == "ok"]
    assert len(accepted) == 3 * len(TOPICS)
    for (_kind, tables, is_open, _message), (reason, states, shown_open) in accepted:
        assert reason is None
        assert states == (tables + "i" * 16)[:16]
        assert shown_open is is_open


def test_a_calls_message_with_one_changed_byte_is_refused_by_the_firmware(
    version_2: dict[str, list],
) -> None:
    refused = [(case, result) for case, result in version_2["calls"] if case[0] == "refused"]
    assert len(refused) > 3 * len(TOPICS) * 64
    for case, (reason, states, _open) in refused:
        assert reason is not None, case[3]
        assert states == "i" * 16  # Nothing shown.


def test_the_firmwares_health_is_signed_as_the_integration_checks_it(
    version_2: dict[str, list],
) -> None:
    assert len(version_2["health"]) == len(TOPICS) * len(HEALTH)
    for (topic, text), values in zip(version_2["health"], HEALTH * len(TOPICS), strict=True):
        data = json.loads(text)
        boot, n, firmware, rssi, uptime_s, dropped, vsys_mv = values
        assert data.get("vsys_mv") == vsys_mv
        signed = health_text(
            topic,
            boot=boot,
            n=n,
            firmware=firmware,
            rssi=rssi,
            uptime_s=uptime_s,
            dropped=dropped,
            vsys_mv=vsys_mv,
        )
        assert signature_matches(key_bytes(KEY), signed, data["sig"])
        assert not signature_matches(key_bytes(OTHER_KEY), signed, data["sig"])
