"""The service bell of one config entry: its MQTT link and which tables are calling."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Coroutine, Iterable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
import hashlib
import json
import logging
import time
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import EVENT_HOMEASSISTANT_STOP
from homeassistant.core import CALLBACK_TYPE, Context, Event, HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryAuthFailed, ConfigEntryNotReady
from homeassistant.helpers import (
    device_registry as dr,
    entity_registry as er,
    issue_registry as ir,
)
from homeassistant.helpers.event import async_call_later
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util

from .call_desk import CallDesk, CallEvent
from .const import (
    BELL_KEEPALIVE,
    CONF_BELL_KEY,
    CONF_BROKER,
    CONF_BUTTONS,
    CONF_NAME,
    CONF_PASSWORD,
    CONF_PORT,
    CONF_RESET_AFTER,
    CONF_TABLE_NAMES,
    CONF_TLS,
    CONF_TOPIC,
    CONF_USE_HA_MQTT,
    CONF_USERNAME,
    DEFAULT_BUTTONS,
    DEFAULT_NAME,
    DEFAULT_RESET_AFTER,
    DOMAIN,
    EVENT_BELL,
    INVALID_PAYLOAD_WARNING_INTERVAL,
    SETUP_CONNECT_TIMEOUT,
)
from .ha_mqtt_link import HaMqttLink
from .protocol.bell import MAX_U32, BellHealth, Press, PressType, Rejected, Rejection
from .protocol.calls import CallState
from .protocol.gate import BellGate, GateMemory
from .protocol.mqtt import (
    Endpoint,
    Message,
    MqttError,
    MqttLink,
    SessionOptions,
    async_end_session,
)
from .protocol.signing import calls_text, key_bytes, sign
from .protocol.throttle import Pacer, Throttle

_LOGGER = logging.getLogger(__name__)

# The tables' call states in the calls feedback: i idle, c calling, a acknowledged.
_CALL_LETTERS = {CallState.CALLING: "c", CallState.ACKNOWLEDGED: "a"}

type PressListener = Callable[[Press, datetime], None]

# The bounds on what the bell topic can make us hold (docs/bell-protocol.md, "Bounds"):
# - a message: at most 1024 bytes (protocol/bell.py), parsed into bounded numbers;
# - per table, presses waiting for their turn under the pace below: PACE_LIMIT; beyond
#   that a press is refused and counted as rate limited;
# - per table, presses kept for an event entity that is not listening yet:
#   MAX_UNHEARD_PRESSES (the oldest goes first);
# - unkeyed bells: the last 512 (boot, seq) pairs and one press time per button and
#   kind (protocol/bell.py); keyed bells: one (boot, seq) pair;
# - rejected messages: one counter per reason.
# A table acts on at most PACE_BURST presses at once, then PACE_PER_SECOND a second, so
# one table (or a stranger on an unkeyed bell) cannot write more than a few states a
# second; a backlog of real presses (the bell's queue after an outage) is delayed, not lost.
PACE_BURST = 4
PACE_PER_SECOND = 2.0
PACE_LIMIT = 64
MAX_UNHEARD_PRESSES = 16
# What the gate must remember (the keyed bell's last press) is written this long after it
# changed, and at once when the entry unloads, with the time we stopped listening.
MEMORY_SAVE_DELAY = 2.0
STORAGE_VERSION = 1
# A bell whose own status has said offline this long is worth a repair issue.
SILENT_AFTER = timedelta(minutes=3)
ISSUE_BELL_OFFLINE = "bell_offline"
# Messages this soon after connecting to a persistent session are the broker's backlog:
# presses made while we were away.
BACKLOG_WINDOW = 1.0


def uses_ha_mqtt(data: Mapping[str, Any]) -> bool:
    """Tell whether the entry talks through Home Assistant's MQTT integration."""
    return bool(data.get(CONF_USE_HA_MQTT))


def bell_endpoint(data: Mapping[str, Any]) -> Endpoint:
    """Return the bell broker's endpoint from the data of an entry with its own broker."""
    return Endpoint(host=data[CONF_BROKER], port=data[CONF_PORT], tls=bool(data.get(CONF_TLS)))


