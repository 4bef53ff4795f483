"""Sequence numbers and the bounded queue of undelivered presses."""

from pico_bell.buttons import LONG_PRESS, PRESS
from pico_bell.presses import MAX_SEQ, Press, PressQueue, SeqCounter

from .support import raises


def make(count, start=0):
    return [Press(1 + index % 4, PRESS, start + index, index * 10) for index in range(count)]


def test_seq_starts_at_1_and_never_wraps():
    counter = SeqCounter()
    assert counter.peek() == 1
    assert [counter.next() for _ in range(3)] == [1, 2, 3]
    counter = SeqCounter(MAX_SEQ - 1)
    assert [counter.next() for _ in range(3)] == [MAX_SEQ - 1, MAX_SEQ, MAX_SEQ]
    assert MAX_SEQ == 2**32 - 1


def test_queue_keeps_press_order_and_acknowledges_by_packet_id():
    queue = PressQueue(10)
    presses = make(3)
    for press in presses:
        assert queue.push(press) is None
    first = queue.next_to_send()
    assert first is presses[0]
    queue.mark_sent(first, 7)
    assert queue.next_to_send() is presses[1]
    queue.mark_sent(presses[1], 8)
    assert queue.in_flight() == 2
    assert queue.acknowledge(8) is presses[1]
    assert queue.acknowledge(8) is None  # A second PUBACK for the same id.
    assert queue.items == [presses[0], presses[2]]


def test_connection_loss_makes_unacknowledged_presses_go_out_again_in_order():
    queue = PressQueue(10)
    presses = make(3)
    for press in presses:
        queue.push(press)
    for pid, press in enumerate(presses, 1):
        queue.mark_sent(press, pid)
    queue.acknowledge(2)
    queue.connection_lost()
    assert queue.in_flight() == 0
    assert queue.next_to_send() is presses[0]
    assert [press.seq for press in queue.items] == [0, 2]
    assert presses[0].sends == 1  # Already sent once: the next send is a re-send.


def test_full_queue_drops_the_oldest_and_counts_it():
    queue = PressQueue(3)
    presses = make(5)
    dropped = [queue.push(press) for press in presses]
    assert dropped[:3] == [None, None, None]
    assert dropped[3] is presses[0]
    assert dropped[4] is presses[1]
    assert queue.items == presses[2:]
    assert queue.total_dropped == 2  # Reported in the health message.


def test_qos0_presses_are_removed_when_sent():
    queue = PressQueue(4)
    press = Press(2, LONG_PRESS, 9, 0)
    queue.push(press)
    queue.mark_sent(press, None)
    queue.remove(press)
    assert len(queue) == 0


def test_queue_size_must_be_positive():
    raises(ValueError, PressQueue, 0)
