"""A keyed bell on a real Mosquitto: only its own fresh, signed presses act.

The integration is set up with `bell_key`; the firmware runs on the host runner with
the same BELL_KEY. Everything else on the topic (an unkeyed bell, another kit with its
own key, a recorded press sent again, a tampered copy, an older boot) changes nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import json
import os
from pathlib import Path
import sys

from homeassistant.core import HomeAssistant
from pico_host.runner import HostBell
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.blynk_bell.protocol.signing import key_bytes, press_text, sign

from ..conftest import TOPIC
from ..helpers import wait_for
from ..mosquitto import Mosquitto
from .conftest import FIRMWARE, KEY
from .e2e import PressLog
from .test_end_to_end import calling

FOREIGN_KEY = "c0ffee" * 10 + "abcd"


async def publish(mosquitto: Mosquitto, payload: bytes, topic: str = TOPIC) -> None:
    """Publish as a stranger on the broker would, with mosquitto_pub."""
    process = await asyncio.create_subprocess_exec(
        "mosquitto_pub",
        *("-h", mosquitto.host, "-p", str(mosquitto.port), "-q", "1"),
        *("-t", topic, "-s"),
        stdin=asyncio.subprocess.PIPE,
    )
    await process.communicate(payload)
    assert process.returncode == 0


async def record_next(mosquitto: Mosquitto, topic: str = TOPIC) -> asyncio.Task[bytes]:
    """Start recording the next message on `topic`, as an eavesdropper on the broker."""
    process = await asyncio.create_subprocess_exec(
        "mosquitto_sub",
        *("-h", mosquitto.host, "-p", str(mosquitto.port), "-t", topic, "-C", "1"),
        stdout=asyncio.subprocess.PIPE,
    )
    await asyncio.sleep(0.3)  # Subscribed before anything is pressed.

    async def read() -> bytes:
        output, _ = await process.communicate()
        return output.rstrip(b"\n")

    return asyncio.create_task(read())


async def test_keyed_bell_rings_and_keeps_working_after_a_reboot(
    hass: HomeAssistant, keyed_entry: MockConfigEntry, make_bell: Callable[..., HostBell]
) -> None:
    seen = PressLog(hass)
    bell_state = keyed_entry.runtime_data.bell
    bell = make_bell(key=KEY)
    await bell.start()
    await bell.wait_connected()
    await wait_for(hass, lambda: bell_state.bell_online is True)  # The signed status.
    assert bell.boot == 1

    await bell.wait_delivered(await bell.press(2))
    await wait_for(hass, lambda: calling(hass, 2) == "on")
    await bell.wait_delivered(await bell.long_press(2))
    await wait_for(hass, lambda: calling(hass, 2) == "off")

    await bell.crash()  # Power cut: the broker publishes the signed will of boot 1.
    await wait_for(hass, lambda: bell_state.bell_online is False)
    await bell.start()  # Boot 2: seq starts at 1 again, newer because boot is higher.
    await bell.wait_connected()
    assert bell.boot == 2
    await wait_for(hass, lambda: bell_state.bell_online is True)
    press = await bell.press(3)
    assert press.seq == 1
    await bell.wait_delivered(press)
    await wait_for(hass, lambda: calling(hass, 3) == "on")
    assert [(p.table, p.event_type, p.seq) for p in seen.presses] == [
        (2, "press", 1),
        (2, "long_press", 2),
        (3, "press", 1),
    ]
    seen.close()


async def test_unsigned_foreign_replayed_tampered_and_old_presses_are_ignored(
    hass: HomeAssistant,
    keyed_entry: MockConfigEntry,
    make_bell: Callable[..., HostBell],
    mosquitto: Mosquitto,
) -> None:
    seen = PressLog(hass)
    bell = make_bell(key=KEY)
    await bell.start()
    await bell.wait_connected()
    recording = await record_next(mosquitto)
    await bell.wait_delivered(await bell.press(1))
    await wait_for(hass, lambda: len(seen.presses) == 1)
    recorded = await asyncio.wait_for(recording, 10)
    assert json.loads(recorded)["button"] == 1

    # A tutorial-style bell without a key, and another kit with its own key.
    strangers = [make_bell(), make_bell(key=FOREIGN_KEY)]
    for stranger in strangers:
        await stranger.start()
        await stranger.wait_connected()
        await stranger.wait_delivered(await stranger.press(4))
    # Someone sends the recorded press again, a tampered copy of it, and presses
    # signed with the right key but for another topic, or for an older boot.
    await publish(mosquitto, recorded)
    tampered = json.loads(recorded)
    tampered["button"] = 4
    await publish(mosquitto, json.dumps(tampered).encode())
    key = key_bytes(KEY)
    for topic, boot in (("another/topic", 1), (TOPIC, 0)):
        values = {"button": 4, "event": "press", "boot": boot, "seq": 99, "age_ms": 0}
        signature = sign(key, press_text(topic, **values))  # type: ignore[arg-type]
        await publish(mosquitto, json.dumps({**values, "sig": signature}).encode())
    await publish(mosquitto, b"button 4 is pressed")  # The tutorial's text.
    await asyncio.sleep(1)
    await hass.async_block_till_done()
    assert calling(hass, 4) == "off"
    assert [p.table for p in seen.presses] == [1]

    # The real bell still rings.
    await bell.wait_delivered(await bell.press(4))
    await wait_for(hass, lambda: calling(hass, 4) == "on")
    assert [(p.table, p.seq) for p in seen.presses] == [(1, 1), (4, 2)]
    seen.close()


async def test_host_runner_takes_the_key_and_counts_boots_in_its_state_file(
    hass: HomeAssistant, keyed_entry: MockConfigEntry, mosquitto: Mosquitto, tmp_path: Path
) -> None:
    state = tmp_path / "bell-flash.txt"
    for expected_boot in (1, 2):
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(FIRMWARE / "host_runner.py"),
            *("--broker", mosquitto.host, "--port", str(mosquitto.port), "--topic", TOPIC),
            *("--state", str(state)),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, "BELL_KEY": KEY, "PYTHONUNBUFFERED": "1"},
        )
        assert process.stdin is not None
        assert process.stdout is not None
        try:
            await wait_for(hass, lambda: keyed_entry.runtime_data.bell.bell_online is True)
            process.stdin.write(f"{expected_boot}\n".encode())
            await process.stdin.drain()
            await wait_for(hass, lambda b=expected_boot: calling(hass, b) == "on")
            process.stdin.write(b"q\n")
            await process.stdin.drain()
            async with asyncio.timeout(10):
                output = (await process.stdout.read()).decode()
                assert await process.wait() == 0
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
        assert f"boot {expected_boot}" in output
        assert KEY not in output
        assert "signed JSON" in output
        assert state.read_text() == f"{expected_boot}\n"
        await wait_for(hass, lambda: keyed_entry.runtime_data.bell.bell_online is False)
