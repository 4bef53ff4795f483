"""Protocol version 2 on the host runner and a real Mosquitto: calls on the LEDs, health.

The calls messages are signed here with the integration's own `calls_text` and
published with mosquitto_pub, as Home Assistant would publish them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import json
import os
from pathlib import Path
import sys

from homeassistant.core import HomeAssistant
from pico_bell import VERSION
from pico_host.runner import HostBell
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.blynk_bell.protocol.signing import (
    calls_text,
    health_text,
    key_bytes,
    sign,
    signature_matches,
)

from ..conftest import TOPIC
from ..helpers import wait_for
from ..mosquitto import Mosquitto
from .conftest import FIRMWARE, KEY
from .e2e import PressLog
from .test_signed_end_to_end import FOREIGN_KEY, publish

CALLS = f"{TOPIC}/calls"


def calls_message(boot: int, n: int, tables: str, is_open: bool = True, key: str = KEY) -> bytes:
    text = calls_text(TOPIC, boot=boot, n=n, is_open=is_open, tables=tables)
    message = {"boot": boot, "n": n, "open": int(is_open), "tables": tables}
    return json.dumps({**message, "sig": sign(key_bytes(key), text)}).encode()


async def publish_calls(mosquitto: Mosquitto, payload: bytes) -> None:
    """Retained, QoS 1, as the integration publishes the calls."""
    process = await asyncio.create_subprocess_exec(
        "mosquitto_pub",
        *("-h", mosquitto.host, "-p", str(mosquitto.port), "-q", "1", "-r"),
        *("-t", CALLS, "-s"),
        stdin=asyncio.subprocess.PIPE,
    )
    await process.communicate(payload)
    assert process.returncode == 0


async def led_levels_seen(bell: HostBell, seconds: float = 1.2) -> list[set[int]]:
    seen: list[set[int]] = [set() for _ in bell.settings.LED_PINS]
    for _ in range(int(seconds / 0.05)):
        for index, level in enumerate(bell.table_led_levels):
            seen[index].add(level)
        await asyncio.sleep(0.05)
    return seen


async def test_signed_calls_show_on_the_runners_leds(
    mosquitto: Mosquitto, make_bell: Callable[..., HostBell]
) -> None:
    bell = make_bell(key=KEY, led_pins=True)
    await bell.start()
    await bell.wait_connected()
    assert bell.led_line() == "LEDs: 1 \u25cb 2 \u25cb 3 \u25cb 4 \u25cb"

    await publish_calls(mosquitto, calls_message(bell.boot, 1, "icai"))
    await bell.wait_until(lambda: bell.table_calls == "icai")
    assert bell.led_line() == "LEDs: 1 \u25cb 2 \u25d0 3 \u25cf 4 \u25cb"
    await asyncio.sleep(0.1)
    assert await led_levels_seen(bell) == [{0}, {0, 1}, {1}, {0}]  # Off, blinking, steady.

    # Someone else's message, an unsigned one, a replay of an older one: nothing changes.
    await publish(mosquitto, calls_message(bell.boot, 5, "cccc", key=FOREIGN_KEY), CALLS)
    unsigned = {"boot": bell.boot, "n": 6, "open": 1, "tables": "cccc"}
    await publish(mosquitto, json.dumps(unsigned).encode(), CALLS)
    await publish(mosquitto, calls_message(bell.boot, 1, "cccc"), CALLS)
    await asyncio.sleep(1)
    assert bell.table_calls == "icai"
    assert bell.bell.calls.refused == {"bad_signature": 1, "unsigned": 1, "replay": 1}

    await publish_calls(mosquitto, calls_message(bell.boot, 2, "iiii", is_open=False))
    await bell.wait_until(lambda: not bell.is_open)
    assert bell.led_line().endswith("(closed)")

    # After a reboot the retained message is of the old boot: it shows nothing until
    # a message for the new boot arrives.
    await bell.reboot()
    await bell.wait_connected()
    assert bell.boot == 2
    await asyncio.sleep(0.5)
    assert bell.table_calls == "iiii"
    assert bell.is_open
    assert bell.bell.calls.refused == {"other_boot": 1}
    await publish_calls(mosquitto, calls_message(2, 3, "aiii"))
    await bell.wait_until(lambda: bell.table_calls == "aiii")


async def test_health_goes_out_signed_after_connecting(
    mosquitto: Mosquitto, make_bell: Callable[..., HostBell]
) -> None:
    process = await asyncio.create_subprocess_exec(
        "mosquitto_sub",
        *("-h", mosquitto.host, "-p", str(mosquitto.port), "-t", f"{TOPIC}/health", "-C", "1"),
        stdout=asyncio.subprocess.PIPE,
    )
    await asyncio.sleep(0.3)
    bell = make_bell(key=KEY)
    await bell.start()
    output, _ = await asyncio.wait_for(process.communicate(), 10)
    health = json.loads(output)
    assert (health["boot"], health["n"], health["dropped"]) == (1, 1, 0)
    assert health["rssi"] == -61
    assert "vsys_mv" not in health
    text = health_text(
        TOPIC,
        boot=1,
        n=1,
        firmware=health["fw"],
        rssi=-61,
        uptime_s=health["uptime_s"],
        dropped=0,
        vsys_mv=None,
    )
    assert signature_matches(key_bytes(KEY), text, health["sig"])


async def test_double_press_reaches_home_assistant(
    hass: HomeAssistant, bell_entry: MockConfigEntry, make_bell: Callable[..., HostBell]
) -> None:
    seen = PressLog(hass)
    bell = make_bell()
    await bell.start()
    await bell.wait_connected()
    press = await bell.double_press(3)
    assert press.kind == "double_press"
    await bell.wait_delivered(press)
    await wait_for(hass, lambda: len(seen.presses) == 1)
    assert seen.presses[0].event_type == "double_press"
    assert seen.presses[0].table == 3
    seen.close()


async def test_the_runners_terminal_shows_the_leds(mosquitto: Mosquitto, tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(FIRMWARE / "host_runner.py"),
        *("--broker", mosquitto.host, "--port", str(mosquitto.port), "--topic", TOPIC),
        *("--state", str(tmp_path / "flash.txt")),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "BELL_KEY": KEY, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdin is not None
    assert process.stdout is not None
    lines: list[str] = []

    async def read_until(text: str) -> None:
        assert process.stdout is not None
        async with asyncio.timeout(15):
            while not any(text in line for line in lines):
                line = (await process.stdout.readline()).decode()
                assert line, "the runner stopped:\n" + "".join(lines)
                lines.append(line)

    try:
        await read_until("MQTT: connected")
        await publish_calls(mosquitto, calls_message(1, 7, "icai"))
        await read_until("LEDs: 1 \u25cb 2 \u25d0 3 \u25cf 4 \u25cb")
        process.stdin.write(b"q\n")
        await process.stdin.drain()
        async with asyncio.timeout(10):
            await process.wait()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_home_assistant_and_the_bell_close_the_loop(
    hass: HomeAssistant, keyed_entry: MockConfigEntry, make_bell: Callable[..., HostBell]
) -> None:
    """A guest presses, sees the call blink, then steady once a waiter acknowledges it."""
    service_bell = keyed_entry.runtime_data.bell
    bell = make_bell(key=KEY, led_pins=True, settings={"BATTERY": True})
    bell.machine.vsys_mv = 3900
    await bell.start()
    await bell.wait_connected()
    await wait_for(hass, lambda: service_bell.health is not None)
    health = service_bell.health
    assert health is not None
    assert (health.boot, health.firmware, health.rssi) == (1, VERSION, -61)
    assert health.vsys_mv is not None
    assert abs(health.vsys_mv - 3900) <= 5

    await bell.wait_delivered(await bell.press(2))
    await bell.wait_until(lambda: bell.table_calls == "icii", timeout=10)
    await asyncio.sleep(0.1)
    assert (await led_levels_seen(bell))[1] == {0, 1}  # Table 2 blinks: the call arrived.

    await hass.services.async_call(
        "button", "press", {"entity_id": "button.service_bell_acknowledge_table_2"}, blocking=True
    )
    await bell.wait_until(lambda: bell.table_calls == "iaii", timeout=10)
    await asyncio.sleep(0.1)
    assert (await led_levels_seen(bell))[1] == {1}  # Steady: a waiter is on the way.

    await hass.services.async_call(
        "switch", "turn_off", {"entity_id": "switch.service_bell_bell_active"}, blocking=True
    )
    await bell.wait_until(lambda: not bell.is_open, timeout=10)
    assert bell.led_line().endswith("(closed)")
