"""LED patterns for each state."""

from pico_bell.led import CONNECTED, NO_BROKER, NO_WIFI, led_on


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
