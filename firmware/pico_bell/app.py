"""The bell: one asyncio loop that scans buttons, keeps the links up and publishes.

Three tasks share the loop:
- the scan loop (every 10 ms): drains the IRQ edge logs into the debouncers (and the
  double-press detectors), queues each press with the next seq, updates the uptime
  and feeds the watchdog;
- the network loop: joins Wi-Fi, connects to the broker with backoff, announces
  `online` (retained), subscribes to `<topic>/calls`, reports its health, and sends
  queued presses in order, each until its PUBACK;
- the LED loop: shows the connection state and the tables' calls, and blinks on each
  delivered press.

Only the scan loop feeds the hardware watchdog, and only while the network loop has
shown a sign of life recently, so a hang in either one resets the board.
"""

import asyncio

from . import VERSION, bootcount, clock
from . import led as ledstate
from .backoff import Backoff
from .board import Board
from .buttons import Debouncer, DoublePress, EdgeLog
from .calls import MAX_PAYLOAD, Calls
from .health import INTERVAL_MS as HEALTH_INTERVAL_MS
from .health import health_payload
from .mqtt import MQTTClient, MQTTError, describe
from .payload import OFFLINE, ONLINE, press_payload, status_payload
from .presses import Press, PressQueue, SeqCounter
from .settings import ConfigError, Settings
from .signing import Signer
from .ticks import Uptime, ticks_diff, ticks_ms
from .wifi import WiFi

SCAN_MS = 10
LED_MS = 50
# A connection that lasted this long was fine: the next outage starts the backoff over.
STABLE_SESSION_MS = 30000
# The network loop reports at least every second; this much silence means it hangs.
NETWORK_STALL_MS = 60000
# Look the broker's name up again after this many failed connects to the kept address;
# after a failed lookup, not again for LOOKUP_RETRY_MS: each lookup holds the whole
# loop, and during an internet outage every one of them fails after many seconds.
ADDRESS_RETRIES = 3
LOOKUP_RETRY_MS = 300000
# At most one log line a minute about refused calls messages (anyone can send them).
REFUSED_LOG_MS = 60000


