"""The bell's end of the link: DNS lookups that hold the loop, and TLS that needs a clock."""

import asyncio

from pico_bell import led
from pico_bell.board import Board
from pico_bell.ticks import ticks_diff, ticks_ms
from pico_host.fakes import FakeMachine, FakeNetwork

from .support import press, sleep_ms, wait_until
from .test_app import Rig
from .test_clock import ntp_reply


async def test_a_lookup_longer_than_the_watchdog_keeps_the_board_and_its_presses():
    rig = Rig(WATCHDOG_MS=1000)
    try:
        await rig.start()
        first = rig.broker.hosts[0]
        assert rig.board.lookups == ["broker.test"]
        # The internet goes: the broker is unreachable and DNS takes 1.5 s to fail.
        rig.board.dns_delay_ms = 1500
        rig.board.dns_fails = True
        rig.broker.available = False
        rig.broker.drop_connections()
        await wait_until(lambda: rig.bell.state == led.NO_BROKER, timeout=3)
        for pin in (16, 17):
            await press(rig.machine, pin)
        await wait_until(lambda: len(rig.board.lookups) >= 2, timeout=10)
        await asyncio.sleep(0.3)
        assert not rig.machine.wdt.bitten  # Fed by the timer all through the lookup.
        assert rig.machine.timers == []  # The feeding timer is gone again.
        assert any("keeping the last good address" in line for line in rig.lines)
        assert len(rig.bell.queue) == 2
        # The internet comes back: the kept address works, the presses go out.
        rig.broker.available = True
        await wait_until(lambda: len(rig.delivered()) == 2, timeout=5)
        assert rig.broker.hosts[-1] == first
        assert not rig.machine.wdt.bitten
    finally:
        await rig.stop()


async def test_a_failing_name_is_not_looked_up_at_every_reconnect():
    rig = Rig()
    try:
        await rig.start()
        rig.board.dns_fails = True
        rig.broker.available = False
        rig.broker.drop_connections()
        await wait_until(lambda: len(rig.broker.hosts) >= 10, timeout=10)
        # Three failed connects, one lookup (failed), then the kept address again.
        assert rig.board.lookups == ["broker.test", "broker.test"]
    finally:
        await rig.stop()


def test_the_watchdog_is_fed_for_a_bounded_time_only():
    board = Board(FakeMachine(), FakeNetwork())
    board.getaddrinfo = lambda host, port: _block(board, 1500) or "192.0.2.1"
    wdt = board.start_watchdog(1000)
    assert board.resolve("broker.test", 1883, guard_ms=3000) == "192.0.2.1"
    assert not wdt.expired()
    assert board.resolve("192.0.2.7", 1883) == "192.0.2.7"  # An address needs no lookup.
    # A lookup that outlasts the guard: the feeding stops and the watchdog bites.
    board.resolve("broker.test", 1883, guard_ms=200)
    assert wdt.expired()


def _block(board, ms):

    started = ticks_ms()
    while ticks_diff(ticks_ms(), started) < ms:
        board.machine.service_timers()
        sleep_ms(5)


async def test_verified_tls_waits_for_the_clock():
    rig = Rig(TLS=True, TLS_CA_FILE="/ca.pem", NTP_HOST="time.test")
    rig.board.ntp_replies = [None] * 3  # The time server does not answer at first.
    try:
        rig.task = asyncio.create_task(rig.bell.run())
        waiting = "TLS waits for the clock"
        await wait_until(lambda: any(waiting in line for line in rig.lines), timeout=10)
        assert rig.broker.connects == []  # No handshake that could only fail.
        assert rig.broker.hosts == []
        assert "time.test" in rig.board.lookups
        rig.board.ntp_replies = [ntp_reply(1767225600)]
        await wait_until(lambda: rig.bell.state == led.CONNECTED, timeout=5)
        assert abs(rig.board.clock_s() - 1767225600) <= 5
        assert rig.board.ntp_requests[-1][1] == 123
    finally:
        await rig.stop()


async def test_unverified_tls_and_plain_connections_need_no_clock():
    for settings in ({"TLS": True}, {}):
        rig = Rig(**settings)
        try:
            await rig.start()
            assert rig.board.ntp_requests == []
        finally:
            await rig.stop()