def bell_client_id(entry_id: str, topic: str) -> str:
    """Return a client id that is stable for the entry and topic, and unique among kit users.

    Stable so the broker keeps our QoS 1 session (presses made while Home Assistant
    restarts are delivered afterwards); a new one for a new topic, so the old topic's
    subscription does not live on in that session; 23 characters, the length every
    broker allows.
    """
    digest = hashlib.sha256(f"{entry_id}\n{topic}".encode()).hexdigest()
    return "blynkbell-" + digest[:13]


class ServiceBell:
    """Turns the bell's MQTT messages into table presses and calls.

    A call starts with a press and ends when acknowledged, cancelled by a long press,
    or `reset_after` after the press.
    """

    def __init__(self, hass: HomeAssistant, entry: ConfigEntry) -> None:
        """Prepare the bell; `async_start` connects."""
        self.hass = hass
        self.entry = entry
        self.tables: int = entry.options.get(CONF_BUTTONS, DEFAULT_BUTTONS)
        self.reset_after = timedelta(
            seconds=entry.options.get(CONF_RESET_AFTER, DEFAULT_RESET_AFTER)
        )
        self.topic: str = entry.data[CONF_TOPIC]
        self.status_topic = f"{self.topic}/status"
        self.health_topic = f"{self.topic}/health"
        self.calls_topic = f"{self.topic}/calls"
        # The user's name for the bell ("Terrace"); None shows "Service bell".
        self.name: str | None = entry.data.get(CONF_NAME) or None
        self._table_names: dict[str, str] = dict(entry.options.get(CONF_TABLE_NAMES) or {})
        self._session_options = SessionOptions(
            client_id=bell_client_id(entry.entry_id, self.topic),
            username=entry.data.get(CONF_USERNAME) or None,
            password=entry.data.get(CONF_PASSWORD) or None,
            keepalive=BELL_KEEPALIVE,
            clean_session=False,
            subscriptions=((self.topic, 1), (self.status_topic, 1), (self.health_topic, 0)),
        )

        def task_factory(coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
            return entry.async_create_background_task(hass, coro, name)

        self.broker: str
        self.link: MqttLink | HaMqttLink
        if uses_ha_mqtt(entry.data):
            self.broker = "Home Assistant's MQTT broker"
            self.link = HaMqttLink(
                hass,
                self._session_options.subscriptions,
                name=f"Bell on {self.broker}",
                on_message=self._handle_message,
                on_connected=self._handle_connected,
                on_disconnected=self._handle_disconnected,
                task_factory=task_factory,
            )
        else:
            self.broker = entry.data[CONF_BROKER]
            self.link = MqttLink(
                bell_endpoint(entry.data),
                self._session_options,
                name=f"Bell broker {self.broker}",
                on_message=self._handle_message,
                on_connected=self._handle_connected,
                on_disconnected=self._handle_disconnected,
                on_auth_failed=self._handle_auth_failed,
                task_factory=task_factory,
            )
        # None until the bell publishes a status: the tutorial firmware never does.
        self.bell_online: bool | None = None
        # Since when the bell's own status says offline (its Last Will), None while online.
        self.offline_since: datetime | None = None
        # The bell's own report (protocol version 2), None until one arrives.
        self.health: BellHealth | None = None
        # The bell's current boot as its accepted messages tell; the calls feedback
        # names it so a keyed bell knows the feedback is for its current life.
        self.bell_boot: int | None = None
        self._calls_n = 0
        self.desk = CallDesk(hass, self.tables, self.reset_after, self._notify, self._call_changed)
        self._listeners: list[tuple[int | None, CALLBACK_TYPE]] = []
        self._press_listeners: dict[int, list[PressListener]] = {}
        self._unheard: dict[int, deque[tuple[Press, datetime]]] = {}
        key = entry.data.get(CONF_BELL_KEY)
        self.gate = BellGate(self.topic, self.tables, key_bytes(key) if key else None)
        self._memory: Store[dict[str, Any]] = Store(
            hass, STORAGE_VERSION, f"{DOMAIN}.{entry.entry_id}.bell"
        )
        self._pacers: dict[int, Pacer[tuple[Press, datetime]]] = {}
        # Since when nobody listened (Home Assistant away, or the broker lost), and until
        # when messages count as the backlog of that time; None when unknown.
        self._away_since: datetime | None = None
        self._away_for: timedelta | None = None
        self._backlog_until = 0.0
        self._unsub_stop: CALLBACK_TYPE | None = None
        self._silence_timer: CALLBACK_TYPE | None = None
        self._pace_timer: asyncio.TimerHandle | None = None
        self._invalid_warning = Throttle(INVALID_PAYLOAD_WARNING_INTERVAL)
        self._started = False

    @property
    def available(self) -> bool:
        """Tell whether the bell broker link is up."""
        return self.link.connected

    async def async_start(self) -> None:
        """Connect, or raise so Home Assistant retries (or asks for credentials).

        What the gate remembers is loaded first, so the first press after a restart is
        already checked against the last one accepted before it.
        """
        self._started = True
        stored = await self._memory.async_load() or {}
        self.gate = BellGate(
            self.topic, self.tables, self.gate.key, GateMemory.from_dict(stored.get("gate"))
        )
        # The calls from before a restart, before the broker delivers what happened since:
        # a cancel made meanwhile then cancels, a fresh press counts as a reminder.
        self.desk.restore(stored.get("desk"))
        if isinstance(calls_n := stored.get("calls_n"), int) and 0 <= calls_n <= MAX_U32:
            self._calls_n = calls_n
        # The feedback sent right after connecting names the boot the bell had then.
        if isinstance(boot := stored.get("bell_boot"), int) and 0 <= boot <= MAX_U32:
            self.bell_boot = boot
        self.desk.start()
        self._restore_unheard(stored.get("unheard"))
        self._restore_waiting(stored.get("waiting"))
        self._release_paced()
        # When we last stopped listening; unknown after a crash.
        stopped_at = stored.get("stopped_at")
        if isinstance(stopped_at, str):
            self._away_since = dt_util.parse_datetime(stopped_at)
        # Home Assistant stops without unloading entries: note the time then too.
        self._unsub_stop = self.hass.bus.async_listen_once(
            EVENT_HOMEASSISTANT_STOP, self._handle_hass_stop
        )
        self.link.start()
        if await self.link.async_wait_connected(SETUP_CONNECT_TIMEOUT):
            return
        await self.link.async_stop()
        if isinstance(self.link, HaMqttLink):
            raise ConfigEntryNotReady(
                translation_domain=DOMAIN, translation_key="ha_mqtt_not_connected"
            )
        placeholders = {"broker": self.broker, "error": self.link.last_error or "timeout"}
        if self.link.auth_failed:
            raise ConfigEntryAuthFailed(
                translation_domain=DOMAIN,
                translation_key="bell_invalid_auth",
                translation_placeholders=placeholders,
            )
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN,
            translation_key="bell_cannot_connect",
            translation_placeholders=placeholders,
        )

    async def async_stop(self) -> None:
        """Close the link, cancel the timers, and write what the gate must remember."""
        self._started = False
        await self.link.async_stop()
        await self._async_end_session_if_moved()
        self.desk.stop()
        if self._silence_timer is not None:
            self._silence_timer()
            self._silence_timer = None
        ir.async_delete_issue(self.hass, DOMAIN, self._silent_issue_id)
        if self._pace_timer is not None:
            self._pace_timer.cancel()
            self._pace_timer = None
        if self._unsub_stop is not None:
            self._unsub_stop()
            self._unsub_stop = None
        await self._memory.async_save(self._memory_data(stopped=True))

    @callback
    def _handle_hass_stop(self, _event: Event) -> None:
        self._unsub_stop = None
        # Written by the store's final write, after every delayed save.
        self._memory.async_delay_save(lambda: self._memory_data(stopped=True), 0)

    # Listeners -----------------------------------------------------------------------

    @callback
    def async_add_listener(
        self, listener: CALLBACK_TYPE, table: int | None = None
    ) -> CALLBACK_TYPE:
        """Call `listener` when availability changes, or the call of `table` changes.

        A listener without a table hears every change.
        """
        entry = (table, listener)
        self._listeners.append(entry)
        return lambda: self._listeners.remove(entry)

    @callback
    def async_add_press_listener(self, table: int, listener: PressListener) -> CALLBACK_TYPE:
        """Call `listener` with every accepted press of `table`.

        Presses that arrived before anyone listened (the broker delivers the presses
        queued while Home Assistant was down right after connecting, before the
        entities exist) are replayed once the entity is added.
        """
        listeners = self._press_listeners.setdefault(table, [])
        listeners.append(listener)
        for press, pressed_at in self._unheard.pop(table, ()):
            self.hass.loop.call_soon(listener, press, pressed_at)
        return lambda: listeners.remove(listener)

    @callback
    def _notify(self, table: int | None = None) -> None:
        for listener_table, listener in list(self._listeners):
            if table is None or listener_table in (None, table):
                listener()

    def table_name(self, table: int) -> str | None:
        """Return the name staff gave `table` ("Window table"), None when it has none."""
        return self._table_names.get(str(table)) or None

    # Calls ---------------------------------------------------------------------------

    def calling(self, table: int) -> bool:
        """Tell whether `table` is calling (and nobody acknowledged it yet)."""
        return self.desk.state(table) is CallState.CALLING

    def called_at(self, table: int) -> datetime | None:
        """Return when the open call of `table` started (its first press)."""
        call = self.desk.calls[table]
        return call.started_at if call.open else None

    @callback
    def acknowledge(self, table: int, context: Context | None = None) -> None:
        """Mark the call of `table` seen: a waiter is on the way."""
        self.desk.acknowledge(table, context)

    @callback
    def set_active(self, active: bool) -> None:
        """Open or close the bell (opening hours); the bell's LEDs show it."""
        if active != self.desk.active:
            self.desk.set_active(active)
            self._publish_calls()
            self._remember()

    @callback
    def serve(self, table: int, context: Context | None = None) -> None:
        """End the call of `table`: it was served."""
        self.desk.serve(table, context)

    @callback
    def _call_changed(self, event: CallEvent) -> None:
        """Store the calls, tell the bell, and tell automations (device triggers, logbook)."""
        self._publish_calls()
        self._remember()
        call = event.call
        data: dict[str, Any] = {
            "entry_id": self.entry.entry_id,
            "table": event.table,
            "type": event.change.value,
            "reminders": call.reminders,
        }
        if event.response is not None:
            data["response_s"] = round(event.response.total_seconds(), 1)
        if event.wait is not None:
            data["wait_s"] = round(event.wait.total_seconds(), 1)
        self._fire(data, "call", event.context)

    def _fire(self, data: dict[str, Any], kind: str, context: Context | None = None) -> None:
        """Fire the bell's event, linked to the table's entity `kind` for the logbook."""
        device = dr.async_get(self.hass).async_get_device(
            identifiers={(DOMAIN, f"{self.entry.entry_id}_bell")}
        )
        entity_id = er.async_get(self.hass).async_get_entity_id(
            "event" if kind == "event" else "sensor",
            DOMAIN,
            f"{self.entry.entry_id}_table_{data['table']}_{kind}",
        )
        extra = {"entity_id": entity_id} if entity_id else {}
        self.hass.bus.async_fire(
            EVENT_BELL, {"device_id": device and device.id, **data, **extra}, context=context
        )

    # MQTT ----------------------------------------------------------------------------

    @callback
    def _handle_connected(self, session_present: bool) -> None:
        self._note_connected(session_present)
        self._publish_calls()
        self._notify()  # The link logs losses and recoveries itself.

    @callback
    def _handle_disconnected(self, _reason: str) -> None:
        self._away_since = self._away_since or dt_util.utcnow()
        self._notify()

    async def _async_end_session_if_moved(self) -> None:
        """Make the broker forget our session once the entry names another topic or broker.

        Reconfiguring reloads the entry with its new settings: this bell's persistent
        session (its subscription, and what the broker queues for it) would otherwise
        live on at the broker with nobody to collect it.
        """
        if not isinstance(self.link, MqttLink):
            return  # Home Assistant's client has a clean session: the broker keeps nothing.
        if (
            not uses_ha_mqtt(self.entry.data)
            and self.entry.data.get(CONF_TOPIC) == self.topic
            and bell_endpoint(self.entry.data) == self.link.endpoint
        ):
            return
        try:
            await async_end_session(self.link.endpoint, self._session_options)
        except MqttError as err:
            _LOGGER.debug("The old session on %s stays: %s", self.broker, err)
        else:
            _LOGGER.debug("Ended the session for %s on %s", self.topic, self.broker)

    @callback
    def _handle_auth_failed(self) -> None:
        if self._started and self.entry.state.recoverable:
            self.entry.async_start_reauth(self.hass, data={**self.entry.data, "target": "bell"})
        self._notify()

    @callback
    def _handle_message(self, message: Message) -> None:
        if message.topic == self.status_topic:
            self._handle_status(message)
        elif message.topic == self.topic:
            self._handle_press_message(message)
        elif message.topic == self.health_topic:
            self._handle_health(message)
        else:  # A persistent session may still carry an old topic's subscription.
            _LOGGER.debug("Ignored a message on %s", message.topic)

    def _handle_status(self, message: Message) -> None:
        try:
            status = self.gate.status(message.payload)
        except Rejected as err:
            self._reject(message, err)
            return
        if self.gate.keyed:
            self._remember()
        if status.boot is not None:
            self._saw_boot(status.boot)
        online = status.online
        if online:
            self.offline_since = None
            self._watch_silence(False)
        elif self.offline_since is None:
            self.offline_since = dt_util.utcnow()
            self._watch_silence(True)
        if online != self.bell_online:
            self.bell_online = online
            self._notify()

    def _handle_press_message(self, message: Message) -> None:
        try:
            press, pressed_at = self.gate.press(
                message.payload, retained=message.retain, received_at=time.time()
            )
        except Rejected as err:
            self._reject(message, err)
            return
        if press.signed:
            self._remember()
        if press.boot is not None:
            self._saw_boot(press.boot)
        if not self._pace(press, dt_util.utc_from_timestamp(pressed_at)):
            self.gate.count(Rejection.RATE_LIMITED)
            self._reject(
                message,
                Rejected(Rejection.RATE_LIMITED, f"table {press.button} has too many presses"),
            )
            return
        self._release_paced()

    def _handle_health(self, message: Message) -> None:
        try:
            health = self.gate.health(message.payload)
        except Rejected as err:
            self._reject(message, err)
            return
        self._saw_boot(health.boot)
        started = dt_util.utcnow() - timedelta(seconds=health.uptime_s)
        previous = self.health
        self.health = replace(health, started_at=started.replace(microsecond=0))
        if previous is None or previous.firmware != health.firmware:
            self._show_firmware(health.firmware)
        self._notify()

    def _watch_silence(self, offline: bool) -> None:
        """Raise a repair once the bell has been offline a few minutes; clear it when back."""
        if self._silence_timer is not None:
            self._silence_timer()
            self._silence_timer = None
        if not offline:
            ir.async_delete_issue(self.hass, DOMAIN, self._silent_issue_id)
            return

        @callback
        def still_offline(_now: datetime) -> None:
            self._silence_timer = None
            since = self.offline_since or dt_util.utcnow()
            ir.async_create_issue(
                self.hass,
                DOMAIN,
                self._silent_issue_id,
                is_fixable=False,
                severity=ir.IssueSeverity.WARNING,
                translation_key=ISSUE_BELL_OFFLINE,
                translation_placeholders={
                    "name": self.name or DEFAULT_NAME,
                    "since": dt_util.as_local(since).strftime("%H:%M"),
                    "topic": self.topic,
                },
            )

        self._silence_timer = async_call_later(self.hass, SILENT_AFTER, still_offline)

    @property
    def _silent_issue_id(self) -> str:
        return f"{ISSUE_BELL_OFFLINE}_{self.entry.entry_id}"

    def _show_firmware(self, version: str) -> None:
        registry = dr.async_get(self.hass)
        device = registry.async_get_device(identifiers={(DOMAIN, f"{self.entry.entry_id}_bell")})
        if device is not None and device.sw_version != version:
            registry.async_update_device(device.id, sw_version=version)

    def _saw_boot(self, boot: int) -> None:
        """Follow the bell's boot; a new one gets the call feedback again (its LEDs)."""
        if self.bell_boot is None or boot > self.bell_boot:
            self.bell_boot = boot
            self._publish_calls()
            self._remember()

    # Feedback to the guest (protocol version 2) ------------------------------------------

    @callback
    def _publish_calls(self) -> None:
        """Tell the bell which tables call and which were seen: retained, signed.

        Sent on every change and after every connect; while the broker is away the next
        connect sends the state of then. `n` grows with every message (kept across
        restarts) so a keyed bell can refuse an old one replayed.
        """
        if not self.link.connected:
            return
        self._calls_n = self._calls_n % MAX_U32 + 1
        boot = self.bell_boot or 0
        tables = "".join(
            _CALL_LETTERS.get(self.desk.state(table), "i") for table in range(1, self.tables + 1)
        )
        message: dict[str, Any] = {
            "boot": boot,
            "n": self._calls_n,
            "open": int(self.desk.active),
            "tables": tables,
        }
        if (key := self.gate.key) is not None:
            text = calls_text(
                self.topic, boot=boot, n=self._calls_n, is_open=self.desk.active, tables=tables
            )
            message["sig"] = sign(key, text)
        payload = json.dumps(message, separators=(",", ":"))
        self.link.publish(self.calls_topic, payload, qos=1, retain=True)
        self._remember()

    def _pace(self, press: Press, pressed_at: datetime) -> bool:
        """Queue an accepted press for its table's pace; False when its line is full."""
        pacer = self._pacers.get(press.button)
        if pacer is None:
            pacer = self._pacers[press.button] = Pacer(PACE_BURST, PACE_PER_SECOND, PACE_LIMIT)
        return pacer.offer((press, pressed_at))

    def _release_paced(self) -> None:
        """Act on the presses whose turn has come; wake again for the next one."""
        self._pace_timer = None
        wait: float | None = None
        for pacer in self._pacers.values():
            if ready := pacer.take_ready():
                self._remember()  # What still waits is stored as waiting.
            for press, pressed_at in ready:
                self._record_press(press, pressed_at)
            if (ready_in := pacer.next_ready_in()) is not None:
                wait = ready_in if wait is None else min(wait, ready_in)
        if wait is not None and self._started:
            self._pace_timer = self.hass.loop.call_later(wait, self._release_paced)

    def _remember(self) -> None:
        self._memory.async_delay_save(self._memory_data, MEMORY_SAVE_DELAY)

    def _memory_data(self, *, stopped: bool = False) -> dict[str, Any]:
        return {
            "gate": self.gate.memory.as_dict(),
            "desk": self.desk.as_dict(),
            "calls_n": self._calls_n,
            "bell_boot": self.bell_boot,
            "stopped_at": dt_util.utcnow().isoformat() if stopped else None,
            "waiting": [
                _press_as_dict(press, pressed_at)
                for pacer in self._pacers.values()
                for press, pressed_at in pacer.waiting
            ],
            "unheard": [
                _press_as_dict(press, pressed_at)
                for presses in self._unheard.values()
                for press, pressed_at in presses
            ],
        }

    def _restore_unheard(self, stored: object) -> None:
        """Take back the presses acted on whose events no entity fired yet."""
        if not isinstance(stored, list):
            return
        for item in stored[: MAX_UNHEARD_PRESSES * self.tables]:
            if (unheard := _press_from_dict(item, self.tables)) is not None:
                self._keep_unheard(*unheard)

    def _keep_unheard(self, press: Press, pressed_at: datetime) -> None:
        unheard = self._unheard.setdefault(press.button, deque(maxlen=MAX_UNHEARD_PRESSES))
        unheard.append((press, pressed_at))

    @callback
    def return_unheard(self, table: int, presses: Iterable[tuple[Press, datetime]]) -> None:
        """Keep the presses an entity got but could not fire before it was removed.

        They are stored with the rest and fired by the table's next event entity.
        """
        for press, pressed_at in presses:
            if press.button == table:
                self._keep_unheard(press, pressed_at)

    def _restore_waiting(self, stored: object) -> None:
        """Queue again the presses that were waiting for their pace when we stopped.

        The gate accepted them already (their `seq` is spent), so a reload or restart
        would otherwise lose them.
        """
        if not isinstance(stored, list):
            return
        for item in stored[: PACE_LIMIT * self.tables]:
            if (waiting := _press_from_dict(item, self.tables)) is not None:
                self._pace(*waiting)

    def _note_connected(self, session_present: bool) -> None:
        """Work out how long nobody listened: the backlog that follows is from then."""
        now = dt_util.utcnow()
        self._away_for = None if self._away_since is None else now - self._away_since
        self._away_since = None
        self._backlog_until = time.monotonic() + BACKLOG_WINDOW if session_present else 0.0

    def _may_call(self, press: Press, pressed_at: datetime, now: datetime) -> bool:
        """Tell whether a press is recent enough to start a call.

        A press without `age_ms` in the backlog (the tutorial's text, queued by the
        broker) happened at some unknown time while nobody listened: it calls only if
        that time was shorter than `reset_after`.
        """
        if press.age_ms is None and time.monotonic() < self._backlog_until:
            return self._away_for is not None and self._away_for < self.reset_after
        return now < pressed_at + self.reset_after

    def _record_press(self, press: Press, pressed_at: datetime) -> None:
        now = dt_util.utcnow()
        table = press.button
        # The event entity first: it is what a press is, the call follows from it.
        if listeners := self._press_listeners.get(table):
            for listener in list(listeners):
                listener(press, pressed_at)
        else:
            self._keep_unheard(press, pressed_at)
        self._fire(
            {"entry_id": self.entry.entry_id, "table": table, "type": press.type.value}, "event"
        )
        if press.type is PressType.LONG_PRESS:
            self.desk.cancel(table, now)  # The guest cancelled the call.
        else:
            self.desk.press(table, pressed_at, may_call=self._may_call(press, pressed_at, now))
        self._notify(table)

    def _reject(self, message: Message, err: Rejected) -> None:
        """Log a refused message: debug always, a warning at most once a minute.

        The payload is not logged: it is a stranger's text, and on a keyed bell its
        signature is nobody's business.
        """
        if not err.reason.quiet and self._invalid_warning.allow():
            _LOGGER.warning(
                "Ignored a message on %s: %s (%s); further ones within a minute are "
                "logged at debug level and counted in diagnostics",
                message.topic,
                err,
                err.reason,
            )
        else:
            _LOGGER.debug("Ignored a message on %s: %s (%s)", message.topic, err, err.reason)