class Bell:
    """The firmware's main object; `await bell.run()` until stop() is called."""

    def __init__(self, settings, board, sink=None, rand=None):
        self.settings = s = settings
        self.board = board
        self._sink = sink or print
        self.uptime = Uptime(ticks_ms())
        # Host runner and tests: listener(event, press) with event "queued",
        # "delivered", "dropped" (press is the dropped one), "state" or "calls" (the
        # tables' calls changed; press is None).
        self.listener = None
        count = len(s.BUTTON_PINS)
        self.edge_logs = [EdgeLog() for _ in range(count)]
        self.debouncers = [Debouncer(s.DEBOUNCE_MS, s.LONG_PRESS_MS) for _ in range(count)]
        # The tutorial's text reports every press: no double presses in legacy mode.
        window = 0 if s.LEGACY else s.DOUBLE_PRESS_MS
        self.gestures = [DoublePress(window) for _ in range(count)]
        self.queue = PressQueue(s.QUEUE_SIZE)
        self.seq = SeqCounter(1)
        self.signer = Signer(s.key) if s.key else None
        self.boot = None  # Read from flash and counted up when run() starts.
        self.calls = Calls(s.TOPIC + "/calls", count, self.signer)
        self.health_topic = s.TOPIC + "/health"
        self.backoff = Backoff(s.BACKOFF_MIN_S, s.BACKOFF_MAX_S, rand=rand)
        self.wifi = WiFi(board, s.WIFI_SSID, s.WIFI_PASSWORD, s.WIFI_COUNTRY, s.HOSTNAME, self.log)
        self.client_id = s.CLIENT_ID or "bell-" + board.unique_id_hex()
        self.mqtt = MQTTClient(
            self.client_id,
            s.BROKER,
            s.PORT,
            username=s.MQTT_USER,
            password=s.MQTT_PASSWORD,
            keepalive=s.KEEPALIVE_S,
            ssl=board.tls_context(s.TLS_CA_FILE) if s.TLS else None,
            server_hostname=s.BROKER,
            will=None,  # The signed "offline" of this boot, set before each connect.
            connect_timeout=s.CONNECT_TIMEOUT_S,
            ack_timeout=s.ACK_TIMEOUT_S,
            ping_timeout=min(10, s.KEEPALIVE_S / 2),
            open_connection=board.open_connection,
            log=self.log,
            # A calls message at its largest, with its topic and packet id.
            max_incoming=MAX_PAYLOAD + len(self.calls.topic.encode()) + 4,
        )
        self.mqtt.on_ack = self._on_ack
        self.mqtt.on_lost = self._on_lost
        self.mqtt.on_message = self._on_message
        self.state = ledstate.NO_WIFI
        self.stats = {"pressed": 0, "delivered": 0, "dropped": 0, "resent": 0, "connects": 0}
        self._wake = asyncio.Event()
        self._running = False
        self._graceful = True
        self._network_beat = 0
        self._stall_logged = False
        self._blink_until = None
        self._address = None  # The broker's last good address; kept through outages.
        self._address_failures = 0
        self._lookup_failed_at = None
        self._ntp_address = None
        self._verified_tls = bool(s.TLS and s.TLS_CA_FILE)
        self._health_n = 0
        self._health_due = 0
        self._battery_failed = False
        self._refused_logged_at = None

    # Logging -------------------------------------------------------------------------

    def log(self, message):
        """Print with the uptime; read it with `mpremote repl` (see README)."""
        ms = self.uptime.ms
        self._sink("%6d.%03d %s" % (ms // 1000, ms % 1000, message))

    def _notify(self, event, press=None):
        if self.listener is not None:
            try:
                self.listener(event, press)
            except Exception as err:  # A listener bug must not stop the bell.
                self.log("listener failed: %s" % describe(err))

    # Life cycle ----------------------------------------------------------------------

    async def run(self):
        s = self.settings
        self.log("service bell %s: %s" % (VERSION, s.describe()))
        self.boot = bootcount.advance(self.board, s.BOOT_FILE, self.log)
        self.log("client id %s, boot %d" % (self.client_id, self.boot))
        self.calls.start_boot(self.boot)
        self.board.setup_buttons(s.BUTTON_PINS, s.ACTIVE_LOW, self.edge_logs)
        if s.LED_PINS:
            self.board.setup_table_leds(s.LED_PINS)
        # A button already down (or stuck) at boot is not a press.
        for debouncer, level in zip(self.debouncers, self.board.button_levels()):
            debouncer.assume(self._is_pressed(level))
        if s.WATCHDOG:
            self.board.start_watchdog(s.WATCHDOG_MS)
        self._running = True
        self._network_beat = self.uptime.update(ticks_ms())
        tasks = [
            asyncio.create_task(self._network_loop()),
            asyncio.create_task(self._led_loop()),
        ]
        try:
            await self._scan_loop()
        finally:
            self._running = False
            for task in tasks:
                task.cancel()
            for task in tasks:
                try:
                    await task
                except asyncio.CancelledError:
                    pass
                except Exception as err:
                    self.log("task ended with %s" % describe(err))
            await self._leave()

    def stop(self, graceful=True):
        """End run(). Graceful: publish `offline` and DISCONNECT; else just drop the link."""
        self._graceful = graceful
        self._running = False
        self._wake.set()

    async def _leave(self):
        if self.mqtt.connected and self._graceful:
            try:
                await self.mqtt.publish(
                    self.settings.STATUS_TOPIC, self._status(OFFLINE), qos=0, retain=True
                )
            except (MQTTError, OSError):
                pass
            await self.mqtt.disconnect()
        else:
            await self.mqtt.close("stopped")
        self.log("stopped")

    # Buttons -------------------------------------------------------------------------

    def _is_pressed(self, level):
        return bool(level) != bool(self.settings.ACTIVE_LOW)

    async def _scan_loop(self):
        while self._running:
            self._scan()
            self._feed_watchdog()
            await asyncio.sleep(SCAN_MS / 1000)

    def _scan(self):
        # Drain first, then read the time: every drained edge is older than `now`.
        drained = [log.drain() for log in self.edge_logs]
        now_ticks = ticks_ms()
        now = self.uptime.update(now_ticks)
        levels = self.board.button_levels()
        for index, debouncer in enumerate(self.debouncers):
            gestures = self.gestures[index]
            for ticks, level in drained[index]:
                at = self.uptime.at(ticks, now_ticks)
                event = debouncer.edge(at, self._is_pressed(level))
                self._on_events(index, gestures.event(event, debouncer))
            event = debouncer.poll(now, self._is_pressed(levels[index]))
            self._on_events(index, gestures.event(event, debouncer))
            self._on_events(index, gestures.poll(now, debouncer))

    def _on_events(self, index, events):
        for event in events:
            self._on_event(index, event)

    def _on_event(self, index, event):
        kind, pressed_at = event
        press = Press(index + 1, kind, self.seq.next(), pressed_at)
        self.stats["pressed"] += 1
        self.log("button %d: %s, seq %d" % (press.button, kind, press.seq))
        dropped = self.queue.push(press)
        if dropped is not None:
            self.stats["dropped"] += 1
            self.log(
                "queue full (%d): dropped the oldest press, button %d seq %d; "
                "%d dropped since boot, reported in the health message"
                % (self.queue.size, dropped.button, dropped.seq, self.queue.total_dropped)
            )
            self._notify("dropped", dropped)
        self._notify("queued", press)
        self._wake.set()

    def _feed_watchdog(self):
        if self.uptime.ms - self._network_beat < NETWORK_STALL_MS:
            self.board.feed_watchdog()
        elif not self._stall_logged:
            self._stall_logged = True
            self.log("network task stalled: letting the watchdog reset the board")

    # LED -----------------------------------------------------------------------------

    async def _led_loop(self):
        s = self.settings
        lit = None
        tables_lit = [None] * len(s.LED_PINS)
        calls = self.calls
        while True:
            now = self.uptime.ms
            pattern = ledstate.NO_CALLS
            if not s.LED_PINS:
                pattern = ledstate.calls_pattern(calls.states)
            on = ledstate.led_on(self.state, now, self._blink_until, pattern)
            if on != lit:
                self.board.led(on, s.LED_PIN)
                lit = on
            for index in range(len(tables_lit)):
                on = ledstate.table_led_on(calls.states[index], calls.is_open, now)
                if on != tables_lit[index]:
                    self.board.table_led(index, on)
                    tables_lit[index] = on
            await asyncio.sleep(LED_MS / 1000)

    def _set_state(self, state):
        if state != self.state:
            self.state = state
            self.log("state: %s" % ledstate.NAMES[state])
            self._notify("state")

    # Network -------------------------------------------------------------------------

    def _status(self, state):
        return status_payload(state, self.settings.STATUS_TOPIC, self.boot, self.signer)

    def _beat(self):
        self._network_beat = self.uptime.ms

    async def _pause(self, seconds):
        self.log("retrying in %.1f s" % seconds)
        remaining = int(seconds * 1000)
        while remaining > 0 and self._running:
            self._beat()
            step = min(remaining, 500)
            await asyncio.sleep(step / 1000)
            remaining -= step

    async def _network_loop(self):
        s = self.settings
        while self._running:
            self._beat()
            if not self.wifi.isconnected():
                self._set_state(ledstate.NO_WIFI)
                if await self.wifi.connect(s.WIFI_TIMEOUT_S, self._beat) is not None:
                    await self._pause(self.backoff.next_delay())
                    continue
            self._set_state(ledstate.NO_BROKER)
            try:
                await self._connect()
            except (MQTTError, OSError) as err:
                self.log("MQTT: %s" % describe(err))
                await self._pause(self.backoff.next_delay())
                continue
            started = self.uptime.ms
            await self._session()
            if self.uptime.ms - started >= STABLE_SESSION_MS:
                self.backoff.reset()
            if self._running:
                await self._pause(self.backoff.next_delay())

    async def _connect(self):
        s = self.settings
        if self._verified_tls and not clock.is_set(self.board.clock_s()):
            await self._set_clock()
        self.mqtt.host = self._broker_address()
        self.mqtt.will = (s.STATUS_TOPIC, self._status(OFFLINE), 1, True)
        try:
            await self.mqtt.connect()
        except MQTTError:
            self._address_failures += 1
            raise
        self._address_failures = 0
        self.stats["connects"] += 1
        self.log("MQTT: connected to %s:%d as %s" % (s.BROKER, s.PORT, self.client_id))

    def _broker_address(self):
        """The address to connect to: looked up once, then kept.

        After ADDRESS_RETRIES failed connects the name is looked up again (the broker
        may have moved). A failed lookup keeps the last good address and is not tried
        again for LOOKUP_RETRY_MS, so an internet outage costs one bounded lookup now
        and then, with the watchdog fed, and no queued press.
        """
        s = self.settings
        if self._address is not None:
            if self._address_failures < ADDRESS_RETRIES:
                return self._address
            failed_at = self._lookup_failed_at
            if failed_at is not None and self.uptime.ms - failed_at < LOOKUP_RETRY_MS:
                return self._address
        address = self._lookup(s.BROKER, s.PORT)
        if address is not None:
            self._address = address
            self._address_failures = 0
            self._lookup_failed_at = None
            return address
        self._lookup_failed_at = self.uptime.ms
        if self._address is None:
            raise MQTTError("cannot look up the broker %s" % s.BROKER)
        self.log("DNS: keeping the last good address %s" % self._address)
        return self._address

    def _lookup(self, host, port):
        """Look `host` up (blocking, the watchdog fed meanwhile); None if it failed."""
        started = ticks_ms()
        try:
            address = self.board.resolve(host, port)
        except OSError as err:
            address = None
            reason = describe(err)
        self.uptime.update(ticks_ms())
        self._beat()
        took = ticks_diff(ticks_ms(), started)
        if address is None:
            self.log("DNS: cannot look up %s (%s, %d ms)" % (host, reason, took))
        elif took >= 1000:
            self.log("DNS: %s is %s (the lookup took %d ms)" % (host, address, took))
        return address

    async def _set_clock(self):
        """Set the clock by NTP before a verified TLS connection, or raise MQTTError."""
        s = self.settings
        if not s.NTP_HOST:
            return  # No time server configured: try anyway (the handshake may fail).
        if self._ntp_address is None:
            self._ntp_address = self._lookup(s.NTP_HOST, s.NTP_PORT)
            if self._ntp_address is None:
                raise MQTTError("TLS waits for the clock: cannot look up %s" % s.NTP_HOST)
        if await clock.sync(self.board, self._ntp_address, s.NTP_PORT, log=self.log):
            return
        self._ntp_address = None  # A pool name: the next attempt may get another server.
        raise MQTTError(
            "TLS waits for the clock: no answer from the time server %s (the board's "
            "clock starts in 2021, and a verified certificate is not valid then)" % s.NTP_HOST
        )

    async def _session(self):
        s = self.settings
        client = self.mqtt
        self.queue.connection_lost()  # Anything unacknowledged goes out again, in order.
        try:
            await client.publish(s.STATUS_TOPIC, self._status(ONLINE), qos=1, retain=True)
            await self._subscribe_calls()
            await self._publish_health()
        except (MQTTError, OSError) as err:
            self.log("MQTT: %s" % describe(err))
            await client.close("announcing failed")
            return
        self._set_state(ledstate.CONNECTED)
        if len(self.queue):
            self.log("sending %d queued press(es)" % len(self.queue))
        while self._running and client.connected:
            self._beat()
            if not self.wifi.isconnected():
                self.log("Wi-Fi lost")
                await client.close("Wi-Fi lost")
                break
            self._wake.clear()
            try:
                if self.uptime.ms >= self._health_due:
                    await self._publish_health()
                await self._send_pending()
            except (MQTTError, OSError) as err:
                self.log("MQTT: publish failed: %s" % describe(err))
                await client.close("publish failed")
                break
            try:
                await asyncio.wait_for(self._wake.wait(), 1)
            except asyncio.TimeoutError:
                pass
        self.queue.connection_lost()
        if self._running:
            self.log(
                "MQTT: connection lost (%s); %d press(es) waiting"
                % (client.lost_reason, len(self.queue))
            )
            wifi_up = self.wifi.isconnected()
            self._set_state(ledstate.NO_BROKER if wifi_up else ledstate.NO_WIFI)

    async def _send_pending(self):
        s = self.settings
        client = self.mqtt
        while client.connected:
            if s.QOS and self.queue.in_flight() >= s.MAX_IN_FLIGHT:
                return
            press = self.queue.next_to_send()
            if press is None:
                return
            if press.sends:
                self.stats["resent"] += 1
                self.log("re-sending button %d seq %d" % (press.button, press.seq))
            # Take the packet id before sending: the PUBACK may arrive before
            # publish() returns, and must find its press.
            pid = client.new_pid() if s.QOS else None
            self.queue.mark_sent(press, pid)
            now = self.uptime.update(ticks_ms())
            payload = press_payload(press, now, s.TOPIC, self.boot, self.signer, s.LEGACY)
            await client.publish(s.TOPIC, payload, qos=s.QOS, pid=pid)
            if not s.QOS:
                self.queue.remove(press)  # QoS 0: sent is all we will ever know.
                self._delivered(press)

    async def _subscribe_calls(self):
        """Subscribe to the calls feedback; a broker that refuses it costs no press."""
        try:
            await self.mqtt.subscribe(self.calls.topic, 1)
        except MQTTError as err:
            if not self.mqtt.connected:
                raise
            self.log("MQTT: no calls feedback on this connection: %s" % describe(err))

    async def _publish_health(self):
        s = self.settings
        self._health_n += 1
        rssi = self.board.rssi()
        payload = health_payload(
            self.health_topic,
            self.boot,
            self._health_n,
            VERSION,
            -120 if rssi is None else rssi,
            self.uptime.ms // 1000,
            self.queue.total_dropped,
            self._battery() if s.BATTERY else None,
            self.signer,
        )
        self._health_due = self.uptime.ms + HEALTH_INTERVAL_MS
        await self.mqtt.publish(self.health_topic, payload, qos=0, retain=True)

    def _battery(self):
        try:
            return self.board.read_vsys_mv()
        except Exception as err:  # A board without the divider: report nothing.
            if not self._battery_failed:
                self._battery_failed = True
                self.log("battery: cannot read VSYS: %s" % describe(err))
            return None

    def _on_message(self, topic, payload, _retain):
        if topic != self.calls.topic:
            return
        calls = self.calls
        before = (calls.is_open, calls.states)
        reason = calls.handle(payload)
        if reason is None:
            if (calls.is_open, calls.states) != before:
                self.log("calls: %s%s" % (calls.states, "" if calls.is_open else " (closed)"))
                self._notify("calls")
            return
        now = self.uptime.ms
        logged = self._refused_logged_at
        if logged is None or now - logged >= REFUSED_LOG_MS:
            self._refused_logged_at = now
            self.log(
                "calls: ignored a message (%s); %d ignored since boot, further ones "
                "within a minute unlogged" % (reason, sum(calls.refused.values()))
            )

    def _on_ack(self, pid):
        press = self.queue.acknowledge(pid)
        if press is not None:
            self._delivered(press)
            self._wake.set()

    def _delivered(self, press):
        self.stats["delivered"] += 1
        self._blink_until = self.uptime.ms + ledstate.DELIVERED_BLINK_MS
        self.log("button %d: seq %d delivered" % (press.button, press.seq))
        self._notify("delivered", press)

    def _on_lost(self, _reason):
        self._wake.set()


def main():
    """Start the bell on a Pico W; main.py calls this at boot."""
    import sys
    import time

    try:
        from . import config
    except ImportError:
        print("pico_bell: no config.py; copy config.example.py to config.py, fill it in")
        print("and copy it to the board (see README). Not starting.")
        return
    try:
        settings = Settings.from_module(config)
        if not settings.WIFI_SSID:
            raise ConfigError("WIFI_SSID is empty")
    except ConfigError as err:
        print("pico_bell: config.py: %s. Not starting." % err)
        return
    board = Board()
    first = settings.BUTTON_PINS[0]
    if board.first_button_level(first, settings.ACTIVE_LOW) != int(settings.ACTIVE_LOW):
        # The button reads pressed: maintenance mode, for updates with mpremote.
        print("pico_bell: button 1 held at boot: maintenance mode, bell and watchdog off.")
        return
    bell = Bell(settings, board)
    try:
        asyncio.run(bell.run())
    except KeyboardInterrupt:
        board.keep_watchdog_fed()
        print("pico_bell: stopped by Ctrl-C; a timer feeds the watchdog. Ctrl-D restarts.")
    except Exception as err:  # A bug: log it and start over rather than hang.
        sys.print_exception(err)
        print("pico_bell: crashed; resetting in 5 s")
        board.feed_watchdog()
        time.sleep(5)
        board.reset()
