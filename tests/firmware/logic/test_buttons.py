"""Edge log (the IRQ side) and debouncer (the main-loop side)."""

from pico_bell.buttons import DOUBLE_PRESS, LONG_PRESS, PRESS, Debouncer, DoublePress, EdgeLog


def feed(debouncer, edges, polls):
    """Feed (time, level) edges and polls in time order; return the events."""
    events = []
    timeline = [(at, 0, level) for at, level in edges] + [(at, 1, level) for at, level in polls]
    for at, is_poll, level in sorted(timeline):
        method = debouncer.poll if is_poll else debouncer.edge
        event = method(at, level)
        if event is not None:
            events.append(event)
    return events


def polls(start, end, level_at, step=10):
    return [(at, level_at(at)) for at in range(start, end, step)]


def test_edge_log_keeps_order_and_levels():
    log = EdgeLog(4)
    log.record(1, 100)
    log.record(0, 105)
    assert log.drain() == [(100, 1), (105, 0)]
    assert log.drain() == []
    for index in range(3):
        log.record(index % 2, 200 + index)
    assert log.drain() == [(200, 0), (201, 1), (202, 0)]


def test_edge_log_counts_overflow_and_keeps_the_oldest():
    log = EdgeLog(3)
    for index in range(5):
        log.record(1, index)
    assert log.overflows == 2
    assert log.drain() == [(0, 1), (1, 1), (2, 1)]
    log.record(0, 9)  # Room again after draining.
    assert log.drain() == [(9, 0)]


def test_edge_log_wraps_its_indices_many_times():
    log = EdgeLog(2)
    for index in range(1000):
        log.record(index % 2, index)
        assert log.drain() == [(index, index % 2)]
    assert log.overflows == 0


def test_bouncy_short_press_is_one_press_dated_at_the_first_edge():
    debouncer = Debouncer(lockout_ms=50, long_ms=1000)
    edges = [(1000, 1), (1002, 0), (1003, 1), (1006, 0), (1007, 1), (1150, 0), (1152, 1), (1153, 0)]

    def level(at):
        return 1000 <= at < 1150

    events = feed(debouncer, edges, polls(990, 1400, level))
    assert events == [(PRESS, 1000)]
    assert not debouncer.pressed


def test_press_is_reported_on_release_after_the_lockout():
    debouncer = Debouncer(lockout_ms=50, long_ms=1000)
    assert debouncer.edge(0, True) is None
    assert debouncer.poll(40, True) is None  # Still in the lockout.
    assert debouncer.poll(60, True) is None  # Pressed now; reported on release.
    assert debouncer.pressed
    assert debouncer.edge(200, False) is None
    assert debouncer.poll(249, False) is None
    assert debouncer.poll(250, False) == (PRESS, 0)


def test_glitch_shorter_than_the_lockout_is_ignored():
    debouncer = Debouncer(lockout_ms=50, long_ms=1000)
    events = feed(debouncer, [(100, 1), (120, 0)], polls(90, 400, lambda at: 100 <= at < 120))
    assert events == []
    assert not debouncer.pressed


def test_long_press_fires_while_held_and_release_adds_nothing():
    debouncer = Debouncer(lockout_ms=50, long_ms=1000)

    def level(at):
        return 100 <= at < 2500

    events = feed(debouncer, [(100, 1), (2500, 0)], polls(0, 3000, level))
    assert events == [(LONG_PRESS, 100)]


def test_long_press_fires_at_the_threshold_not_at_release():
    debouncer = Debouncer(lockout_ms=50, long_ms=1000)
    debouncer.edge(0, True)
    assert debouncer.poll(999, True) is None
    assert debouncer.poll(1000, True) == (LONG_PRESS, 0)
    assert debouncer.poll(1500, True) is None


def test_edges_replayed_after_a_blocked_loop_keep_their_meaning():
    # The loop was stuck for 3 s (say a DNS lookup) while a guest pressed twice, once
    # short and once long: the IRQ timestamps alone tell the two apart.
    debouncer = Debouncer(lockout_ms=50, long_ms=1000)
    edges = [(100, 1), (103, 0), (104, 1), (300, 0), (800, 1), (2300, 0)]
    events = [debouncer.edge(at, level) for at, level in edges]
    events.append(debouncer.poll(3000, False))
    assert [event for event in events if event] == [(PRESS, 100), (LONG_PRESS, 800)]


def test_poll_catches_an_edge_the_interrupt_missed():
    debouncer = Debouncer(lockout_ms=50, long_ms=1000)
    events = feed(debouncer, [], polls(0, 600, lambda at: 100 <= at < 400))
    assert events == [(PRESS, 100)]


