"""Ticks arithmetic and the never-wrapping uptime."""

from pico_bell.ticks import Uptime, ticks_add, ticks_diff, ticks_ms

PERIOD = 1 << 30  # MicroPython's ticks period on the Pico W (and in our CPython shim).


def test_ticks_diff_across_the_wrap():
    near_end = PERIOD - 3
    later = ticks_add(near_end, 10)
    assert later == 7
    assert ticks_diff(later, near_end) == 10
    assert ticks_diff(near_end, later) == -10


def test_ticks_ms_is_within_the_period():
    now = ticks_ms()
    assert 0 <= now < PERIOD


def test_uptime_keeps_counting_over_many_wraps():
    ticks = PERIOD - 100
    uptime = Uptime(ticks)
    total = 0
    for _ in range(5):  # 5 x 0.4 periods: two wraps of ticks, none of uptime.
        step = PERIOD * 2 // 5
        for _ in range(4):
            ticks = ticks_add(ticks, step // 4)
            total += step // 4
            uptime.update(ticks)
    assert uptime.ms == total
    assert uptime.ms > PERIOD


def test_uptime_ignores_ticks_from_the_past():
    uptime = Uptime(1000)
    assert uptime.update(1500) == 500
    assert uptime.update(1400) == 500  # Never goes backwards.


def test_uptime_of_an_irq_timestamp():
    uptime = Uptime(PERIOD - 10)
    now_ticks = ticks_add(PERIOD - 10, 30)  # Wrapped to 20.
    uptime.update(now_ticks)
    assert uptime.ms == 30
    assert uptime.at(PERIOD - 5, now_ticks) == 5
