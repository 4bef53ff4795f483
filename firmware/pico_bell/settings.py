"""The bell's settings: config.py values over defaults, checked once at boot.

config.py is a plain module of UPPER_CASE names (see config.example.py). Names it
leaves out take the defaults below, so an old config keeps working after an update.
A mistake stops the firmware at boot with a message saying which setting is wrong,
instead of failing later in some less obvious way.
"""

from .signing import parse_key

DEFAULTS = {
    # Wi-Fi
    "WIFI_SSID": None,
    "WIFI_PASSWORD": None,
    "WIFI_COUNTRY": None,  # Two-letter code, e.g. "JP"; None keeps the firmware's.
    "HOSTNAME": None,  # Name on the network; None keeps the firmware's default.
    "WIFI_TIMEOUT_S": 20,
    # Broker
    "BROKER": "broker.hivemq.com",
    "PORT": None,  # None: 1883, or 8883 with TLS.
    "MQTT_USER": None,
    "MQTT_PASSWORD": None,
    "TLS": False,
    "TLS_CA_FILE": None,  # A CA certificate file on the board; verifies the broker.
    # Sets the clock before a verified TLS connection (certificates have dates).
    "NTP_HOST": "pool.ntp.org",
    "NTP_PORT": 123,
    "TOPIC": "SunFounder MQTT Test",
    # 64 hex characters from Home Assistant's config flow: signs every message.
    # None: unsigned, for an integration set up without a key (see the README).
    "BELL_KEY": None,
    "STATUS_TOPIC": None,  # None: TOPIC + "/status".
    "CLIENT_ID": None,  # None: "bell-" + the board's unique id in hex.
    "QOS": 1,
    "KEEPALIVE_S": 30,
    "CONNECT_TIMEOUT_S": 10,
    "ACK_TIMEOUT_S": 10,
    "BACKOFF_MIN_S": 1,
    "BACKOFF_MAX_S": 60,
    "MAX_IN_FLIGHT": 8,
    # Buttons
    "BUTTON_PINS": (16, 17, 18, 19),  # Button N is BUTTON_PINS[N - 1].
    "ACTIVE_LOW": False,  # False: tutorial wiring. True: button to GND, internal pull-up.
    "DEBOUNCE_MS": 50,
    "LONG_PRESS_MS": 1000,
    # Two short presses this close are one "double_press"; a single one is then sent
    # this long after its release. 0: no double presses, every press sent at once.
    "DOUBLE_PRESS_MS": 400,
    # One LED per table (LED N is LED_PINS[N - 1]) showing its call; () for none.
    "LED_PINS": (),
    # True: the bell runs on a cell on VSYS (the kit's 18650): report its voltage.
    "BATTERY": False,
    # Behaviour
    "LEGACY": False,  # True: publish the tutorial's "button N is pressed" text.
    "QUEUE_SIZE": 64,
    "WATCHDOG": True,
    "WATCHDOG_MS": 8000,
    "LED_PIN": "LED",
    # Flash file with the boot counter that orders signed messages across reboots.
    "BOOT_FILE": "/bell_boot.txt",
}

# GPIOs the Pico W's wireless chip uses (GP23..GP25; GP29 is beyond the 0..28 range).
WIRELESS_PINS = (23, 24, 25)

# The protocol's limit on tables (buttons) per bell.
MAX_TABLES = 16

# The integration remembers this many recent seqs to recognise re-sent presses; a
# queue longer than that could replay a press it has already forgotten.
MAX_QUEUE_SIZE = 500


class ConfigError(ValueError):
    """A setting in config.py has a value the bell cannot use."""


