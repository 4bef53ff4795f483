"""The firmware, run by the host runner, against a real Mosquitto and the integration."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import contextlib
from functools import partial
import os
from pathlib import Path
import signal
import sys

from homeassistant.core import HomeAssistant
from pico_host.runner import HostBell
from pytest_homeassistant_custom_component.common import MockConfigEntry
import trustme

from custom_components.blynk_bell.protocol.backoff import Backoff

from ..conftest import TOPIC
from ..helpers import state_of, wait_for
from ..mosquitto import Mosquitto
from .conftest import FIRMWARE
from .e2e import PressLog, Proxy


def calling(hass: HomeAssistant, table: int) -> str:
    return state_of(hass, f"binary_sensor.service_bell_table_{table}_calling")


def quick_reconnects(entry: MockConfigEntry) -> None:
    """Make Home Assistant's own link to the broker retry within a second."""
    entry.runtime_data.bell.link._backoff = Backoff(0.1, 0.5)


async def test_press_and_long_press_reach_home_assistant(
    hass: HomeAssistant, bell_entry: MockConfigEntry, make_bell: Callable[..., HostBell]
) -> None:
    seen = PressLog(hass)
    bell = make_bell()
    await bell.start()
    await bell.wait_connected()
    assert calling(hass, 2) == "off"

    press = await bell.press(2)
    await bell.wait_delivered(press)
    await wait_for(hass, lambda: len(seen.presses) == 1)
    event = hass.states.get("event.service_bell_table_2")
    assert event is not None
    assert event.attributes["event_type"] == "press"
    assert event.attributes["seq"] == press.seq
    assert 0 <= event.attributes["age_ms"] < 5000
    assert calling(hass, 2) == "on"

    long_press = await bell.long_press(2)  # The guest changed their mind.
    await bell.wait_delivered(long_press)
    await wait_for(hass, lambda: len(seen.presses) == 2)
    event = hass.states.get("event.service_bell_table_2")
    assert event is not None
    assert event.attributes["event_type"] == "long_press"
    assert event.attributes["seq"] == press.seq + 1
    assert calling(hass, 2) == "off"  # A long press cancels the call.
    seen.close()


async def test_legacy_text_rings_the_table(
    hass: HomeAssistant, bell_entry: MockConfigEntry, make_bell: Callable[..., HostBell]
) -> None:
    bell = make_bell(legacy=True)
    await bell.start()
    await bell.wait_connected()
    await bell.wait_delivered(await bell.press(4))
    await wait_for(hass, lambda: calling(hass, 4) == "on")
    event = hass.states.get("event.service_bell_table_4")
    assert event is not None
    assert event.attributes["event_type"] == "press"
    assert "seq" not in event.attributes  # The tutorial's text carries none.


async def test_bell_connected_follows_will_and_goodbye(
    hass: HomeAssistant, bell_entry: MockConfigEntry, make_bell: Callable[..., HostBell]
) -> None:
    def bell_connected() -> str:
        return state_of(hass, "binary_sensor.service_bell_bell_connected")

    bell = make_bell()
    await bell.start()
    await bell.wait_connected()
    await wait_for(hass, lambda: bell_connected() == "on")

    await bell.crash()  # Power cut: no DISCONNECT, so the broker publishes the will.
    await wait_for(hass, lambda: bell_connected() == "off")

    await bell.start()
    await wait_for(hass, lambda: bell_connected() == "on")
    await bell.stop()  # Clean stop: a retained "offline", then DISCONNECT.
    await wait_for(hass, lambda: bell_connected() == "off")


async def test_presses_while_wifi_is_down_arrive_in_order_afterwards(
    hass: HomeAssistant, bell_entry: MockConfigEntry, make_bell: Callable[..., HostBell]
) -> None:
    seen = PressLog(hass)
    bell_state = bell_entry.runtime_data.bell
    bell = make_bell()
    await bell.start()
    await wait_for(hass, lambda: bell_state.bell_online is True)

    bell.set_wifi(False)
    await bell.wait_until(lambda: not bell.connected)
    await wait_for(hass, lambda: bell_state.bell_online is False)  # The will fired.
    presses = [await bell.press(table) for table in (3, 1, 4, 1)]
    await asyncio.sleep(0.5)
    assert seen.presses == []
    assert bell.delivered == []

    bell.set_wifi(True)
    await bell.wait_delivered(presses)
    await wait_for(hass, lambda: len(seen.presses) == 4)
    assert [(p.table, p.seq) for p in seen.presses] == [(p.button, p.seq) for p in presses]
    assert all(p.age_ms is not None and p.age_ms >= 500 for p in seen.presses)
    assert bell_state.bell_online is True
    seen.close()


