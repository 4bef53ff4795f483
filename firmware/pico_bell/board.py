"""The thin layer over the hardware: pins, LED, watchdog, unique id, sockets.

Everything here is a few lines around `machine`, `network`, `socket`, `ssl` and
`os`. The host runner passes stand-ins for `machine` and `network`, and the rest of
the firmware only talks to a Board, so the same modules run on a PC.
"""

import asyncio
import sys

from .ticks import ticks_add, ticks_diff, ticks_ms

MICROPYTHON = sys.implementation.name == "micropython"

# The RP2040 watchdog cannot count longer than this.
RP2040_MAX_WDT_MS = 8388
# ENOENT: 2 on the board and on computers, 44 under Emscripten (the WebAssembly build
# the tests run MicroPython in).
_NO_SUCH_FILE = (2, 44)
# RP2040 datasheet, IO_BANK0 and PADS_BANK0 registers: GPIOn_CTRL at IO_BANK0 + 8n + 4,
# the GPIOn pad control at PADS_BANK0 + 4n + 4.
_GPIO_CTRL = 0x40014004
_PADS = 0x4001C004
# How long a DNS lookup may hold the loop with the watchdog fed: two DNS servers of
# about 7 s each, and some room.
LOOKUP_GUARD_MS = 20000


class Board:
    """Hardware access for the bell; pass stand-in modules to run it elsewhere."""

    def __init__(self, machine=None, network=None):
        if machine is None:
            import machine
        if network is None:
            import network
        self.machine = machine
        self.network = network
        self._buttons = []
        self._led = None
        self._wdt = None
        self._wdt_timeout = RP2040_MAX_WDT_MS
        self._feeder = None

    # Identity and randomness ---------------------------------------------------------

    def unique_id_hex(self):
        import binascii

        return binascii.hexlify(self.machine.unique_id()).decode()

    def random_bytes(self, count):
        try:
            import os

            return os.urandom(count)
        except (ImportError, AttributeError):  # Ports without os.urandom.
            import random

            return bytes([random.getrandbits(8) for _ in range(count)])

    # Flash ---------------------------------------------------------------------------

    def read_file(self, path):
        """Return a small file's bytes, or None if there is no such file."""
        try:
            with open(path, "rb") as file:
                return file.read(64)  # The bell only keeps tiny files; never more.
        except OSError as err:
            if err.args and err.args[0] in _NO_SUCH_FILE:
                return None
            raise

    def write_file(self, path, data):
        """Replace a small file so a power cut leaves the old or the new content."""
        import os

        temporary = path + ".tmp"
        with open(temporary, "wb") as file:
            file.write(data)
        try:
            os.rename(temporary, path)  # Replaces `path` on littlefs and POSIX.
        except OSError:
            os.remove(path)  # A file system that will not rename over a file.
            os.rename(temporary, path)

    # Buttons -------------------------------------------------------------------------

    def setup_buttons(self, pins, active_low, edge_logs):
        """Configure the button pins and attach an IRQ that records edges only.

        With ACTIVE_LOW the internal pull-up holds the pin high and the button pulls it
        to GND; otherwise the pin has no internal pull and relies on the tutorial's
        external 10 kOhm pull-downs.
        """
        Pin = self.machine.Pin
        pull = Pin.PULL_UP if active_low else None
        trigger = Pin.IRQ_RISING | Pin.IRQ_FALLING
        self._buttons = []
        for number, log in zip(pins, edge_logs):
            pin = Pin(number, Pin.IN, pull)
            handler = _edge_handler(log)
            try:
                # Hard IRQ: runs at the edge itself, even while the main loop is busy.
                pin.irq(handler=handler, trigger=trigger, hard=True)
            except TypeError:  # A port without hard IRQs.
                pin.irq(handler=handler, trigger=trigger)
            self._buttons.append(pin)

    def button_levels(self):
        """Raw levels (0/1) of the button pins, in button order."""
        return [pin.value() for pin in self._buttons]

    def first_button_level(self, pin, active_low):
        """Read one button without IRQs (for the boot-time maintenance check)."""
        Pin = self.machine.Pin
        return Pin(pin, Pin.IN, Pin.PULL_UP if active_low else None).value()

    # LED -----------------------------------------------------------------------------

    def led(self, on, pin="LED"):
        if self._led is None:
            Pin = self.machine.Pin
            try:
                self._led = Pin(pin, Pin.OUT)
            except (TypeError, ValueError):
                self._led = Pin(25, Pin.OUT)  # A Pico without W names it GP25.
        self._led.value(1 if on else 0)

    def setup_table_leds(self, pins):
        """One output per table (LED_PINS), all off."""
        Pin = self.machine.Pin
        self._table_leds = [Pin(pin, Pin.OUT, value=0) for pin in pins]

    def table_led(self, index, on):
        self._table_leds[index].value(1 if on else 0)

    # Battery -------------------------------------------------------------------------

    def read_vsys_mv(self):
        """Return the supply voltage VSYS in mV, read through the ADC, or None.

        On a Pico W, VSYS/3 reaches ADC3 on GPIO29, which is also the clock of the
        wireless chip's SPI bus, and the divider is only connected while GPIO25 (the
        chip's CS) is high (Pico W datasheet, "Pico W pinout": GPIO25 "wireless SPI CS;
        when high also enables GPIO29 ADC pin to read VSYS"; GPIO29 "wireless SPI
        CLK/ADC mode (ADC3) to measure VSYS/3"). As discussed for MicroPython in
        micropython/micropython#10406 and pimoroni/pimoroni-pico#706: drive GPIO25
        high, make GPIO29 a plain input, read ADC channel 3 (a channel number, so
        MicroPython leaves the pin as configured; rp2 quickref, "ADC"), and give
        GPIO29 back to the wireless driver. Two things that discussion leaves open
        are handled here: the CYW43 driver runs from the PendSV interrupt on rp2, so
        interrupts are disabled for the few microseconds of the read (no SPI transfer
        can start meanwhile; between transfers CS is high and the driver selects
        GPIO29's PIO function again before each one, pico-sdk cyw43_bus_pio_spi.c
        start_spi_comms), and both pins' control and pad registers are saved and
        written back exactly rather than assuming which PIO the driver uses. The first
        reading is dropped, as pico-examples adc/read_vsys drops its first samples (it
        found them low). The pin and ADC objects are made before interrupts go off.
        """
        machine = self.machine
        mem32 = machine.mem32
        registers = (_GPIO_CTRL + 8 * 25, _PADS + 4 * 25, _GPIO_CTRL + 8 * 29, _PADS + 4 * 29)
        Pin = machine.Pin
        chip_select = Pin(25)  # Pin(id) alone changes nothing.
        clock = Pin(29)
        adc = machine.ADC(3)
        saved = [0, 0, 0, 0]
        irq = machine.disable_irq()
        for index in range(4):
            saved[index] = mem32[registers[index]]
        try:
            chip_select.init(Pin.OUT, value=1)
            clock.init(Pin.IN)
            adc.read_u16()
            raw = (adc.read_u16() + adc.read_u16() + adc.read_u16()) // 3
        finally:
            for index in range(4):
                mem32[registers[index]] = saved[index]
            machine.enable_irq(irq)
        return raw * 3 * 3300 // 65535

    # Watchdog ------------------------------------------------------------------------

    def start_watchdog(self, timeout_ms):
        """Start the hardware watchdog; once started it cannot be stopped."""
        timeout_ms = min(timeout_ms, RP2040_MAX_WDT_MS)
        self._wdt_timeout = timeout_ms
        self._wdt = self.machine.WDT(timeout=timeout_ms)
        return self._wdt

    def feed_watchdog(self):
        if self._wdt is not None:
            self._wdt.feed()

    def keep_watchdog_fed(self):
        """After Ctrl-C, keep the board alive at the REPL by feeding from a timer."""
        if self._wdt is None or self._feeder is not None:
            return
        wdt = self._wdt
        self._feeder = self.machine.Timer(period=1000, callback=lambda _timer: wdt.feed())

    def reset(self):
        self.machine.reset()

    # Network -------------------------------------------------------------------------

    def wlan(self):
        return self.network.WLAN(self.network.STA_IF)

    def rssi(self):
        """The Wi-Fi signal in dBm, or None if the radio cannot say."""
        try:
            return int(self.wlan().status("rssi"))
        except (OSError, TypeError, ValueError, AttributeError):
            return None

    def resolve(self, host, port, guard_ms=LOOKUP_GUARD_MS):
        """Return an address to connect to for `host`; raise OSError if it has none.

        MicroPython's getaddrinfo() blocks the whole loop (modlwip.c waits for lwIP's
        DNS callback, retrying each DNS server for several seconds) and
        asyncio.open_connection() calls it on every connect. So the bell looks names
        up itself, keeps the address (Bell._lookup), and feeds the watchdog from a
        timer during the lookup: that wait loop runs scheduled callbacks, which is
        how machine.Timer's callbacks run on rp2 (mp_sched_schedule). The feeding
        ends after `guard_ms`, so a lookup that never returns still resets the board.
        An IP address needs no lookup.
        """
        if _is_ip_address(host):
            return host
        feeder = self.feed_watchdog_for(guard_ms)
        try:
            return self.getaddrinfo(host, port)
        finally:
            if feeder is not None:
                feeder.deinit()

    def getaddrinfo(self, host, port):
        """The blocking lookup itself (CPython resolves in the event loop: nothing to do)."""
        if not MICROPYTHON:
            return host
        import socket

        address = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)[0][-1]
        if isinstance(address, tuple):
            return address[0]
        return host  # An older port returns a packed address: let open_connection resolve.

    def feed_watchdog_for(self, duration_ms):
        """Feed the watchdog from a timer for at most `duration_ms`; return the timer."""
        wdt = self._wdt
        if wdt is None:
            return None
        deadline = ticks_add(ticks_ms(), duration_ms)

        def feed(timer):
            if ticks_diff(deadline, ticks_ms()) > 0:
                wdt.feed()
            else:
                timer.deinit()

        wdt.feed()
        return self.machine.Timer(period=max(100, self._wdt_timeout // 4), callback=feed)

    # Clock ---------------------------------------------------------------------------

    def clock_s(self):
        """The wall clock as Unix time (seconds since 1970), from the RTC."""
        from .clock import from_datetime

        return from_datetime(self.machine.RTC().datetime())

    def set_clock(self, unix):
        from .clock import to_datetime

        self.machine.RTC().datetime(to_datetime(unix))

    async def udp_request(self, address, port, data, timeout_ms):
        """Send one datagram to `address` (an IP) and return the first reply, or None.

        A non-blocking socket polled from asyncio: nothing else waits meanwhile.
        """
        import socket

        target = socket.getaddrinfo(address, port)[0][-1]  # An IP address: no DNS.
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            sock.sendto(data, target)
            waited = 0
            while waited < timeout_ms:
                try:
                    return sock.recv(128)
                except OSError:  # EAGAIN: nothing yet.
                    pass
                await asyncio.sleep(0.02)
                waited += 20
            return None
        finally:
            sock.close()

    def tls_context(self, ca_file=None):
        import ssl

        if MICROPYTHON:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            if ca_file:
                context.load_verify_locations(cafile=ca_file)
                context.verify_mode = ssl.CERT_REQUIRED
            else:
                context.verify_mode = ssl.CERT_NONE  # Encrypted but not authenticated.
            return context
        return ssl.create_default_context(cafile=ca_file)

    async def open_connection(self, host, port, ssl=None, server_hostname=None):
        if ssl:
            return await asyncio.open_connection(
                host, port, ssl=ssl, server_hostname=server_hostname
            )
        return await asyncio.open_connection(host, port)


def _is_ip_address(host):
    parts = host.split(".")
    return len(parts) == 4 and all(part.isdigit() and int(part) < 256 for part in parts)


def _edge_handler(log):
    # Created once here; at each edge the handler only stores the level and the time.
    # In a hard IRQ nothing may allocate: a method call (LOAD_METHOD), a small int from
    # ticks_ms() and stores into preallocated arrays do not.
    def handler(pin):
        log.record(pin.value(), ticks_ms())

    return handler
