"""What the on-board LED shows, as a pure function of state and time.

- steady on: connected to the broker;
- a short dark blink (200 ms off) on the steady light: a press was delivered (PUBACK);
- a short flash every second: Wi-Fi is up but the broker is not (yet) reachable;
- slow blink, one second on, one second off: no Wi-Fi.
"""

NO_WIFI = 0
NO_BROKER = 1
CONNECTED = 2

NAMES = ("no Wi-Fi", "no broker", "connected")

DELIVERED_BLINK_MS = 200


def led_on(state, now_ms, blink_until=None):
    """Return whether the LED is lit at uptime `now_ms`.

    `blink_until` is the uptime until which a delivered-press blink keeps it dark.
    """
    if state == CONNECTED:
        return blink_until is None or now_ms >= blink_until
    if state == NO_BROKER:
        return now_ms % 1000 < 100
    return now_ms % 2000 < 1000