async def test_lost_pubacks_mean_resends_with_the_same_seq_and_no_duplicate_events(
    hass: HomeAssistant,
    bell_entry: MockConfigEntry,
    make_bell: Callable[..., HostBell],
    mosquitto: Mosquitto,
) -> None:
    seen = PressLog(hass)
    proxy = Proxy(mosquitto.host, mosquitto.port)
    await proxy.start()
    try:
        bell = make_bell(port=proxy.port)
        await bell.start()
        await bell.wait_connected()

        proxy.swallow_replies = True  # The broker gets our PUBLISHes; we hear no PUBACK.
        presses = [await bell.press(table) for table in (1, 2, 3)]
        # Home Assistant got them (the broker forwarded them), but the bell does not know.
        await wait_for(hass, lambda: len(seen.presses) == 3)
        await bell.wait_until(lambda: not bell.connected, timeout=15)
        assert bell.delivered == []

        proxy.swallow_replies = False
        await bell.wait_delivered(presses, timeout=15)
        assert bell.bell.stats["resent"] >= 3  # Sent again after reconnecting...
        log = await hass.async_add_executor_job(mosquitto.log.read_text)
        received = [
            line
            for line in log.splitlines()
            if f"Received PUBLISH from {bell.bell.client_id} " in line and f"'{TOPIC}'," in line
        ]
        assert len(received) >= 2 * len(presses), "the broker saw no repeats"
        assert any("(d1," in line for line in received)  # The DUP re-send on the old link.
        await asyncio.sleep(0.5)
        await hass.async_block_till_done()
        # ...and Home Assistant recognised the repeats by seq: one event per press.
        assert [p.seq for p in seen.presses] == [p.seq for p in presses]
    finally:
        await proxy.stop()
        seen.close()


async def test_host_runner_command_line(
    hass: HomeAssistant, bell_entry: MockConfigEntry, mosquitto: Mosquitto
) -> None:
    seen = PressLog(hass)
    bell_state = bell_entry.runtime_data.bell
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(FIRMWARE / "host_runner.py"),
        "--broker",
        mosquitto.host,
        "--port",
        str(mosquitto.port),
        "--topic",
        TOPIC,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdin is not None
    assert process.stdout is not None
    try:
        await wait_for(hass, lambda: bell_state.bell_online is True)
        process.stdin.write(b"3\n")
        await process.stdin.drain()
        await wait_for(hass, lambda: calling(hass, 3) == "on")
        process.stdin.write(b"L3\n")
        await process.stdin.drain()
        await wait_for(hass, lambda: len(seen.presses) == 2)
        assert [p.event_type for p in seen.presses] == ["press", "long_press"]
        process.stdin.write(b"q\n")
        await process.stdin.drain()
        async with asyncio.timeout(10):
            output = (await process.stdout.read()).decode()
            assert await process.wait() == 0
        assert ">>> delivered: button 3 press" in output
        assert ">>> delivered: button 3 long press" in output
        await wait_for(hass, lambda: bell_state.bell_online is False)  # Said goodbye.
    finally:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        seen.close()


async def test_host_runner_auto_mode_presses_by_itself(
    hass: HomeAssistant, bell_entry: MockConfigEntry, mosquitto: Mosquitto, tmp_path: Path
) -> None:
    seen = PressLog(hass)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(FIRMWARE / "host_runner.py"),
        "--broker",
        mosquitto.host,
        "--port",
        str(mosquitto.port),
        "--topic",
        TOPIC,
        "--auto",
        "--auto-interval",
        "0.3",
        "--quiet",
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        await wait_for(hass, lambda: len(seen.presses) >= 3, timeout=20)
        assert {p.event_type for p in seen.presses} == {"press"}
        assert all(1 <= p.table <= 4 for p in seen.presses)
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(10):
            assert await process.wait() == 0
        await wait_for(hass, lambda: bell_entry.runtime_data.bell.bell_online is False)
    finally:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        seen.close()


async def test_tls_and_login(
    hass: HomeAssistant, socket_enabled: None, tmp_path: Path, make_bell: Callable[..., HostBell]
) -> None:
    ca = trustme.CA()
    certificate = ca.issue_cert("127.0.0.1", "localhost")
    chain, key, ca_file = tmp_path / "chain.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    certificate.cert_chain_pems[0].write_to_path(chain)
    certificate.private_key_pem.write_to_path(key)
    ca.cert_pem.write_to_path(ca_file)
    broker = Mosquitto(tmp_path, users={"bell": "s3cret"}, tls=(chain, key, ca_file))
    await broker.start()
    try:
        # Building the TLS context reads files: do it off the event loop.
        good = await hass.async_add_executor_job(
            partial(
                make_bell,
                port=broker.port,
                tls=True,
                ca_file=str(ca_file),
                username="bell",
                password="s3cret",
            )
        )
        await good.start()
        await good.wait_connected()
        await good.wait_delivered(await good.press(1))  # The PUBACK came over TLS.

        lines: list[str] = []
        bad = await hass.async_add_executor_job(
            partial(
                make_bell,
                port=broker.port,
                tls=True,
                ca_file=str(ca_file),
                username="bell",
                password="wrong",
                sink=lines.append,
            )
        )
        await bad.start()
        await bad.wait_until(lambda: any("refused" in line for line in lines), timeout=10)
        assert not bad.connected
        assert not any("wrong" in line for line in lines)  # No password in the log.
    finally:
        await broker.stop()
