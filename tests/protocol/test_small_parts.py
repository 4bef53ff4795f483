"""Backoff, throttling and broker URLs."""

from __future__ import annotations

import pytest

from custom_components.blynk_bell.protocol.backoff import Backoff
from custom_components.blynk_bell.protocol.mqtt import Endpoint, InvalidEndpoint
from custom_components.blynk_bell.protocol.throttle import Throttle


def test_backoff_doubles_to_the_cap_and_resets() -> None:
    backoff = Backoff(initial=1, maximum=60, rand=lambda low, high: 1.0)
    assert [backoff.next_delay() for _ in range(8)] == [1, 2, 4, 8, 16, 32, 60, 60]
    backoff.reset()
    assert backoff.next_delay() == 1


def test_backoff_jitter_stays_within_bounds() -> None:
    backoff = Backoff(initial=1, maximum=60, jitter=0.2)
    delays = [backoff.next_delay() for _ in range(40)]
    assert 0.8 <= delays[0] <= 1.2
    assert all(0.8 <= delay <= 60 for delay in delays)
    assert len({round(delay, 6) for delay in delays[10:]}) > 1 or delays[10:] == [60] * 30


def test_throttle_allows_once_per_interval_and_counts_the_rest() -> None:
    now = [100.0]
    throttle = Throttle(60, clock=lambda: now[0])
    assert throttle.allow()
    assert not throttle.allow()
    now[0] += 59.9
    assert not throttle.allow()
    now[0] += 0.2
    assert throttle.allow()
    assert throttle.take_suppressed() == 2
    assert throttle.take_suppressed() == 0


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mqtts://blynk.cloud:8883", Endpoint("blynk.cloud", 8883, tls=True)),
        ("mqtt://127.0.0.1:1883", Endpoint("127.0.0.1", 1883)),
        ("mqtt://host", Endpoint("host", 1883)),
        ("tcp://host:1884", Endpoint("host", 1884)),
        ("tls://fra1.blynk.cloud", Endpoint("fra1.blynk.cloud", 8883, tls=True)),
        ("wss://fra1.blynk.cloud:443/mqtt", Endpoint("fra1.blynk.cloud", 443, True, True)),
        ("ws://127.0.0.1:8080", Endpoint("127.0.0.1", 8080, websocket=True)),
        ("MQTTS://NY3.blynk.cloud:8883", Endpoint("ny3.blynk.cloud", 8883, tls=True)),
        ("mqtt://[::1]:1883", Endpoint("::1", 1883)),
    ],
)
def test_endpoint_from_url(url: str, expected: Endpoint) -> None:
    assert Endpoint.from_url(url) == expected
    assert Endpoint.from_url(expected.url) == expected


@pytest.mark.parametrize(
    "url",
    ["http://blynk.cloud", "blynk.cloud:8883", "mqtt://", "mqtt://host:99999", "", "mqtt://:1883"],
)
def test_endpoint_rejects(url: str) -> None:
    with pytest.raises(InvalidEndpoint):
        Endpoint.from_url(url)
