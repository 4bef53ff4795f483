"""Fuzzing the whole message path: generated messages into the bell's real handler.

Hypothesis generates payloads shaped like what reaches the bell topic (the tutorial's
text, our JSON with every member of every type and size, signed and tampered ones, and
raw bytes) and feeds them to the handler the MQTT link calls, on a loaded entry. After
the run no exception has escaped, nothing was logged at ERROR, every state Home
Assistant holds can be stored, and a normal press still works.

`scripts/bench-fuzz` runs the same test with 100,000 inputs and prints the figures; in
CI it runs `FUZZ_EXAMPLES` (2,000 by default).
"""

from __future__ import annotations

from collections.abc import Callable
import json
import logging
import os
import time
from typing import Any

from homeassistant.const import STATE_ON
from homeassistant.core import HomeAssistant
from homeassistant.helpers.json import json_bytes
from hypothesis import HealthCheck, given, settings, strategies as st
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.blynk_bell.const import CONF_BELL_KEY
from custom_components.blynk_bell.protocol.mqtt import Message
from custom_components.blynk_bell.protocol.signing import key_bytes, press_text, sign

from .conftest import TOPIC
from .helpers import state_of, wait_for
from .mosquitto import Mosquitto
from .test_bell import CALLING

KEY = "0f" * 32
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "2000"))

