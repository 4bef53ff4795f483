"""Mosquitto stops and starts again while guests press: no press lost, none doubled."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from homeassistant.core import HomeAssistant
from pico_host.runner import HostBell
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.blynk_bell.protocol.backoff import Backoff

from ..helpers import wait_for
from ..mosquitto import Mosquitto
from .e2e import PressLog


@pytest.fixture
async def mosquitto(socket_enabled: None, tmp_path: Path) -> AsyncIterator[Mosquitto]:
    """A broker that keeps Home Assistant's QoS 1 session and queue across restarts."""
    broker = Mosquitto(tmp_path, persistent=True)
    await broker.start()
    yield broker
    await broker.stop()


async def test_broker_restart_loses_no_press_and_duplicates_none(
    hass: HomeAssistant,
    bell_entry: MockConfigEntry,
    make_bell: Callable[..., HostBell],
    mosquitto: Mosquitto,
) -> None:
    home_assistant_bell = bell_entry.runtime_data.bell
    # Home Assistant comes back 3 s after losing the broker, the bell within 0.5 s: the
    # bell's backlog reaches the broker while Home Assistant is away, so only its
    # persistent session carries those presses over.
    home_assistant_bell.link._backoff = Backoff(3.0, 3.0, jitter=0.0)
    seen = PressLog(hass)
    # Presses queued at release (no 400 ms wait for a second press): this test's
    # timing is about the broker, and its presses must all happen within 3 s.
    bell = make_bell(settings={"DOUBLE_PRESS_MS": 0})
    await bell.start()
    await bell.wait_connected()

    before = [await bell.press(table) for table in (1, 2)]
    await bell.wait_delivered(before)

    stopping = asyncio.create_task(mosquitto.stop())
    during = [await bell.press(table) for table in (3, 4, 1)]  # While it goes down.
    await stopping
    during += [await bell.press(table) for table in (2, 3)]  # While it is down.
    await bell.wait_until(lambda: not bell.connected)
    assert len(bell.bell.queue) >= 2  # Waiting on the bell for the broker.

    await mosquitto.start()
    after = [await bell.press(table) for table in (4,)]
    presses = before + during + after
    await bell.wait_delivered(presses, timeout=20)
    assert not home_assistant_bell.available  # Delivered while Home Assistant was away.
    await wait_for(hass, lambda: len(seen.presses) >= len(presses), timeout=20)
    await asyncio.sleep(1)  # Room for any late duplicate to show up.
    await hass.async_block_till_done()

    assert sorted(seen.seqs) == sorted(p.seq for p in presses)  # None lost, none doubled.
    assert len(set(seen.seqs)) == len(presses)
    assert [p.table for p in seen.presses if p.seq in {q.seq for q in before}] == [1, 2]
    seen.close()
