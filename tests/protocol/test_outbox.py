"""The Outbox on its own, in simulated time: order, batching, the rate limit, the budget."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
import json

import pytest

from custom_components.blynk_bell.protocol.outbox import (
    BACKGROUND_PER_WINDOW,
    BACKGROUND_RESERVE,
    HOURLY_BUDGET,
    MAX_MESSAGES_PER_WINDOW,
    RATE_WINDOW,
    Outbox,
    batch_payload,
)

from .simulated import SimulatedTime


@dataclass
class Wire:
    time: SimulatedTime
    up: bool = True
    sent: list[tuple[float, str, str, int]] = field(default_factory=list)
    acks: list[Callable[[], None]] = field(default_factory=list)

    def send(self, topic: str, payload: bytes, qos: int, on_ack: Callable[[], None] | None) -> bool:
        if not self.up:
            return False
        self.sent.append((self.time.now, topic, payload.decode(), qos))
        if on_ack is not None:
            self.acks.append(on_ack)
        return True

    def topics(self) -> list[str]:
        return [topic for _at, topic, _payload, _qos in self.sent]


@pytest.fixture
def time() -> SimulatedTime:
    return SimulatedTime()


@pytest.fixture
def wire(time: SimulatedTime) -> Wire:
    return Wire(time)


@pytest.fixture
def outbox(time: SimulatedTime, wire: Wire) -> Outbox:
    """An open outbox whose hourly budget is out of the way (tested on its own below)."""
    box = Outbox(wire.send, time, time.call_later, hourly_budget=10_000)
    box.open()
    return box


def test_reports_wait_for_the_budget_users_and_connection_messages_do_not(
    time: SimulatedTime, wire: Wire
) -> None:
    box = Outbox(wire.send, time, time.call_later)
    box.open()
    for number in range(HOURLY_BUDGET - BACKGROUND_RESERVE):
        box.report({"Current Temperature": f"{20 + number / 10:.1f}"})
        time.advance(60)
    assert len(wire.sent) == HOURLY_BUDGET - BACKGROUND_RESERVE
    box.report({"Current Temperature": "25.0"})
    time.advance(60)
    assert len(wire.sent) == HOURLY_BUDGET - BACKGROUND_RESERVE  # Held back...
    box.message("get/ds", "Power")
    box.user_values({"Power": "0"})
    assert wire.topics()[-2:] == ["get/ds", "ds/Power"]  # ...these are not.
    assert box.budget.spent() == HOURLY_BUDGET - BACKGROUND_RESERVE + 2
    time.advance(3600)  # The first reports leave the hour: the held one goes out.
    assert wire.sent[-1][1:3] == ("ds/Current Temperature", "25.0")


def test_reports_of_one_turn_go_in_one_batch_and_properties_alone(
    outbox: Outbox, wire: Wire, time: SimulatedTime
) -> None:
    outbox.report({"Status": "3"})
    outbox.report_property("Status", "color", "F7EAE4")
    outbox.report({"Current Temperature": "21.5"})
    outbox.report({"Status": "2"})  # The latest value wins.
    assert wire.sent == []  # Not before the turn is over.
    time.advance(0.01)
    assert wire.topics() == ["batch_ds", "ds/Status/prop/color"]
    assert json.loads(wire.sent[0][2]) == {"Status": 2, "Current Temperature": 21.5}
    assert [qos for *_rest, qos in wire.sent] == [1, 1]  # Acknowledged at once: no Nagle wait.


def test_a_users_change_jumps_the_queue(outbox: Outbox, wire: Wire, time: SimulatedTime) -> None:
    for line in range(MAX_MESSAGES_PER_WINDOW):
        outbox.message("ds/Terminal", f"line {line}")
    outbox.report({"Current Temperature": "20.1"})
    outbox.message("ds/Terminal", "one too many")  # Waits for the rate limit...
    outbox.user_values({"Power": "1"})  # ...and this goes before it.
    assert len(wire.sent) == MAX_MESSAGES_PER_WINDOW
    time.advance(RATE_WINDOW + 0.01)
    assert wire.topics()[-3:] == ["ds/Power", "ds/Terminal", "ds/Current Temperature"]
    assert wire.sent[-3][3] == 1  # QoS 1: its PUBACK clears it from pending.


def test_users_changes_batch_while_waiting_and_all_acks_run(
    outbox: Outbox, wire: Wire, time: SimulatedTime
) -> None:
    for line in range(MAX_MESSAGES_PER_WINDOW):
        outbox.message("ds/Terminal", f"line {line}")
    acked: list[str] = []
    outbox.user_values({"Power": "1"}, lambda: acked.append("power"))
    outbox.user_values({"Set Temperature": "24"}, lambda: acked.append("set point"))
    outbox.user_values({"Set Temperature": "24.5"}, lambda: acked.append("set point again"))
    time.advance(RATE_WINDOW + 0.01)
    assert wire.topics()[-1] == "batch_ds"
    assert json.loads(wire.sent[-1][2]) == {"Power": 1, "Set Temperature": 24.5}
    wire.acks[-1]()
    assert acked == ["power", "set point", "set point again"]


def test_no_window_ever_holds_more_than_the_limit(
    outbox: Outbox, wire: Wire, time: SimulatedTime
) -> None:
    accepted = 0
    for line in range(300):
        accepted += outbox.message("ds/Terminal", f"line {line}")
        outbox.report({"Current Temperature": f"{20 + line / 10:.1f}"})
        time.advance(0.001)
    time.advance(30)
    assert 200 <= accepted < 300  # The queue is capped; nothing accepted is lost.
    assert sum(topic == "ds/Terminal" for topic in wire.topics()) == accepted
    times = [at for at, *_rest in wire.sent]
    limit = MAX_MESSAGES_PER_WINDOW
    assert all(b - a >= RATE_WINDOW for a, b in zip(times, times[limit:], strict=False))


def test_reports_leave_room_for_users(outbox: Outbox, wire: Wire, time: SimulatedTime) -> None:
    for number in range(200):
        outbox.report_property(f"Widget {number}", "color", "E4F6F7")
    time.advance(0.01)
    assert len(wire.sent) <= BACKGROUND_PER_WINDOW
    # The rest of the rate limit is free for a user at once.
    for number in range(MAX_MESSAGES_PER_WINDOW - BACKGROUND_PER_WINDOW):
        outbox.user_values({"Power": str(number % 2)})
        assert wire.topics()[-1] == "ds/Power"


def test_closing_drops_what_the_owner_resends_and_keeps_reports(
    outbox: Outbox, wire: Wire, time: SimulatedTime
) -> None:
    wire.up = False
    outbox.user_values({"Power": "0"})
    outbox.message("get/ds", "Power,Set Temperature")
    outbox.report({"Status": "1"})
    outbox.close()
    time.advance(1)
    wire.up = True
    outbox.open()
    time.advance(0.01)
    assert wire.topics() == ["ds/Status"]


def test_oversized_messages_are_refused(outbox: Outbox, wire: Wire) -> None:
    assert not outbox.message("ds/Terminal", "x" * 1020)
    assert not outbox.user_values({"Terminal": "x" * 1020})
    assert outbox.dropped == 2
    assert wire.sent == []


def test_batch_payload_keeps_numbers_numbers_and_text_text() -> None:
    payload = batch_payload({"Power": "1", "Set Temperature": "22.5", "Terminal": "on\n"})
    assert json.loads(payload) == {"Power": 1, "Set Temperature": 22.5, "Terminal": "on\n"}
    assert json.loads(batch_payload({"A": "01", "B": "1e5", "C": "nan"})) == {
        "A": "01",
        "B": "1e5",
        "C": "nan",
    }