def _press_as_dict(press: Press, pressed_at: datetime) -> dict[str, Any]:
    """Return a waiting press as stored; `_press_from_dict` reads it."""
    return {
        "button": press.button,
        "type": press.type.value,
        "seq": press.seq,
        "age_ms": press.age_ms,
        "boot": press.boot,
        "signed": press.signed,
        "at": pressed_at.isoformat(),
    }


def _press_from_dict(data: object, tables: int) -> tuple[Press, datetime] | None:
    """Read a stored waiting press back, None when anything in it is out of place."""
    if not isinstance(data, dict):
        return None
    button, kind, at = data.get("button"), data.get("type"), data.get("at")
    numbers = [data.get(name) for name in ("seq", "age_ms", "boot")]
    if (
        not isinstance(button, int)
        or not 1 <= button <= tables
        or kind not in {press_type.value for press_type in PressType}
        or not isinstance(at, str)
        or (pressed_at := dt_util.parse_datetime(at)) is None
        or pressed_at.tzinfo is None
        or not all(n is None or (isinstance(n, int) and 0 <= n <= MAX_U32) for n in numbers)
    ):
        return None
    seq, age_ms, boot = numbers
    press = Press(
        button,
        PressType(kind),
        seq=seq,
        age_ms=age_ms,
        boot=boot,
        signed=data.get("signed") is True,
    )
    return press, pressed_at