_numbers = st.one_of(
    st.integers(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.sampled_from([0, 1, 4, 16, 17, 2**32 - 1, 2**32, 86_400_000, 86_400_001, -1]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
)
_values = st.recursive(
    st.one_of(st.none(), _numbers, st.text(max_size=20)),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=5,
)
_members = st.sampled_from(["button", "event", "boot", "seq", "age_ms", "sig", "dropped", "x"])
_events = st.sampled_from(["press", "long_press", "double_press", "tap", "", "PRESS"])


@st.composite
def _press_objects(draw: st.DrawFn) -> dict[str, Any]:
    data: dict[str, Any] = draw(st.dictionaries(_members, _values, max_size=7))
    if draw(st.booleans()):
        data["button"] = draw(st.integers(min_value=-2, max_value=20))
    if draw(st.booleans()):
        data["event"] = draw(_events)
    return data


@st.composite
def _signed(draw: st.DrawFn) -> bytes:
    """A press signed with the bell's key (sometimes another), then maybe tampered."""
    button = draw(st.integers(min_value=1, max_value=4))
    event = draw(st.sampled_from(["press", "long_press", "double_press"]))
    boot = draw(st.integers(min_value=0, max_value=2**32 - 1))
    seq = draw(st.integers(min_value=1, max_value=2**32 - 1))
    age = draw(st.integers(min_value=0, max_value=86_400_000))
    key = key_bytes(draw(st.sampled_from([KEY, "f0" * 32])))
    text = press_text(TOPIC, button=button, event=event, boot=boot, seq=seq, age_ms=age)
    payload = json.dumps(
        {
            "button": button,
            "event": event,
            "boot": boot,
            "seq": seq,
            "age_ms": age,
            "sig": sign(key, text),
        }
    ).encode()
    if draw(st.booleans()) and payload:
        index = draw(st.integers(min_value=0, max_value=len(payload) - 1))
        payload = payload[:index] + bytes([draw(st.integers(0, 255))]) + payload[index + 1 :]
    return payload


PAYLOADS = st.one_of(
    st.binary(max_size=1100),
    st.text(max_size=200).map(str.encode),
    st.from_regex(r"\s*button\s+-?\d{0,8}\s+is\s+pressed\s*", fullmatch=True).map(str.encode),
    _press_objects().map(lambda data: json.dumps(data).encode()),
    _values.map(lambda value: json.dumps(value).encode()),
    _signed(),
    st.sampled_from([b"{" * 2000, b"[" * 600 + b"]" * 600, b'{"button": 1e999}', b"\xff" * 1025]),
)
TOPICS = st.sampled_from([TOPIC, f"{TOPIC}/status", "elsewhere"])


class Findings:
    """What the run counted."""

    def __init__(self) -> None:
        self.tried = 0
        self.escaped: list[tuple[bytes, BaseException]] = []


@pytest.mark.parametrize("keyed", [False, True], ids=["unkeyed", "keyed"])
async def test_generated_messages_never_break_the_bell(
    hass: HomeAssistant,
    mosquitto: Mosquitto,
    bell_data: dict[str, Any],
    make_entry: Callable[..., MockConfigEntry],
    caplog: pytest.LogCaptureFixture,
    keyed: bool,
) -> None:
    caplog.set_level(logging.INFO)
    entry = make_entry({**bell_data, CONF_BELL_KEY: KEY if keyed else ""})
    assert await hass.config_entries.async_setup(entry.entry_id)
    await wait_for(hass, lambda: entry.runtime_data.bell.available)
    bell = entry.runtime_data.bell
    handle = bell.link._on_message  # What the MQTT link calls for every message.
    findings = Findings()

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(payload=PAYLOADS, topic=TOPICS, retain=st.booleans())
    def feed(payload: bytes, topic: str, retain: bool) -> None:
        findings.tried += 1
        try:
            handle(Message(topic, payload, qos=1, retain=retain))
        except Exception as err:  # noqa: BLE001 - counting is the point
            findings.escaped.append((payload, err))

    started = time.monotonic()
    feed()
    elapsed = time.monotonic() - started
    await hass.async_block_till_done()

    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    rejected = dict(bell.gate.rejected)
    print(  # noqa: T201 - the bench's report
        f"\nfuzz ({'keyed' if keyed else 'unkeyed'} bell): {findings.tried} inputs in "
        f"{elapsed:.1f} s ({findings.tried / elapsed:.0f}/s); exceptions escaped "
        f"{len(findings.escaped)}; ERROR logs {len(errors)}; accepted {bell.gate.accepted}; "
        f"rejected {sum(rejected.values())} {rejected}"
    )
    assert findings.tried >= EXAMPLES
    assert findings.escaped == []
    assert errors == []
    # Every state Home Assistant holds can still be stored (and restored).
    for state in hass.states.async_all():
        json_bytes(state.as_dict())
        json_bytes(state.as_compressed_state)

    # A normal press still works afterwards.
    await hass.config_entries.async_reload(entry.entry_id)
    await wait_for(hass, lambda: entry.runtime_data.bell.available)
    for table in range(1, 5):
        entry.runtime_data.bell.acknowledge(table)
    key = KEY
    if keyed:
        last_boot, last_seq = entry.runtime_data.bell.gate.memory.last_press or (0, 0)
        # The next press after the last accepted one (the fuzz may have reached 2**32 - 1).
        boot, seq = (last_boot, last_seq + 1) if last_seq < 2**32 - 1 else (last_boot + 1, 1)
        if boot > 2**32 - 1:
            # The fuzz signed the very last (boot, seq) there is: only a new key (a new
            # bell's history) can go on, as the README tells a user in that case.
            key, boot, seq = "e1" * 32, 0, 1
            hass.config_entries.async_update_entry(entry, data={**entry.data, CONF_BELL_KEY: key})
            await hass.config_entries.async_reload(entry.entry_id)
            await wait_for(hass, lambda: entry.runtime_data.bell.available)
        text = press_text(TOPIC, button=2, event="press", boot=boot, seq=seq, age_ms=0)
        payload = json.dumps(
            {
                "button": 2,
                "event": "press",
                "boot": boot,
                "seq": seq,
                "age_ms": 0,
                "sig": sign(key_bytes(key), text),
            }
        )
    else:
        payload = json.dumps({"button": 2, "event": "press", "seq": 2**32 - 7, "boot": 2**32 - 1})
    await mosquitto.publish(TOPIC, payload)
    gate = entry.runtime_data.bell.gate
    try:
        await wait_for(hass, lambda: state_of(hass, CALLING.format(2)) == STATE_ON)
    except AssertionError as err:
        desk = entry.runtime_data.bell.desk
        raise AssertionError(
            f"{payload} did not call: {gate.memory}, rejected {dict(gate.rejected)}, "
            f"call {desk.calls[2]}, active {desk.active}"
        ) from err