class Settings:
    """Every setting as an attribute, e.g. settings.TOPIC."""

    def __init__(self, values=None):
        values = values or {}
        unknown = [name for name in values if name not in DEFAULTS]
        if unknown:
            raise ConfigError("unknown setting(s): %s" % ", ".join(sorted(unknown)))
        for name, default in DEFAULTS.items():
            setattr(self, name, values.get(name, default))
        if self.PORT is None:
            self.PORT = 8883 if self.TLS else 1883
        if self.STATUS_TOPIC is None:
            self.STATUS_TOPIC = self.TOPIC + "/status"
        self.BUTTON_PINS = tuple(self.BUTTON_PINS)
        self.LED_PINS = tuple(self.LED_PINS or ())
        self.validate()
        self.key = parse_key(self.BELL_KEY)  # The 32 key bytes, or None.

    @classmethod
    def from_module(cls, module):
        """Read the UPPER_CASE names of a config module; a misspelt one is an error."""
        values = {}
        for name in dir(module):
            if name.isupper() and not name.startswith("_"):
                values[name] = getattr(module, name)
        return cls(values)

    def validate(self):
        try:
            parse_key(self.BELL_KEY)
        except ValueError as err:
            raise ConfigError(str(err)) from None
        _check(
            not (self.LEGACY and self.BELL_KEY),
            "LEGACY = True sends the tutorial's text, which cannot be signed: "
            "use it without BELL_KEY, or set LEGACY = False",
        )
        _check(isinstance(self.BOOT_FILE, str) and self.BOOT_FILE, "BOOT_FILE must be a path")
        _check(
            self.NTP_HOST is None or (isinstance(self.NTP_HOST, str) and self.NTP_HOST),
            "NTP_HOST must be a host name, or None",
        )
        _check(_int(self.NTP_PORT) and 0 < self.NTP_PORT < 65536, "NTP_PORT must be 1..65535")
        _check(isinstance(self.BROKER, str) and self.BROKER, "BROKER must be a host name")
        _check(_int(self.PORT) and 0 < self.PORT < 65536, "PORT must be 1..65535")
        _check(isinstance(self.TOPIC, str) and self.TOPIC, "TOPIC must be a non-empty text")
        for topic in (self.TOPIC, self.STATUS_TOPIC):
            _check("+" not in topic and "#" not in topic, "topics cannot contain + or #")
        _check(self.QOS in (0, 1), "QOS must be 0 or 1")
        _check(
            self.MQTT_PASSWORD is None or self.MQTT_USER is not None,
            "MQTT_PASSWORD needs MQTT_USER",
        )
        _check(len(self.BUTTON_PINS) >= 1, "BUTTON_PINS needs at least one pin")
        for pin in self.BUTTON_PINS:
            _check(
                _int(pin) and 0 <= pin <= 28 and pin not in WIRELESS_PINS,
                "BUTTON_PINS: GP%s is not a free GPIO on a Pico W" % (pin,),
            )
        _check(len(set(self.BUTTON_PINS)) == len(self.BUTTON_PINS), "BUTTON_PINS has duplicates")
        _check(len(self.BUTTON_PINS) <= MAX_TABLES, "at most %d buttons" % MAX_TABLES)
        for pin in self.LED_PINS:
            _check(
                _int(pin) and 0 <= pin <= 28 and pin not in WIRELESS_PINS,
                "LED_PINS: GP%s is not a free GPIO on a Pico W" % (pin,),
            )
            _check(pin not in self.BUTTON_PINS, "LED_PINS: GP%s is a button's pin" % (pin,))
        _check(len(set(self.LED_PINS)) == len(self.LED_PINS), "LED_PINS has duplicates")
        _check(
            len(self.LED_PINS) <= len(self.BUTTON_PINS),
            "LED_PINS: more LEDs than buttons (one LED per table)",
        )
        _check(
            _int(self.DOUBLE_PRESS_MS) and 0 <= self.DOUBLE_PRESS_MS <= 1000,
            "DOUBLE_PRESS_MS must be 0..1000",
        )
        _check(self.BATTERY in (True, False), "BATTERY must be True or False")
        _check(
            _int(self.QUEUE_SIZE) and 1 <= self.QUEUE_SIZE <= MAX_QUEUE_SIZE,
            "QUEUE_SIZE must be 1..%d" % MAX_QUEUE_SIZE,
        )
        _check(_int(self.MAX_IN_FLIGHT) and self.MAX_IN_FLIGHT >= 1, "MAX_IN_FLIGHT must be >= 1")
        _check(_int(self.DEBOUNCE_MS) and 0 <= self.DEBOUNCE_MS < 1000, "DEBOUNCE_MS: 0..999")
        _check(
            _int(self.LONG_PRESS_MS) and self.LONG_PRESS_MS > self.DEBOUNCE_MS,
            "LONG_PRESS_MS must be longer than DEBOUNCE_MS",
        )
        # The broker drops a client after 1.5 x keepalive of silence; a dead link should
        # be noticed within about a minute, hence the upper bound.
        _check(
            _int(self.KEEPALIVE_S) and 5 <= self.KEEPALIVE_S <= 60,
            "KEEPALIVE_S must be 5..60",
        )
        _check(0 < self.BACKOFF_MIN_S <= self.BACKOFF_MAX_S, "need 0 < BACKOFF_MIN_S <= MAX")
        _check(self.CONNECT_TIMEOUT_S > 0 and self.ACK_TIMEOUT_S > 0, "timeouts must be > 0")
        _check(
            _int(self.WATCHDOG_MS) and 1000 <= self.WATCHDOG_MS <= 8388,
            "WATCHDOG_MS must be 1000..8388 (the RP2040 maximum)",
        )

    def describe(self):
        """The settings worth logging at boot, with no secret in them."""
        if self.LEGACY:
            payloads = "legacy text"
        else:
            payloads = "signed JSON" if self.BELL_KEY else "unsigned JSON (no BELL_KEY)"
        return "broker %s:%d%s, topic %r, buttons on GP%s (%s), %s payloads, QoS %d" % (
            self.BROKER,
            self.PORT,
            " (TLS)" if self.TLS else "",
            self.TOPIC,
            ", GP".join(str(pin) for pin in self.BUTTON_PINS),
            "active low, internal pull-ups" if self.ACTIVE_LOW else "active high",
            payloads,
            self.QOS,
        )


def _int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _check(condition, message):
    if not condition:
        raise ConfigError(message)
