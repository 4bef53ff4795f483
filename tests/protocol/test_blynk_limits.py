"""Blynk's per-device limits, from the device side: the emulator enforces them for real."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import itertools
import logging

import pytest

from blynk_emulator import BlynkCloud, Device
from custom_components.blynk_bell.protocol.blynk import BlynkDevice, BlynkListener, DeviceInfo
from custom_components.blynk_bell.protocol.mqtt import Endpoint
from custom_components.blynk_bell.protocol.outbox import MAX_MESSAGE_BYTES, message_size

from ..conftest import TOKEN


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations() -> None:
    """No Home Assistant needed here."""


@pytest.fixture
async def blynk(cloud: BlynkCloud) -> AsyncIterator[BlynkDevice]:
    device = BlynkDevice(Endpoint.from_url(cloud.url), TOKEN, BlynkListener(), DeviceInfo("1", "1"))
    device.start()
    async with asyncio.timeout(5):
        while not device.connected:  # Connected, and past the wait for a redirect.
            await asyncio.sleep(0.01)
    yield device
    await device.async_stop()


async def test_a_burst_is_paced_below_50_messages_a_second(
    blynk: BlynkDevice, cloud: BlynkCloud
) -> None:
    device: Device = cloud.device(TOKEN)
    await device.wait_for(lambda d: d.mcu_info is not None)
    lines = [f"line {number}\n" for number in range(150)]
    assert all(blynk.write_datastream("Terminal", line) for line in lines)

    await device.wait_for(
        lambda d: sum(p.topic == "ds/Terminal" for p in d.published) == 150, timeout=15
    )
    assert device.diags == []  # The cloud never complained...
    assert device.kicks == 0
    assert blynk.connected  # ...nor cut us off.
    terminal = [p for p in device.published if p.topic == "ds/Terminal"]
    assert [p.payload for p in terminal] == lines  # All of them, in order.
    times = [p.time for p in device.published]
    # No one-second window holds 50 messages.
    assert all(later - earlier >= 1.0 for earlier, later in zip(times, times[49:], strict=False))


async def test_a_message_over_1024_bytes_is_not_sent(
    blynk: BlynkDevice, cloud: BlynkCloud, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    device = cloud.device(TOKEN)
    # The longest payload that fits: 1024 bytes with the topic and headers.
    length = max(n for n in range(1100) if message_size("ds/Terminal", b"x" * n) <= 1024)
    fits = "x" * length
    assert message_size("ds/Terminal", fits.encode()) == MAX_MESSAGE_BYTES

    assert not blynk.write_datastream("Terminal", fits + "x")
    assert "would exceed 1024 bytes" in caplog.text
    assert blynk.write_datastream("Terminal", fits)
    await device.wait_for(lambda d: d.value("Terminal") == fits)
    assert device.diags == []
    assert blynk.connected


def test_message_size_counts_the_headers() -> None:
    # Fixed header (1) + remaining length (1 or 2) + topic length (2) + topic + payload.
    assert message_size("ds/Power", b"1") == 1 + 1 + 2 + 8 + 1
    assert message_size("t", b"x" * 200) == 1 + 2 + 2 + 1 + 200
    sizes = [message_size("t", b"x" * n) for n in range(300)]
    assert all(b - a == 1 for a, b in itertools.pairwise(sizes) if b < 128 or a >= 130)
