"""SNTP replies and dates, the way the board's clock is set before verified TLS."""

from pico_bell import clock
from pico_host.fakes import PICO_BOOT_TIME, FakeMachine, FakeNetwork

from .support import BoardOnFakes, FakeBroker


def ntp_reply(unix, mode=4, stratum=2):
    reply = bytearray(48)
    reply[0] = 0x20 | mode  # Version 4.
    reply[1] = stratum
    seconds = (unix + clock.NTP_TO_UNIX) & 0xFFFFFFFF
    reply[40:44] = bytes(
        [seconds >> 24, (seconds >> 16) & 255, (seconds >> 8) & 255, seconds & 255]
    )
    return bytes(reply)


def test_dates_convert_both_ways():
    assert clock.to_datetime(0) == (1970, 1, 1, 3, 0, 0, 0, 0)  # A Thursday.
    assert clock.to_datetime(PICO_BOOT_TIME) == (2021, 1, 1, 4, 0, 0, 0, 0)  # A Friday.
    leap = clock.from_datetime((2024, 2, 29, 3, 23, 59, 58))
    assert clock.to_datetime(leap)[:7] == (2024, 2, 29, 3, 23, 59, 58)
    for unix in (0, 951782400, 1709251199, 2085978496, 4102444800):
        assert clock.from_datetime(clock.to_datetime(unix)) == unix
    assert clock.format_time(1735689600) == "2025-01-01 00:00:00"


def test_a_server_answer_gives_the_time():
    now = 1767225600  # 2026-01-01
    assert clock.parse_reply(ntp_reply(now)) == now
    after_2036 = 2085978496 + 100  # NTP's 32-bit seconds have wrapped by then.
    assert clock.parse_reply(ntp_reply(after_2036)) == after_2036


def test_anything_else_is_not_an_answer():
    now = 1767225600
    assert clock.parse_reply(None) is None
    assert clock.parse_reply(ntp_reply(now)[:47]) is None
    assert clock.parse_reply(ntp_reply(now, mode=3)) is None  # Our own request echoed.
    assert clock.parse_reply(ntp_reply(now, stratum=0)) is None  # Kiss-of-death.
    assert clock.parse_reply(bytes(48)) is None
    assert clock.parse_reply(b"\xff" * 48) is None


def test_the_fake_rtc_starts_where_a_pico_w_does_and_can_be_set():
    board = BoardOnFakes(FakeBroker())
    assert abs(board.clock_s() - PICO_BOOT_TIME) <= 1
    assert not clock.is_set(board.clock_s())
    board.set_clock(1767225600)
    assert abs(board.clock_s() - 1767225600) <= 1
    assert clock.is_set(board.clock_s())
    assert FakeMachine().RTC().datetime()[0] == 2021
    assert FakeNetwork().WLAN().active() is False


async def test_sync_sets_the_clock_within_a_few_bounded_attempts():
    board = BoardOnFakes(FakeBroker())
    lines = []
    board.ntp_replies = [None, b"garbage", ntp_reply(1767225600)]
    assert await clock.sync(board, "192.0.2.9", attempts=3, timeout_ms=50, log=lines.append)
    assert abs(board.clock_s() - 1767225600) <= 1
    assert [request[:2] for request in board.ntp_requests] == [("192.0.2.9", 123)] * 3
    assert board.ntp_requests[0][2][0] == 0x1B  # SNTP version 3, client mode.
    assert any("2026-01-01" in line for line in lines)

    board = BoardOnFakes(FakeBroker())
    board.ntp_replies = [None, None, None, ntp_reply(1767225600)]
    assert not await clock.sync(board, "192.0.2.9", attempts=3, timeout_ms=50)
    assert len(board.ntp_requests) == 3  # Gave up; the fourth answer was never asked for.
    assert not clock.is_set(board.clock_s())
