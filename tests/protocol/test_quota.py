"""Blynk's message quota, in simulated time: every publish counted, the connection's own too.

The free plan's 100,000 messages a month belong to the organization and are shared by up
to five devices: about 27 an hour each (README). The heater and its Blynk device run
unchanged on a simulated clock and link for hours.
"""

from __future__ import annotations

from collections import Counter
import itertools

import pytest

from custom_components.blynk_bell.protocol.mqtt import Endpoint
from custom_components.blynk_bell.protocol.outbox import BACKGROUND_RESERVE, HOURLY_BUDGET
from custom_components.blynk_bell.protocol.template import (
    CURRENT_TEMPERATURE,
    POWER,
    SET_TEMPERATURE,
)

from .simulated import SERVER, start

HOUR = 3600
REGION = Endpoint.from_url("mqtts://fra1.blynk.cloud:8883")


@pytest.mark.parametrize("seed", range(10))
def test_a_steady_hour_with_a_redirected_reconnect_costs_at_most_15_messages(seed: int) -> None:
    run = start(seed)
    run.seconds(HOUR)  # Warm up from 15 °C to the set point of 22 and settle.
    assert abs((run.controller.state.current or 0) - 22) < 1

    begin = run.time.now
    run.seconds(HOUR / 2)
    run.link.drop()  # The internet goes away for a minute...
    run.seconds(60)
    run.blynk.redirect[SERVER] = REGION.url  # ...and Blynk sends us to a region on return.
    run.link.connect()
    run.seconds(HOUR / 2 - 60)

    sent = run.sent(begin, run.time.now)
    topics = Counter(item.topic for item in sent)
    print(f"seed {seed}: {len(sent)} messages in the hour: {dict(topics)}")  # noqa: T201
    assert len(sent) <= 15
    # The reconnect: nothing to the server that redirected, then who we are and a question.
    assert run.link.connections[-2:] == [SERVER, REGION]
    after = [item for item in sent if item.server == REGION]
    assert [item.topic for item in after[:2]] == ["info/mcu", "get/ds"]
    assert not [item for item in sent if item.time > begin + HOUR / 2 and item.server == SERVER]
    # The app's gauge still moves.
    assert topics[f"ds/{CURRENT_TEMPERATURE}"] >= 8
    # One budget has counted all of it.
    assert run.device.outbox.budget.spent() == len(sent)


def test_nothing_is_spent_on_a_server_that_redirects() -> None:
    run = start()
    run.link.drop()
    run.blynk.redirect[SERVER] = REGION.url
    connected_at = run.time.now
    run.link.connect()
    run.seconds(5)
    assert run.link.connections[-2:] == [SERVER, REGION]
    on_the_way = [item for item in run.sent(connected_at, run.time.now) if item.server == SERVER]
    assert on_the_way == []
    assert run.device.connected


@pytest.mark.parametrize("seed", range(3))
def test_a_flapping_link_never_lets_reports_exceed_the_budget(seed: int) -> None:
    run = start(seed)
    run.seconds(HOUR)
    begin = run.time.now
    reconnects = 0
    for _ in range(30):  # A reconnect every two minutes for an hour.
        run.seconds(110)
        run.link.drop()
        run.seconds(10)
        run.link.connect()
        reconnects += 1
    run.seconds(5)
    sent = run.sent(begin, run.time.now)
    own = [item for item in sent if item.topic in ("info/mcu", "get/ds")]
    assert len(own) == 2 * reconnects  # Each connection says who it is and asks once.
    reports = [item for item in sent if item not in own]
    assert len(sent) - len(reports) == len(own)
    # Reports stop once the hour's budget is nearly spent, whatever the link does.
    assert len(reports) <= HOURLY_BUDGET - BACKGROUND_RESERVE


def test_a_users_change_goes_out_even_when_the_budget_is_spent() -> None:
    run = start()
    for _ in range(HOURLY_BUDGET):  # Reconnects have spent the whole hour.
        run.link.drop()
        run.link.connect()
        run.seconds(2)
    assert run.device.outbox.budget.available() <= 0
    before = run.time.now
    run.controller.set_target(24)
    run.seconds(1)
    assert [item.payload for item in run.sent(before, run.time.now, f"ds/{SET_TEMPERATURE}")] == [
        "24"
    ]
    assert run.blynk.values[SET_TEMPERATURE] == "24"


@pytest.mark.parametrize("seed", range(3))
def test_cooling_down_after_power_off_stays_within_the_budget(seed: int) -> None:
    run = start(seed)
    run.seconds(HOUR)
    run.link.deliver(f"downlink/ds/{POWER}", "0")  # Switched off in the app.
    begin = run.time.now
    run.seconds(HOUR)
    sent = run.sent(begin, run.time.now)
    assert len(sent) <= HOURLY_BUDGET - BACKGROUND_RESERVE
    # Falling 12 °C in minutes: a 1.5 °C step goes out after a minute, not every second.
    times = [item.time for item in sent if item.topic == f"ds/{CURRENT_TEMPERATURE}"]
    assert all(later - earlier >= 60 for earlier, later in itertools.pairwise(times))
    assert run.blynk.values["Status"] == "1"


def test_the_seed_demo_would_have_spent_10800_messages_an_hour() -> None:
    """The yardstick: the original demo publishes three values every second."""
    run = start()
    run.seconds(2 * HOUR)
    assert len(run.sent(run.time.now - HOUR, run.time.now)) < 3 * HOUR / 500


def test_reports_made_while_offline_reach_blynk_in_one_message_when_back() -> None:
    run = start()
    run.seconds(HOUR)
    run.link.drop()
    run.link.deliver(f"downlink/ds/{POWER}", "0")  # Not delivered: the link is down.
    run.controller.set_power(False)  # Switched off in Home Assistant meanwhile.
    run.seconds(600)  # Cooling down, offline.
    back = run.time.now
    run.link.connect()
    run.seconds(5)
    sent = run.sent(back, run.time.now)
    topics = [item.topic for item in sent]
    assert topics[:3] == ["info/mcu", f"ds/{POWER}", "get/ds"]
    batch = [item.payload for item in sent if item.topic == "batch_ds"]
    assert len(batch) == 1  # Status and the temperature, in one message.
    assert '"Status":1' in batch[0]
    assert CURRENT_TEMPERATURE in batch[0]
    assert run.blynk.values[POWER] == "0"
