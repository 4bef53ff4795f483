"""LED patterns for each state."""

from pico_bell.led import (
    ALL_ACKNOWLEDGED,
    CONNECTED,
    NO_BROKER,
    NO_CALLS,
    NO_WIFI,
    SOMEONE_CALLING,
    calls_pattern,
    led_on,
    table_led_on,
)


def lit_ms(state, period, blink_until=None):
    return sum(1 for now in range(period) if led_on(state, now, blink_until))


def test_connected_is_steady_on():
    assert lit_ms(CONNECTED, 5000) == 5000


def test_delivered_press_blinks_dark_briefly():
    assert not led_on(CONNECTED, 1000, blink_until=1200)
    assert led_on(CONNECTED, 1200, blink_until=1200)


def test_no_broker_is_a_short_flash_each_second():
    assert lit_ms(NO_BROKER, 1000) == 100
    assert led_on(NO_BROKER, 2050)
    assert not led_on(NO_BROKER, 2500)


def test_no_wifi_is_a_slow_blink():
    assert lit_ms(NO_WIFI, 2000) == 1000
    assert led_on(NO_WIFI, 500)
    assert not led_on(NO_WIFI, 1500)


def test_a_calling_table_blinks_an_acknowledged_one_is_steady_an_idle_one_dark():
    calling = [table_led_on("c", True, now) for now in range(0, 2000, 50)]
    assert 0 < sum(calling) < len(calling)  # On and off: blinking.
    assert all(table_led_on("a", True, now) for now in range(0, 2000, 50))
    assert not any(table_led_on("i", True, now) for now in range(0, 2000, 50))


def test_closed_is_one_short_flash_every_three_seconds_on_every_table():
    for call in ("i", "c", "a"):
        lit = [now for now in range(9000) if table_led_on(call, False, now)]
        assert len(lit) == 3 * 100
        assert {now // 3000 for now in lit} == {0, 1, 2}


def test_without_table_leds_the_onboard_led_shows_calls_while_connected():
    assert calls_pattern("iiii") == NO_CALLS
    assert calls_pattern("iaci") == SOMEONE_CALLING
    assert calls_pattern("iaai") == ALL_ACKNOWLEDGED
    fast = [led_on(CONNECTED, now, None, SOMEONE_CALLING) for now in range(1000)]
    assert sum(fast) == 500
    assert sum(1 for i in range(1, 1000) if fast[i] != fast[i - 1]) == 9  # 5 blinks.
    double = [led_on(CONNECTED, now, None, ALL_ACKNOWLEDGED) for now in range(1000)]
    assert sum(double) == 200
    assert [double[50], double[150], double[250], double[500]] == [True, False, True, False]
    # Not connected: the connection's own pattern, whatever the calls were.
    assert lit_ms(NO_BROKER, 1000) == 100
    assert sum(led_on(NO_BROKER, now, None, SOMEONE_CALLING) for now in range(1000)) == 100
