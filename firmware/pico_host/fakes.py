"""Stand-ins for MicroPython's `machine` and `network` modules.

They give the firmware what it uses on a Pico W - Pin with irq(), WDT, Timer,
unique_id(), reset(), WLAN - so the unchanged firmware runs on a computer. Plain
Python that also runs on MicroPython, so the firmware's own tests can use them under
the MicroPython WebAssembly build too.
"""

from pico_bell.clock import from_datetime, to_datetime
from pico_bell.ticks import ticks_add, ticks_diff, ticks_ms

# Where a Pico W's RTC starts at every boot (ports/rp2/main.c): 2021-01-01 00:00 UTC.
PICO_BOOT_TIME = 1609459200


class Line:
    """One GPIO: its level, how it is configured, and its interrupt handler."""

    def __init__(self, ident):
        self.ident = ident
        self.level = 0
        self.mode = None
        self.pull = None
        self.handler = None
        self.trigger = 0
        self.handle = None  # The Pin object the handler receives.
        self.driven = False  # Set once something outside drove the line.


class FakeWDT:
    """Remembers when it was last fed; the host runner checks it for expiry.

    A feed that comes too late sets `bitten`: the real watchdog would have reset the
    board before it, even if nobody was looking at that moment (the loop was blocked).
    """

    def __init__(self, timeout=5000):
        self.timeout = timeout
        self.feeds = 0
        self.last_feed = ticks_ms()
        self.bitten = False

    def feed(self):
        now = ticks_ms()
        if ticks_diff(now, self.last_feed) > self.timeout:
            self.bitten = True
        self.feeds += 1
        self.last_feed = now

    def expired(self, now=None):
        now = ticks_ms() if now is None else now
        return self.bitten or ticks_diff(now, self.last_feed) > self.timeout


class FakeTimer:
    """A periodic soft timer: its callback runs when the machine services timers.

    On rp2 a machine.Timer callback is scheduled (mp_sched_schedule) and runs when
    MicroPython handles pending events: between bytecodes, and inside blocking waits
    such as getaddrinfo(). Fakes that block call FakeMachine.service_timers() to play
    that part.
    """

    def __init__(self, machine, period=-1, callback=None, mode=None):
        self._machine = machine
        self.period = period
        self.callback = callback
        self._due = ticks_add(ticks_ms(), period)
        machine.timers.append(self)

    def _service(self, now):
        if self.callback is not None and self.period > 0 and ticks_diff(now, self._due) >= 0:
            self._due = ticks_add(now, self.period)
            self.callback(self)

    def deinit(self):
        self.callback = None
        if self in self._machine.timers:
            self._machine.timers.remove(self)


class FakeRTC:
    """machine.RTC: starts where a Pico W's does, unless told the time."""

    def __init__(self, machine):
        self._machine = machine

    def datetime(self, value=None):
        machine = self._machine
        if value is None:
            elapsed = ticks_diff(ticks_ms(), machine.clock_set_at) // 1000
            return to_datetime(machine.clock_base + elapsed)
        machine.clock_base = from_datetime(value)
        machine.clock_set_at = ticks_ms()
        machine.clock_sets += 1
        return None


# RP2040 registers the VSYS reading saves and restores (see Board.read_vsys_mv).
GPIO_CTRL = 0x40014004
PADS = 0x4001C004
SIO_FUNCTION = 5
PIO1_FUNCTION = 7


