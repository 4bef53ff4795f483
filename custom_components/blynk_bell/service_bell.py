"""The service bell of one config entry: its MQTT link and which tables are calling."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
import hashlib
import logging
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryAuthFailed, ConfigEntryNotReady
from homeassistant.helpers.event import async_track_point_in_utc_time
from homeassistant.util import dt as dt_util

from .const import (
    BELL_KEEPALIVE,
    CONF_BELL_KEY,
    CONF_BROKER,
    CONF_BUTTONS,
    CONF_PASSWORD,
    CONF_PORT,
    CONF_RESET_AFTER,
    CONF_TLS,
    CONF_TOPIC,
    CONF_USERNAME,
    DEFAULT_BUTTONS,
    DEFAULT_RESET_AFTER,
    DOMAIN,
    INVALID_PAYLOAD_WARNING_INTERVAL,
    SETUP_CONNECT_TIMEOUT,
)
from .protocol.bell import (
    Press,
    PressOrder,
    PressType,
    RedeliveryFilter,
    Rejected,
    parse_press,
    parse_status,
)
from .protocol.mqtt import Endpoint, Message, MqttLink, SessionOptions
from .protocol.signing import key_bytes
from .protocol.throttle import Throttle

_LOGGER = logging.getLogger(__name__)

type PressListener = Callable[[Press, datetime], None]

# Presses kept per table for an event entity that is not listening yet.
MAX_UNHEARD_PRESSES = 50


def bell_endpoint(data: Mapping[str, Any]) -> Endpoint:
    """Return the bell broker's endpoint from config entry data."""
    return Endpoint(host=data[CONF_BROKER], port=data[CONF_PORT], tls=bool(data.get(CONF_TLS)))


