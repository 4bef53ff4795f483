"""What the LEDs show, as pure functions of state and time.

The on-board LED, the connection:
- steady on: connected to the broker;
- a short dark blink (200 ms off) on the steady light: a press was delivered (PUBACK);
- a short flash every second: Wi-Fi is up but the broker is not (yet) reachable;
- slow blink, one second on, one second off: no Wi-Fi.
While connected and without table LEDs it also shows the calls (protocol version 2):
- fast blink (100 ms on, 100 ms off): a table is calling;
- a double flash every second: a call was acknowledged (a waiter is on the way) and
  no table is calling.

A table LED (LED_PINS), the table's call:
- blinking (half a second on, half off): calling;
- steady on: acknowledged;
- off: idle;
- every table LED one short flash every 3 seconds: the bell is closed (outside
  opening hours).
"""

from .calls import ACKNOWLEDGED, CALLING

NO_WIFI = 0
NO_BROKER = 1
CONNECTED = 2

NAMES = ("no Wi-Fi", "no broker", "connected")

DELIVERED_BLINK_MS = 200

# What the on-board LED adds to "connected".
NO_CALLS = 0
SOMEONE_CALLING = 1
ALL_ACKNOWLEDGED = 2


def led_on(state, now_ms, blink_until=None, calls=NO_CALLS):
    """Return whether the on-board LED is lit at uptime `now_ms`.

    `blink_until` is the uptime until which a delivered-press blink keeps it dark;
    `calls` is calls_pattern() when the bell has no table LEDs, else NO_CALLS.
    """
    if state == CONNECTED:
        if calls == SOMEONE_CALLING:
            return now_ms % 200 < 100
        if calls == ALL_ACKNOWLEDGED:
            phase = now_ms % 1000
            return phase < 100 or 200 <= phase < 300
        return blink_until is None or now_ms >= blink_until
    if state == NO_BROKER:
        return now_ms % 1000 < 100
    return now_ms % 2000 < 1000


def calls_pattern(states):
    """What the on-board LED adds for the tables' states (a text of i/c/a)."""
    if CALLING in states:
        return SOMEONE_CALLING
    if ACKNOWLEDGED in states:
        return ALL_ACKNOWLEDGED
    return NO_CALLS


def table_led_on(call, is_open, now_ms):
    """Return whether a table's LED is lit, for its call state (i/c/a)."""
    if not is_open:
        return now_ms % 3000 < 100
    if call == CALLING:
        return now_ms % 1000 < 500
    return call == ACKNOWLEDGED