class FakeADC:
    """ADC channel 3 of a Pico W: VSYS/3, but only while the pins are set up for it.

    With GPIO25 low or GPIO29 still the wireless chip's clock it reads what
    micropython/micropython#10406 reports (a few hundred counts); reads made with
    interrupts enabled are counted, as they could collide with a Wi-Fi transfer.
    """

    def __init__(self, machine, channel):
        self._machine = machine
        self.channel = channel

    def read_u16(self):
        machine = self._machine
        if not machine.irq_disabled:
            machine.unsafe_adc_reads += 1
        wl_cs = machine.line(25)
        clock_pin = machine.line(29)
        if self.channel != 3 or not wl_cs.level or clock_pin.mode != 0:
            return 608
        return min(65535, machine.vsys_mv * 65535 // (3 * 3300))


class FakeMachine:
    """What the firmware uses of `machine`; drive() plays the role of a finger."""

    def __init__(self, unique_id=b"\x00\x01\x02\x03\x04\x05\x06\x07"):
        self._unique_id = unique_id
        self.lines = {}
        self.wdt = None
        self.resets = 0
        self.on_reset = None
        self.Pin = _pin_class(self)
        self.timers = []
        self.clock_base = PICO_BOOT_TIME
        self.clock_set_at = ticks_ms()
        self.clock_sets = 0
        self.irq_disabled = 0
        self.unsafe_adc_reads = 0
        self.vsys_mv = 3900  # A charged 18650 cell.
        # What the wireless driver left in the pin registers (function, pads).
        self.mem32 = {
            GPIO_CTRL + 8 * 25: SIO_FUNCTION,
            PADS + 4 * 25: 0x56,
            GPIO_CTRL + 8 * 29: PIO1_FUNCTION,
            PADS + 4 * 29: 0x7E,
        }

    def line(self, ident):
        line = self.lines.get(ident)
        if line is None:
            line = self.lines[ident] = Line(ident)
        return line

    def unique_id(self):
        return self._unique_id

    def Timer(self, id=-1, period=-1, callback=None, mode=None):  # noqa: N802
        return FakeTimer(self, period, callback, mode)

    def RTC(self):  # noqa: N802 - the name machine uses
        return FakeRTC(self)

    def ADC(self, channel):  # noqa: N802 - the name machine uses
        return FakeADC(self, channel)

    def disable_irq(self):
        self.irq_disabled += 1
        return self.irq_disabled - 1

    def enable_irq(self, state):
        self.irq_disabled = state

    def service_timers(self):
        """Run the callbacks of timers that are due, as MicroPython does when it waits."""
        now = ticks_ms()
        for timer in list(self.timers):
            timer._service(now)

    def WDT(self, id=0, timeout=5000):  # noqa: N802 - the name machine uses
        self.wdt = FakeWDT(timeout)
        return self.wdt

    def reset(self):
        self.resets += 1
        if self.on_reset is not None:
            self.on_reset()
        else:
            raise SystemExit("machine.reset()")

    def drive(self, ident, level):
        """Set an input's level from outside, firing its IRQ on a matching edge."""
        line = self.line(ident)
        line.driven = True
        level = 1 if level else 0
        old, line.level = line.level, level
        if old == level or line.handler is None:
            return
        edge = self.Pin.IRQ_RISING if level else self.Pin.IRQ_FALLING
        if line.trigger & edge:
            line.handler(line.handle)


def _pin_class(machine):
    class Pin:
        IN = 0
        OUT = 1
        OPEN_DRAIN = 2
        PULL_UP = 1
        PULL_DOWN = 2
        IRQ_FALLING = 4
        IRQ_RISING = 8

        def __init__(self, ident, mode=-1, pull=-1, value=None):
            self._line = machine.line(ident)
            self.init(mode, pull, value)

        def init(self, mode=-1, pull=-1, value=None):
            line = self._line
            if mode in (Pin.IN, Pin.OUT) and isinstance(line.ident, int):
                ctrl = GPIO_CTRL + 8 * line.ident
                machine.mem32[ctrl] = SIO_FUNCTION  # As rp2's Pin.init selects SIO.
            if mode != -1:
                line.mode = mode
            if pull != -1:
                line.pull = pull
                if not line.driven:
                    line.level = 1 if pull == Pin.PULL_UP else 0
            if value is not None:
                line.level = 1 if value else 0

        def value(self, level=None):
            if level is None:
                return self._line.level
            self._line.level = 1 if level else 0
            return None

        def on(self):
            self._line.level = 1

        def off(self):
            self._line.level = 0

        def irq(self, handler=None, trigger=12, hard=False):
            line = self._line
            line.handler = handler
            line.trigger = trigger
            line.handle = self

    return Pin


# network --------------------------------------------------------------------------

STAT_IDLE = 0
STAT_CONNECTING = 1
STAT_GOT_IP = 3
STAT_NO_AP_FOUND = -2


class FakeWLAN:
    def __init__(self, network):
        self._network = network
        self._active = False
        self._joined = False
        self.settings = {}
        self.joins = 0
        self.ssid = None

    def active(self, state=None):
        if state is None:
            return self._active
        self._active = bool(state)
        return None

    def config(self, *names, **settings):
        if settings:
            self.settings.update(settings)
            return None
        return self.settings.get(names[0])

    def connect(self, ssid=None, key=None):
        self.ssid = ssid
        self.joins += 1
        self._joined = self._network.available

    def disconnect(self):
        self._joined = False

    def isconnected(self):
        return self._active and self._joined and self._network.available

    def status(self, name=None):
        if name == "rssi":
            if not self.isconnected():
                raise OSError(1, "EPERM (not connected)")
            return self._network.rssi
        if self.isconnected():
            return STAT_GOT_IP
        if not self._network.available:
            return STAT_NO_AP_FOUND
        return STAT_IDLE

    def ifconfig(self):
        return ("127.0.0.1", "255.0.0.0", "127.0.0.1", "127.0.0.1")


class FakeNetwork:
    """`network` with one WLAN; set `available` False to take the Wi-Fi away."""

    STA_IF = 0
    AP_IF = 1
    STAT_IDLE = STAT_IDLE
    STAT_CONNECTING = STAT_CONNECTING
    STAT_GOT_IP = STAT_GOT_IP
    STAT_NO_AP_FOUND = STAT_NO_AP_FOUND

    def __init__(self):
        self.available = True
        self.rssi = -61
        self.country_code = None
        self.host_name = None
        self._wlan = FakeWLAN(self)

    def WLAN(self, interface=0):  # noqa: N802 - the name network uses
        return self._wlan

    def country(self, code=None):
        if code is None:
            return self.country_code
        self.country_code = code
        return None

    def hostname(self, name=None):
        if name is None:
            return self.host_name
        self.host_name = name
        return None


# flash ----------------------------------------------------------------------------


class FakeFlash:
    """Small files kept in memory, for a Board without a real file system.

    Survives the simulated reboots of one board (it belongs to the board, not to the
    firmware), which is what a boot counter in flash needs.
    """

    def __init__(self):
        self.files = {}
        self.writes = 0

    def read_file(self, path):
        return self.files.get(path)

    def write_file(self, path, data):
        self.writes += 1
        self.files[path] = bytes(data)
