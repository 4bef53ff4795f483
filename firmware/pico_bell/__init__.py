"""Pico W restaurant service bell: buttons in, MQTT presses out, calls shown on LEDs.

The package runs unchanged on MicroPython (the board) and CPython (the host runner
and tests). Logic modules (buttons, presses, payload, signing, bootcount, calls,
health, clock, backoff, led, mqtt_packets, settings, ticks) touch no hardware;
board.py and wifi.py are the thin adapters over machine and network; mqtt.py is a
small asyncio MQTT 3.1.1 client; app.py joins it all in one asyncio main loop.
"""

VERSION = "1.2.0"
