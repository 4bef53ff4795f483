"""The bell's end of the link on the host runner: DNS during an outage, TLS and the clock.

The host board plays what a Pico W does here: getaddrinfo() that blocks the whole loop
(servicing timer callbacks meanwhile), a watchdog that resets the board when fed too
late, a clock that starts in 2021, and mbedtls' check of certificate dates.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
import datetime
from functools import partial
from pathlib import Path
import struct
import time

from homeassistant.core import HomeAssistant
from pico_host.runner import HostBell
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
import trustme

from ..helpers import wait_for
from ..mosquitto import Mosquitto
from .e2e import PressLog

NTP_TO_UNIX = 2208988800


class TimeServer(asyncio.DatagramProtocol):
    """An SNTP server on loopback that answers only while `answering`."""

    def __init__(self) -> None:
        self.answering = False
        self.requests = 0
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.DatagramTransport)
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.requests += 1
        if not self.answering or self.transport is None or len(data) < 48:
            return
        reply = bytearray(48)
        reply[0] = 0x24  # Version 4, server.
        reply[1] = 2  # Stratum 2.
        struct.pack_into(">I", reply, 40, (int(time.time()) + NTP_TO_UNIX) & 0xFFFFFFFF)
        self.transport.sendto(bytes(reply), addr)


@pytest.fixture
async def time_server(socket_enabled: None) -> AsyncIterator[tuple[TimeServer, int]]:
    loop = asyncio.get_running_loop()
    transport, server = await loop.create_datagram_endpoint(TimeServer, local_addr=("127.0.0.1", 0))
    yield server, transport.get_extra_info("sockname")[1]
    transport.close()


@pytest.fixture
async def tls_broker(socket_enabled: None, tmp_path: Path) -> AsyncIterator[tuple[Mosquitto, Path]]:
    """Mosquitto with TLS and a certificate issued yesterday, as a real broker's would be."""
    ca = trustme.CA()
    now = datetime.datetime.now(datetime.UTC)
    certificate = ca.issue_cert(
        "127.0.0.1",
        "localhost",
        not_before=now - datetime.timedelta(days=1),
        not_after=now + datetime.timedelta(days=90),
    )
    chain, key, ca_file = tmp_path / "chain.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    certificate.cert_chain_pems[0].write_to_path(chain)
    certificate.private_key_pem.write_to_path(key)
    ca.cert_pem.write_to_path(ca_file)
    broker = Mosquitto(tmp_path, tls=(chain, key, ca_file))
    await broker.start()
    yield broker, ca_file
    await broker.stop()


async def test_a_dns_lookup_during_an_internet_outage_keeps_the_bell_and_its_presses(
    hass: HomeAssistant, bell_entry: MockConfigEntry, make_bell: Callable[..., HostBell]
) -> None:
    seen = PressLog(hass)
    lines: list[str] = []
    # By name, so the bell looks it up; a 2 s watchdog against a 3 s failing lookup.
    bell = make_bell(broker="localhost", settings={"WATCHDOG_MS": 2000}, sink=lines.append)
    await bell.start()
    await bell.wait_connected()
    assert bell.board.lookups == 1

    bell.set_internet(False)  # The uplink goes; Wi-Fi stays.
    bell.board.dns_fails = False  # Until the presses are queued (press() waits 2 s at most).
    await bell.wait_until(lambda: not bell.connected)
    presses = [await bell.press(table) for table in (2, 3)]
    lookups = bell.board.lookups
    bell.board.dns_fails = True  # Now DNS fails too, after 3 s.
    bell.board.dns_delay_s = 3.0
    await bell.wait_until(lambda: bell.board.lookups > lookups, timeout=20)
    await asyncio.sleep(1)  # Time for the host's watchdog check to run after the lookup.
    assert any("keeping the last good address" in line for line in lines)
    assert bell.boots == 1  # No watchdog reset...
    assert len(bell.bell.queue) == 2  # ...so the presses are still waiting.

    bell.board.dns_delay_s = 0
    bell.set_internet(True)
    await bell.wait_delivered(presses, timeout=20)
    await wait_for(hass, lambda: len(seen.presses) == 2)
    assert [p.table for p in seen.presses] == [2, 3]
    assert bell.boots == 1
    seen.close()


async def test_without_the_timer_the_same_lookup_resets_the_board(
    make_bell: Callable[..., HostBell],
) -> None:
    """The host watchdog does bite when nothing feeds it through a long lookup."""
    bell = make_bell(broker="localhost", settings={"WATCHDOG_MS": 2000})
    bell.board.feed_watchdog_for = lambda _ms: None  # type: ignore[method-assign]
    await bell.start()
    await bell.wait_connected()
    bell.set_internet(False)
    bell.board.dns_fails = False
    await bell.wait_until(lambda: not bell.connected)
    await bell.press(1)
    bell.board.dns_fails = True
    bell.board.dns_delay_s = 3.0
    await bell.wait_until(lambda: bell.boots == 2, timeout=20)  # Reset: the press is lost.
    assert len(bell.bell.queue) == 0


async def test_verified_tls_waits_for_the_clock_set_by_ntp(
    hass: HomeAssistant,
    tls_broker: tuple[Mosquitto, Path],
    time_server: tuple[TimeServer, int],
    make_bell: Callable[..., HostBell],
) -> None:
    broker, ca_file = tls_broker
    server, ntp_port = time_server
    lines: list[str] = []
    bell = await hass.async_add_executor_job(
        partial(
            make_bell,
            port=broker.port,
            tls=True,
            ca_file=str(ca_file),
            clock_set=False,  # 2021-01-01, as every Pico W boots.
            settings={"NTP_HOST": "127.0.0.1", "NTP_PORT": ntp_port},
            sink=lines.append,
        )
    )
    await bell.start()
    await bell.wait_until(lambda: server.requests >= 3, timeout=15)
    await bell.wait_until(lambda: any("TLS waits for the clock" in line for line in lines))
    assert bell.board.connection_attempts == 0  # No handshake that could only fail.
    assert not bell.connected

    server.answering = True
    await bell.wait_connected(timeout=20)
    assert abs(bell.board.clock_s() - time.time()) < 5
    await bell.wait_delivered(await bell.press(1))
    assert any("clock: set by NTP" in line for line in lines)


async def test_verified_tls_with_the_boot_clock_fails_as_on_a_pico_w(
    hass: HomeAssistant, tls_broker: tuple[Mosquitto, Path], make_bell: Callable[..., HostBell]
) -> None:
    broker, ca_file = tls_broker
    lines: list[str] = []
    bell = await hass.async_add_executor_job(
        partial(
            make_bell,
            port=broker.port,
            tls=True,
            ca_file=str(ca_file),
            clock_set=False,
            settings={"NTP_HOST": None},  # Nothing to set the clock with.
            sink=lines.append,
        )
    )
    await bell.start()
    await bell.wait_until(
        lambda: any("MBEDTLS_ERR_X509_CERT_VERIFY_FAILED" in line for line in lines),
        timeout=10,
    )
    assert not bell.connected
