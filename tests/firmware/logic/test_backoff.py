"""Reconnect delays: doubling, capped, jittered, reset after a good connection."""

from pico_bell.backoff import Backoff

from .support import raises


def test_delays_double_up_to_the_maximum():
    backoff = Backoff(1, 60, jitter=0.2, rand=lambda: 0.5)  # 0.5: no jitter.
    delays = [backoff.next_delay() for _ in range(9)]
    assert delays == [1, 2, 4, 8, 16, 32, 60, 60, 60]


def test_jitter_stays_within_bounds_and_under_the_maximum():
    low = Backoff(10, 60, jitter=0.2, rand=lambda: 0.0)
    high = Backoff(10, 60, jitter=0.2, rand=lambda: 0.999999)
    assert abs(low.next_delay() - 8) < 1e-6
    assert abs(high.next_delay() - 12) < 1e-3
    for _ in range(10):
        assert high.next_delay() <= 60


def test_reset_starts_over():
    backoff = Backoff(0.5, 10, rand=lambda: 0.5)
    for _ in range(5):
        backoff.next_delay()
    backoff.reset()
    assert backoff.next_delay() == 0.5


def test_huge_attempt_counts_do_not_overflow():
    backoff = Backoff(1, 60, rand=lambda: 0.5)
    backoff.attempts = 10000
    assert backoff.next_delay() == 60


def test_default_randomness_is_in_range():
    backoff = Backoff(1, 1, jitter=0.5)
    for _ in range(20):
        assert 0.5 <= backoff.next_delay() <= 1


def test_invalid_bounds_are_refused():
    raises(ValueError, Backoff, 0, 1)
    raises(ValueError, Backoff, 2, 1)
