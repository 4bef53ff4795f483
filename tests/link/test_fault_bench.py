"""The fault bench (fault_bench.py), short: a few dozen faults per transport in CI.

`scripts/bench-faults` runs it with FAULT_BENCH_FAULTS=1000 and prints the figures.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
import functools
import os
from pathlib import Path
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
import trustme

from custom_components.blynk_bell.const import CONF_BELL_KEY, CONF_PORT, CONF_TLS
from custom_components.blynk_bell.protocol import mqtt
from custom_components.blynk_bell.protocol.backoff import Backoff
from custom_components.blynk_bell.service_bell import ServiceBell

from ..firmware.conftest import FAST_SETTINGS
from ..helpers import wait_for
from ..mosquitto import Mosquitto
from ..tcp_proxy import TcpProxy
from .fault_bench import FaultBench, Handover

from pico_host.runner import HostBell  # isort: skip  # On sys.path since firmware.conftest.

KEY = "5e" * 32
FAULTS = int(os.environ.get("FAULT_BENCH_FAULTS", "24"))
SEED = int(os.environ.get("FAULT_BENCH_SEED", "1"))


@pytest.fixture(params=["mqtt", "mqtts"])
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def broker(
    socket_enabled: None,
    tmp_path: Path,
    transport: str,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[tuple[Mosquitto, Path | None]]:
    """Mosquitto that keeps sessions and queues across restarts; TLS with a test CA."""
    tls = None
    ca_file = None
    if transport == "mqtts":
        ca = trustme.CA()
        certificate = ca.issue_cert("127.0.0.1")
        chain, key, ca_file = tmp_path / "chain.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
        certificate.cert_chain_pems[0].write_to_path(chain)
        certificate.private_key_pem.write_to_path(key)
        ca.cert_pem.write_to_path(ca_file)
        tls = (chain, key, ca_file)
        monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))  # Home Assistant trusts the CA.
        mqtt.system_tls_context.cache_clear()
    mosquitto = Mosquitto(tmp_path, ["max_queued_messages 10000"], persistent=True, tls=tls)
    await mosquitto.start()
    yield mosquitto, ca_file
    await mosquitto.stop()
    mqtt.system_tls_context.cache_clear()


async def test_no_press_is_lost_or_doubled_while_the_network_fails(
    hass: HomeAssistant,
    broker: tuple[Mosquitto, Path | None],
    transport: str,
    bell_data: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    mosquitto, ca_file = broker
    # Fast link timers, as the firmware's test settings: see fault_bench.py.
    monkeypatch.setattr(mqtt, "Backoff", functools.partial(Backoff, 0.1, 1.0, stable_after=3))
    # Note what the link hands to the bell's handler, to tell where a lost press went.
    handover = Handover()
    handle_message = ServiceBell._handle_message

    def observed(self: ServiceBell, message: mqtt.Message) -> None:
        if message.topic == self.topic:
            handover.saw(message.payload)
        handle_message(self, message)

    monkeypatch.setattr(ServiceBell, "_handle_message", observed)
    proxy = TcpProxy(mosquitto.port)
    await proxy.start()
    entry = MockConfigEntry(
        domain="blynk_bell",
        title="fault bench",
        data={
            **bell_data,
            CONF_PORT: proxy.port,
            CONF_TLS: transport == "mqtts",
            CONF_BELL_KEY: KEY,
        },
    )
    entry.add_to_hass(hass)
    bell = await hass.async_add_executor_job(  # Reads certificate files for TLS.
        lambda: HostBell(
            mosquitto.host,
            mosquitto.port,
            bell_data["topic"],
            key=KEY,
            tls=transport == "mqtts",
            ca_file=str(ca_file) if ca_file else None,
            # No wait for a second press: a press every 200 ms, as the bench says.
            settings={**FAST_SETTINGS, "DOUBLE_PRESS_MS": 0},
        )
    )
    try:
        assert await hass.config_entries.async_setup(entry.entry_id)
        await wait_for(hass, lambda: entry.runtime_data.bell.available)
        await bell.start()
        await bell.wait_connected()
        figures = await FaultBench(
            hass, entry, bell, mosquitto, proxy, transport=transport, seed=SEED, handover=handover
        ).run(FAULTS)
        print(f"\nfault bench, {figures}")  # noqa: T201
        assert bell.boots == 1, "the bell rebooted: its queue and numbering started over"
        assert figures.made > 0
        # Every press reaches the event entity once: through the link, and through the
        # bell's pace too, whose waiting presses outlive a reload.
        assert figures.lost == 0
        assert figures.duplicated == 0
        assert figures.dropped_by_bell == 0
    finally:
        await bell.stop()
        if entry.state is ConfigEntryState.LOADED:
            await hass.config_entries.async_unload(entry.entry_id)
        await proxy.stop()
