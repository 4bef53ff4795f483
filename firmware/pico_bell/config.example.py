# Service bell settings. Copy this file to config.py (same folder), fill it in and
# copy it to the board with the other files (see firmware/README.md).
# config.py holds your Wi-Fi password: it is git-ignored, never commit it.
# Names you leave out take the defaults listed in settings.py.

# --- Wi-Fi (2.4 GHz only) -----------------------------------------------------------
WIFI_SSID = "your-wifi-name"
WIFI_PASSWORD = "your-wifi-password"
WIFI_COUNTRY = None  # e.g. "JP", "GB", "US": enables the right Wi-Fi channels.

# --- MQTT broker --------------------------------------------------------------------
BROKER = "broker.hivemq.com"  # The tutorial's public broker, or your own (an IP works).
PORT = None  # None: 1883, or 8883 when TLS = True.
MQTT_USER = None  # Set both for a broker that wants a login.
MQTT_PASSWORD = None
TLS = False
TLS_CA_FILE = None  # e.g. "/ca.pem" (copied to the board): verifies the broker's certificate.
# With TLS_CA_FILE the bell first sets its clock from this time server (certificates
# have dates, and a Pico W's clock starts in 2021 at every boot).
NTP_HOST = "pool.ntp.org"

# The topic Home Assistant (or the HiveMQ web client) listens to. On a public broker,
# make it personal (e.g. "bistro-rossi/bell") so other kit users do not ring your bell.
TOPIC = "SunFounder MQTT Test"

# --- Signing ------------------------------------------------------------------------
# The key Home Assistant showed when you added the bell: paste its line here, e.g.
#   BELL_KEY = "3f1c...(64 hexadecimal characters)...9a0b"
# With it Home Assistant acts only on presses signed by this bell. None: unsigned
# messages, for an integration set up without a key. Keep it secret, like a password.
BELL_KEY = None

# --- Buttons ------------------------------------------------------------------------
# Button N is BUTTON_PINS[N - 1]. The tutorial wiring: GP16..GP19, each button to 3V3
# with a 10 kOhm pull-down to GND, so a pressed button reads high.
BUTTON_PINS = (16, 17, 18, 19)
# True: each button between its pin and GND, no resistors; internal pull-ups are used.
ACTIVE_LOW = False
LONG_PRESS_MS = 1000  # Held this long: a "long_press" (the guest cancels the call).
# Two short presses this close make one "double_press"; a single press is then sent
# this long after its release. 0: no double presses, every press sent at once.
DOUBLE_PRESS_MS = 400

# --- LEDs and battery ---------------------------------------------------------------
# One LED per table showing Home Assistant's answer (blinking: calling, steady: a
# waiter is on the way, off: idle). Each LED from its GPIO through a 330 Ohm resistor
# to GND, e.g. LED_PINS = (10, 11, 12, 13). () for none: the on-board LED shows it.
LED_PINS = ()
# True when the bell runs on the kit's 18650 cell (on VSYS): report its voltage.
BATTERY = False

# --- Behaviour ----------------------------------------------------------------------
# True: publish the tutorial's text "button N is pressed" instead of JSON (no seq, so a
# press re-sent after a lost acknowledgement can show twice; a long press sends the same text).
LEGACY = False
QUEUE_SIZE = 64  # Presses kept while offline; beyond that the oldest are dropped.
WATCHDOG = True  # Reset the board if the firmware hangs for about 8 s.