def test_a_button_held_at_boot_is_not_a_press():
    debouncer = Debouncer(lockout_ms=50, long_ms=1000)
    debouncer.assume(True)
    events = feed(debouncer, [(5000, 0)], polls(0, 6000, lambda at: at < 5000))
    assert events == []
    events = feed(
        debouncer, [(7000, 1), (7200, 0)], polls(6900, 7500, lambda at: 7000 <= at < 7200)
    )
    assert events == [(PRESS, 7000)]


def test_active_low_levels_are_the_callers_business():
    # The debouncer sees "pressed" booleans; the app maps pin levels (see test_app).
    debouncer = Debouncer(lockout_ms=10, long_ms=100)
    assert debouncer.edge(0, True) is None
    assert debouncer.poll(20, True) is None
    assert debouncer.edge(50, False) is None
    assert debouncer.poll(70, False) == (PRESS, 0)


def test_many_presses_stay_separate():
    debouncer = Debouncer(lockout_ms=50, long_ms=1000)
    edges = []
    for index in range(10):
        start = 1000 + index * 300
        edges += [(start, 1), (start + 120, 0)]

    def level(at):
        return any(start <= at < start + 120 for start in range(1000, 4000, 300))

    events = feed(debouncer, edges, polls(900, 4500, level))
    assert events == [(PRESS, 1000 + index * 300) for index in range(10)]


def gestures(presses, window=400, end=None):
    """Run presses [(down_at, up_at), ...] of one button through Debouncer + DoublePress.

    Returns [(kind, pressed_at, reported_at)], polling every 10 ms as the scan loop does.
    """
    debouncer = Debouncer(50, 1000)
    double = DoublePress(window)
    edges = []
    for down, up in presses:
        edges += [(down, True), (up, False)]
    end = end if end is not None else edges[-1][0] + 2000
    level = False
    reported = []
    for now in range(0, end, 10):
        for at, pressed in [edge for edge in edges if now - 10 < edge[0] <= now]:
            level = pressed
            for kind, pressed_at in double.event(debouncer.edge(at, pressed), debouncer):
                reported.append((kind, pressed_at, now))
        for kind, pressed_at in double.event(debouncer.poll(now, level), debouncer):
            reported.append((kind, pressed_at, now))
        for kind, pressed_at in double.poll(now, debouncer):
            reported.append((kind, pressed_at, now))
    return reported


def test_two_quick_short_presses_are_one_double_press():
    events = gestures([(100, 220), (420, 540)])  # Second press 200 ms after release.
    assert [(kind, at) for kind, at, _ in events] == [(DOUBLE_PRESS, 100)]
    assert events[0][2] < 700  # Sent when the second press ends, not later.


def test_a_single_press_is_sent_400_ms_after_its_release():
    events = gestures([(100, 220)])
    assert [(kind, at) for kind, at, _ in events] == [(PRESS, 100)]
    assert 220 + 400 <= events[0][2] <= 220 + 400 + 60  # The documented latency.


def test_presses_further_apart_are_two_presses():
    events = gestures([(100, 220), (800, 900)])
    assert [(kind, at) for kind, at, _ in events] == [(PRESS, 100), (PRESS, 800)]


def test_a_long_press_after_a_short_one_is_a_press_and_a_long_press():
    events = gestures([(100, 220), (400, 1700)])
    assert [(kind, at) for kind, at, _ in events] == [(PRESS, 100), (LONG_PRESS, 400)]
    assert events[1][2] < 1500  # The long press still goes out when it reaches 1 s.


def test_a_long_press_alone_is_not_delayed():
    events = gestures([(100, 1500)])
    assert [(kind, at) for kind, at, _ in events] == [(LONG_PRESS, 100)]
    assert events[0][2] <= 1100 + 60


def test_three_quick_presses_are_a_double_press_then_a_press():
    events = gestures([(100, 200), (350, 450), (600, 700)])
    assert [(kind, at) for kind, at, _ in events] == [(DOUBLE_PRESS, 100), (PRESS, 600)]


def test_window_zero_sends_every_press_at_once():
    events = gestures([(100, 220), (420, 540)], window=0)
    assert [(kind, at) for kind, at, _ in events] == [(PRESS, 100), (PRESS, 420)]
    assert events[0][2] <= 220 + 60


def test_a_double_press_replayed_after_a_blocked_loop_is_still_one():
    # Both presses' edges arrive at once (a DNS lookup held the loop), with their times.
    debouncer = Debouncer(50, 1000)
    double = DoublePress(400)
    events = []
    for at, pressed in ((100, True), (220, False), (420, True), (540, False)):
        events += double.event(debouncer.edge(at, pressed), debouncer)
    events += double.event(debouncer.poll(3000, False), debouncer)
    events += double.poll(3000, debouncer)
    assert events == [(DOUBLE_PRESS, 100)]
