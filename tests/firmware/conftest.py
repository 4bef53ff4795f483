"""Make the firmware importable on CPython (as the host runner does); bell fixtures."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
import sys
from typing import Any

import pytest

from ..mosquitto import Mosquitto

FIRMWARE = Path(__file__).resolve().parents[2] / "firmware"
if str(FIRMWARE) not in sys.path:
    sys.path.insert(0, str(FIRMWARE))

from pico_host.runner import HostBell  # noqa: E402

# Short timings so fault tests take seconds, not minutes.
FAST_SETTINGS = {
    "BACKOFF_MIN_S": 0.1,
    "BACKOFF_MAX_S": 0.5,
    "ACK_TIMEOUT_S": 1,
    "CONNECT_TIMEOUT_S": 2,
    "KEEPALIVE_S": 10,
}


@pytest.fixture
async def make_bell(mosquitto: Mosquitto) -> AsyncIterator[Callable[..., HostBell]]:
    """Create host-run bells against the test broker; all are stopped afterwards."""
    bells: list[HostBell] = []

    def make(**options: Any) -> HostBell:
        settings = {**FAST_SETTINGS, **options.pop("settings", {})}
        options.setdefault("broker", mosquitto.host)
        options.setdefault("port", mosquitto.port)
        options.setdefault("topic", "SunFounder MQTT Test")
        bell = HostBell(settings=settings, **options)
        bells.append(bell)
        return bell

    yield make
    for bell in bells:
        await bell.stop()
