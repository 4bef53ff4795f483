"""HostBell: the unchanged firmware on CPython, with fake pins and Wi-Fi.

Used by host_runner.py (the command line) and by tests, which drive it directly:

    bell = HostBell("127.0.0.1", 1883, "SunFounder MQTT Test")
    await bell.start()
    await bell.wait_connected()
    press = await bell.press(2)          # returns the queued Press (button, kind, seq)
    await bell.wait_delivered(press)
    await bell.stop()

Everything runs on the caller's asyncio loop; nothing blocks it, except what a Pico W
blocks on too when a test asks for it (a slow DNS lookup, `HostBoard.dns_delay_s`).
"""

import asyncio
import logging
import os
import ssl as ssl_module
import time

from pico_bell import led
from pico_bell.app import Bell
from pico_bell.board import Board
from pico_bell.settings import Settings
from pico_bell.ticks import ticks_ms

from .fakes import FakeFlash, FakeMachine, FakeNetwork

_LOGGER = logging.getLogger("pico_bell")

DEFAULT_PINS = (16, 17, 18, 19, 20, 21, 22, 26, 27)
DEFAULT_LED_PINS = (2, 3, 4, 5, 6, 7, 8, 9, 10)
# How the terminal draws a table's LED: off, blinking, steady, closed (a short flash).
LED_SYMBOLS = {"i": "\u25cb", "c": "\u25d0", "a": "\u25cf"}
CLOSED_SYMBOL = "\u25cc"


# mbedtls' "certificate verification failed", as MicroPython raises it.
MBEDTLS_ERR_X509_CERT_VERIFY_FAILED = -0x2700


class HostBoard(Board):
    """A Board over the stand-ins; the fake Wi-Fi also gates the real sockets.

    Flash: with a `state_file` the boot counter lives in that real file (so it counts
    on across runs of the host runner), else in memory for this board's lifetime.

    What a Pico W does that a computer would not, played on request:
    - `internet = False`: the router's uplink is gone; connections drop and fail.
    - `dns_delay_s`, `dns_fails`: getaddrinfo() blocks the whole loop for that long,
      as MicroPython's does, running timer callbacks meanwhile, then fails or not.
    - a verified TLS connection checks the certificate's dates against the board's
      clock (the fake RTC), as mbedtls on rp2 does.
    """

    def __init__(self, machine, network, state_file=None):
        super().__init__(machine, network)
        self._tls_contexts = {}
        self._verifying = set()
        self.state_file = state_file
        self.flash = FakeFlash()
        self.internet = True
        self.dns_delay_s = 0.0
        self.dns_fails = False
        self.lookups = 0
        self.connection_attempts = 0
        self._writers = set()

    def getaddrinfo(self, host, port):
        self.lookups += 1
        deadline = time.monotonic() + self.dns_delay_s
        while time.monotonic() < deadline:  # Blocks the loop, as on the board.
            self.machine.service_timers()
            time.sleep(0.01)
        if self.dns_fails or not self.network.available:
            raise OSError(-2, "name not found (the simulated DNS does not answer)")
        return "127.0.0.1" if host == "localhost" else host

    def set_internet(self, up):
        self.internet = bool(up)
        if not up:
            for writer in list(self._writers):
                writer.close()

    def read_file(self, path):
        if self.state_file is None:
            return self.flash.read_file(path)
        return super().read_file(path)

    def write_file(self, path, data):
        if self.state_file is None:
            self.flash.write_file(path, data)
        else:
            super().write_file(path, data)

    def tls_context(self, ca_file=None):
        # Loading certificates blocks: HostBell builds the context up front, and reuses it.
        if ca_file not in self._tls_contexts:
            self._tls_contexts[ca_file] = context = super().tls_context(ca_file)
            if ca_file:
                self._verifying.add(id(context))
        return self._tls_contexts[ca_file]

    async def open_connection(self, host, port, ssl=None, server_hostname=None):
        self.connection_attempts += 1
        if not self.network.available:
            raise OSError(113, "EHOSTUNREACH (the simulated Wi-Fi is down)")
        if not self.internet:
            raise OSError(113, "EHOSTUNREACH (the simulated internet is down)")
        reader, writer = await super().open_connection(host, port, ssl, server_hostname)
        if ssl is not None and id(ssl) in self._verifying:
            self._check_certificate_dates(writer)
        self._writers.add(writer)
        return reader, writer

    def _check_certificate_dates(self, writer):
        certificate = writer.get_extra_info("peercert") or {}
        now = self.clock_s()
        not_before = ssl_module.cert_time_to_seconds(certificate["notBefore"])
        not_after = ssl_module.cert_time_to_seconds(certificate["notAfter"])
        if not not_before <= now <= not_after:
            writer.close()
            raise OSError(
                MBEDTLS_ERR_X509_CERT_VERIFY_FAILED,
                "MBEDTLS_ERR_X509_CERT_VERIFY_FAILED: the board's clock is outside the "
                "certificate's validity",
            )