def bell_client_id(entry_id: str) -> str:
    """Return a client id that is stable for the entry and unique among kit users.

    Stable so the broker keeps our QoS 1 session (presses made while Home Assistant
    restarts are delivered afterwards); 23 characters, the length every broker allows.
    """
    return "blynkbell-" + hashlib.sha256(entry_id.encode()).hexdigest()[:13]


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
        self.broker: str = entry.data[CONF_BROKER]
        self.link = MqttLink(
            bell_endpoint(entry.data),
            SessionOptions(
                client_id=bell_client_id(entry.entry_id),
                username=entry.data.get(CONF_USERNAME) or None,
                password=entry.data.get(CONF_PASSWORD) or None,
                keepalive=BELL_KEEPALIVE,
                clean_session=False,
                subscriptions=((self.topic, 1), (self.status_topic, 1)),
            ),
            name=f"Bell {self.broker}",
            on_message=self._handle_message,
            on_connected=self._handle_connected,
            on_disconnected=self._handle_disconnected,
            on_auth_failed=self._handle_auth_failed,
            task_factory=lambda coro, name: entry.async_create_background_task(hass, coro, name),
        )
        # None until the bell publishes a status: the tutorial firmware never does.
        self.bell_online: bool | None = None
        self._calls: dict[int, datetime] = {}
        self._expiry: dict[int, CALLBACK_TYPE] = {}
        self._listeners: list[tuple[int | None, CALLBACK_TYPE]] = []
        self._press_listeners: dict[int, list[PressListener]] = {}
        self._unheard: dict[int, deque[tuple[Press, datetime]]] = {}
        self._redeliveries = RedeliveryFilter()
        self._order = PressOrder()
        key = entry.data.get(CONF_BELL_KEY)
        self._key: bytes | None = key_bytes(key) if key else None
        self._invalid_warning = Throttle(INVALID_PAYLOAD_WARNING_INTERVAL)
        self._lost_logged = False
        self._started = False

    @property
    def available(self) -> bool:
        """Tell whether the bell broker link is up."""
        return self.link.connected

    async def async_start(self) -> None:
        """Connect, or raise so Home Assistant retries (or asks for credentials)."""
        self._started = True
        self.link.start()
        if await self.link.async_wait_connected(SETUP_CONNECT_TIMEOUT):
            return
        await self.link.async_stop()
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
        """Close the link and cancel the call timers."""
        self._started = False
        await self.link.async_stop()
        for cancel in self._expiry.values():
            cancel()
        self._expiry.clear()

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

    # Calls ---------------------------------------------------------------------------

    def calling(self, table: int) -> bool:
        """Tell whether `table` is waiting for a waiter."""
        return table in self._calls

    def called_at(self, table: int) -> datetime | None:
        """Return when the current call of `table` started."""
        return self._calls.get(table)

    @callback
    def acknowledge(self, table: int) -> None:
        """End the call of `table` (the waiter is on the way)."""
        if self._end_call(table):
            self._notify(table)

    @callback
    def restore_call(self, table: int, called_at: datetime) -> None:
        """Resume a call from before a restart if it is still within `reset_after`."""
        if 1 <= table <= self.tables and dt_util.utcnow() < called_at + self.reset_after:
            self._start_call(table, called_at)

    def _start_call(self, table: int, called_at: datetime) -> None:
        self._cancel_expiry(table)
        self._calls[table] = called_at

        @callback
        def expire(_now: datetime) -> None:
            self._expiry.pop(table, None)
            if self._calls.pop(table, None) is not None:
                self._notify(table)

        self._expiry[table] = async_track_point_in_utc_time(
            self.hass, expire, called_at + self.reset_after
        )

    def _end_call(self, table: int) -> bool:
        self._cancel_expiry(table)
        return self._calls.pop(table, None) is not None

    def _cancel_expiry(self, table: int) -> None:
        if (cancel := self._expiry.pop(table, None)) is not None:
            cancel()

    # MQTT ----------------------------------------------------------------------------

    @callback
    def _handle_connected(self, _session_present: bool) -> None:
        if self._lost_logged:
            _LOGGER.info("Reconnected to the bell broker %s", self.broker)
            self._lost_logged = False
        self._notify()

    @callback
    def _handle_disconnected(self, reason: str) -> None:
        if self._started and not self._lost_logged:
            _LOGGER.warning(
                "Lost the bell broker %s (%s); reconnecting in the background",
                self.broker,
                reason,
            )
            self._lost_logged = True
        self._notify()

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
        else:  # A persistent session may still carry an old topic's subscription.
            _LOGGER.debug("Ignored a message on %s", message.topic)

    def _handle_status(self, message: Message) -> None:
        try:
            status = parse_status(message.payload, topic=self.topic, key=self._key)
        except Rejected as err:
            self._reject(message, str(err))
            return
        online = status.online
        if online != self.bell_online:
            self.bell_online = online
            self._notify()

    def _handle_press_message(self, message: Message) -> None:
        if message.retain:
            _LOGGER.debug("Ignored a retained message on %s: an old press", message.topic)
            return
        try:
            press = parse_press(
                message.payload, topic=self.topic, tables=self.tables, key=self._key
            )
        except Rejected as err:
            self._reject(message, str(err))
            return
        if (order := press.order) is not None:
            if press.signed:
                if not self._order.is_fresh(order):
                    _LOGGER.debug("Ignored a press that is not newer than the last: %s", order)
                    return
                self._order.accept(order)
            elif not self._redeliveries.first_time(order):
                _LOGGER.debug("Ignored a redelivered press %s", order)
                return
        self._record_press(press)

    def _record_press(self, press: Press) -> None:
        now = dt_util.utcnow()
        pressed_at = now - timedelta(milliseconds=press.age_ms or 0)
        table = press.button
        if press.type is PressType.LONG_PRESS:
            self._end_call(table)  # The guest cancelled the call.
        elif now < pressed_at + self.reset_after:
            self._start_call(table, pressed_at)
        if listeners := self._press_listeners.get(table):
            for listener in list(listeners):
                listener(press, pressed_at)
        else:
            unheard = self._unheard.setdefault(table, deque(maxlen=MAX_UNHEARD_PRESSES))
            unheard.append((press, pressed_at))
        self._notify(table)

    def _reject(self, message: Message, reason: str) -> None:
        preview = message.payload[:64]
        if self._invalid_warning.allow():
            _LOGGER.warning(
                "Ignored a message on %s: %s (payload %r); further ones within a minute "
                "are logged at debug level",
                message.topic,
                reason,
                preview,
            )
        else:
            _LOGGER.debug(
                "Ignored a message on %s: %s (payload %r)", message.topic, reason, preview
            )