class HostBell:
    """Run, press and observe one simulated bell."""

    def __init__(
        self,
        broker="127.0.0.1",
        port=1883,
        topic="SunFounder MQTT Test",
        *,
        legacy=False,
        buttons=4,
        username=None,
        password=None,
        tls=False,
        ca_file=None,
        settings=None,
        unique_id=None,
        sink=None,
        key=None,
        state_file=None,
        clock_set=True,
        led_pins=None,
    ):
        """Prepare a bell; `key` is its BELL_KEY (64 hex characters, None: unsigned).

        `state_file` is the file that keeps the boot counter across runs of the host
        runner; without it the counter lives in memory, counting up at each reboot().
        `clock_set=False` starts the board's clock in 2021, as a Pico W's starts, so a
        verified TLS connection needs NTP first; by default it has the computer's time.
        `led_pins=True` gives each table an LED (LED_PINS), or pass the pins.
        """
        values = {
            "WIFI_SSID": "host-wifi",
            "WIFI_PASSWORD": "host-wifi",
            "BROKER": broker,
            "PORT": port,
            "TOPIC": topic,
            "LEGACY": legacy,
            "BUTTON_PINS": DEFAULT_PINS[:buttons],
            "MQTT_USER": username or None,
            "MQTT_PASSWORD": password or None,
            "TLS": tls,
            "TLS_CA_FILE": ca_file,
            "WIFI_TIMEOUT_S": 2,
            "BELL_KEY": key,
        }
        if led_pins is True:
            led_pins = DEFAULT_LED_PINS[:buttons]
        if led_pins:
            values["LED_PINS"] = tuple(led_pins)
        if state_file is not None:
            values["BOOT_FILE"] = str(state_file)
        values.update(settings or {})
        self.settings = Settings(values)
        # A random id per simulated bell: two runners on one computer must not share a
        # client id, or the broker would keep disconnecting one for the other.
        self.machine = FakeMachine(unique_id or os.urandom(8))
        if clock_set:
            self.machine.clock_base = int(time.time())
        self.network = FakeNetwork()
        self.board = HostBoard(self.machine, self.network, state_file)
        self.machine.on_reset = self._on_reset
        if tls:  # Reads certificate files: construct HostBell off the event loop for TLS.
            self.board.tls_context(ca_file)
        self._sink = sink or _LOGGER.info
        self.bell = None
        self.boots = 0
        self.queued = []  # Every press the firmware detected, in order.
        self.delivered = []  # Every press the broker acknowledged, in order.
        self.dropped = []
        # on_event(event, press): every firmware event, as Bell.listener gets them.
        self.on_event = None
        self._changed = asyncio.Event()
        self._task = None
        self._watchdog_task = None
        self._reboot_task = None
        self._pressed_level = 0 if self.settings.ACTIVE_LOW else 1

    # Life cycle ----------------------------------------------------------------------

    async def start(self):
        """Boot the firmware on the current event loop."""
        self.boots += 1
        self.bell = Bell(self.settings, self.board, sink=self._sink)
        self.bell.listener = self._listen
        self._task = asyncio.create_task(self.bell.run(), name="pico_bell")
        if self._watchdog_task is None:
            self._watchdog_task = asyncio.create_task(self._watch(), name="pico_bell watchdog")

    async def stop(self, graceful=True):
        """Stop; graceful publishes `offline` and DISCONNECTs, else the will fires."""
        if self._watchdog_task is not None:
            self._watchdog_task.cancel()
            await asyncio.gather(self._watchdog_task, return_exceptions=True)
            self._watchdog_task = None
        await self._halt(graceful)

    async def crash(self):
        """Lose power, as far as the broker can tell: no DISCONNECT, so the will fires."""
        await self.stop(graceful=False)

    async def reboot(self):
        """machine.reset(): a fresh firmware state (queue gone, boot + 1, seq from 1)."""
        await self._halt(graceful=False)
        await self.start()

    async def _halt(self, graceful):
        if self._task is None:
            return
        self.bell.stop(graceful)
        task, self._task = self._task, None
        await asyncio.gather(task, return_exceptions=True)

    def _on_reset(self):
        # Called by the firmware's own task, which the reboot cancels: reboot from outside.
        self._reboot_task = asyncio.get_running_loop().create_task(self.reboot())

    async def _watch(self):
        # The RP2040 watchdog resets a board whose main loop stopped feeding it.
        while True:
            await asyncio.sleep(0.5)
            wdt = self.machine.wdt
            if self._task is not None and wdt is not None and wdt.expired(ticks_ms()):
                _LOGGER.error("watchdog not fed for %d ms: resetting the board", wdt.timeout)
                self.machine.wdt = None
                await self.reboot()

    # Buttons -------------------------------------------------------------------------

    def pin(self, button):
        return self.settings.BUTTON_PINS[button - 1]

    async def press(self, button, hold=0.12, bounce=True):
        """Press and release a button; return the Press the firmware queued.

        A short press is queued DOUBLE_PRESS_MS (400 ms) after its release, once no
        second press followed; so this returns about half a second after it began.
        """
        return await self._push(button, hold, bounce)

    async def double_press(self, button, hold=0.1, gap=0.15, bounce=True):
        """Press a button twice in quick succession; return the queued double press."""
        before = len(self.queued)
        await self._push(button, hold, bounce, wait=False)
        await asyncio.sleep(gap)
        return await self._push(button, hold, bounce, before=before)

    async def long_press(self, button, hold=None, bounce=True):
        """Hold a button past the long-press time; return the queued Press."""
        hold = hold if hold is not None else self.settings.LONG_PRESS_MS / 1000 + 0.2
        return await self._push(button, hold, bounce)

    async def _push(self, button, hold, bounce, wait=True, before=None):
        if not 1 <= button <= len(self.settings.BUTTON_PINS):
            raise ValueError(f"no button {button}")
        pin = self.pin(button)
        before = len(self.queued) if before is None else before
        down, up = self._pressed_level, 1 - self._pressed_level
        if bounce:  # Contacts chatter for a moment on the way down and up.
            for level in (down, up, down, up):
                self.machine.drive(pin, level)
        self.machine.drive(pin, down)
        await asyncio.sleep(hold)
        if bounce:
            for level in (up, down):
                self.machine.drive(pin, level)
        self.machine.drive(pin, up)
        if not wait:
            return None
        await self.wait_until(lambda: len(self.queued) > before, timeout=2)
        return self.queued[before]

    # Wi-Fi ---------------------------------------------------------------------------

    def set_wifi(self, up):
        """Take the simulated Wi-Fi away (the bell drops its link) or bring it back."""
        self.network.available = bool(up)

    def set_internet(self, up):
        """Cut the uplink behind a working Wi-Fi (connections drop, DNS fails) or mend it."""
        self.board.set_internet(up)
        self.board.dns_fails = not up

    # Observing -----------------------------------------------------------------------

    @property
    def connected(self):
        return self.bell is not None and self.bell.state == led.CONNECTED

    @property
    def boot(self):
        """The running firmware's boot number (None before its first start)."""
        return None if self.bell is None else self.bell.boot

    @property
    def table_calls(self):
        """What the bell shows per table: "i" idle, "c" calling, "a" acknowledged."""
        if self.bell is None:
            return "i" * len(self.settings.BUTTON_PINS)
        return self.bell.calls.states

    @property
    def is_open(self):
        return self.bell is None or self.bell.calls.is_open

    @property
    def table_led_levels(self):
        """The table LEDs' pin levels right now (0/1), in table order."""
        return [self.machine.line(pin).level for pin in self.settings.LED_PINS]

    def led_line(self):
        """The tables' LEDs for a terminal, e.g. "LEDs: 1 ● 2 ◐ 3 ○ 4 ○"."""
        if not self.is_open:
            marks = [CLOSED_SYMBOL] * len(self.table_calls)
        else:
            marks = [LED_SYMBOLS.get(call, "?") for call in self.table_calls]
        line = "LEDs: " + " ".join(f"{n} {mark}" for n, mark in enumerate(marks, 1))
        return line + ("  (closed)" if not self.is_open else "")

    @property
    def led_on(self):
        return bool(self.machine.line(self.settings.LED_PIN).level)

    def _listen(self, event, press):
        if event == "queued":
            self.queued.append(press)
        elif event == "delivered":
            self.delivered.append(press)
        elif event == "dropped":
            self.dropped.append(press)
        self._changed.set()
        if self.on_event is not None:
            self.on_event(event, press)

    async def wait_until(self, condition, timeout=10):
        """Wait until `condition()` holds, re-checking on every firmware event."""
        async with asyncio.timeout(timeout):
            while not condition():
                self._changed.clear()
                try:
                    async with asyncio.timeout(0.1):
                        await self._changed.wait()
                except TimeoutError:
                    pass

    async def wait_connected(self, timeout=10):
        await self.wait_until(lambda: self.connected, timeout)

    async def wait_delivered(self, what=1, timeout=10):
        """Wait for a given Press, a list of them, or a number of deliveries in total."""
        if isinstance(what, int):
            await self.wait_until(lambda: len(self.delivered) >= what, timeout)
            return
        wanted = what if isinstance(what, list | tuple) else [what]
        await self.wait_until(lambda: all(p in self.delivered for p in wanted), timeout)


def describe_press(press):
    kind = press.kind.replace("_", " ")  # "press", "long press", "double press"
    return f"button {press.button} {kind} (seq {press.seq})"
