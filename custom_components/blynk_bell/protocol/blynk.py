"""The Blynk.Cloud device MQTT API, spoken from the device side (which is what we are).

Facts this module obeys (see the project's blynk-mqtt-api notes): username `device`,
password the auth token, clean sessions, subscriptions only under `downlink/`, at most
1024 bytes per message and 50 messages per second, a redirect right after connecting,
and exactly one connection per token.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
import json
import logging
import time
from typing import Final

from .mqtt import (
    Endpoint,
    InvalidEndpoint,
    Message,
    MqttLink,
    SessionOptions,
    TaskFactory,
)
from .throttle import Throttle

_LOGGER = logging.getLogger(__name__)

BLYNK_USERNAME: Final = "device"
BLYNK_KEEPALIVE: Final = 45
MAX_MESSAGE_BYTES: Final = 1024
# Blynk cuts a device off above 50 messages per second; stay well below.
MAX_MESSAGES_PER_SECOND: Final = 20
OUTBOX_LIMIT: Final = 200
# A connection that the server drops this soon after it was accepted, this many times in
# a row, means another client is using our token (Blynk keeps one connection per token).
KICK_WINDOW: Final = 30.0
KICKS_FOR_CONFLICT: Final = 3
STABLE_AFTER: Final = 120.0
CONFLICT_HOLD_OFF: Final = 60.0
DIAG_WARNING_INTERVAL: Final = 300.0

_DOWNLINK_DS: Final = "downlink/ds/"


def blynk_session_options(token: str) -> SessionOptions:
    """Return how a device with this auth token logs in (clean sessions only)."""
    return SessionOptions(
        client_id="",
        username=BLYNK_USERNAME,
        password=token,
        keepalive=BLYNK_KEEPALIVE,
        clean_session=True,
        subscriptions=(("downlink/#", 0),),
    )


def message_size(topic: str, payload: bytes) -> int:
    """Return the size of a PUBLISH packet, headers included, as Blynk counts it."""
    body = 2 + len(topic.encode()) + len(payload)  # topic length prefix, topic, payload
    length_bytes = 1 if body < 128 else 2 if body < 16384 else 3
    return 1 + length_bytes + body


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """What the device tells Blynk about itself in `info/mcu` after each connect."""

    version: str
    build: str
    type: str = "blynk_bell heater"
    template_id: str | None = None

    def as_json(self) -> str:
        """Return the `info/mcu` payload."""
        info: dict[str, str | int] = {
            "ver": self.version,
            "build": self.build,
            "type": self.type,
            "rxbuff": MAX_MESSAGE_BYTES,
        }
        if self.template_id:
            info["tmpl"] = self.template_id
        return json.dumps(info, separators=(",", ":"))


class BlynkListener:
    """What a Blynk device reports to its owner; override the parts you need."""

    def datastream_changed(self, name: str, value: str) -> None:
        """Handle a datastream written from the app, or answered to `get/ds`."""

    def connection_changed(self, connected: bool) -> None:
        """Handle the link to Blynk coming up or going down."""

    def auth_failed(self) -> None:
        """Handle Blynk refusing the token; the link has stopped trying."""

    def token_conflict_changed(self, conflict: bool) -> None:
        """Handle another client taking our token's one connection (or stopping)."""


@dataclass(slots=True)
class _Outgoing:
    topic: str
    payload: bytes
    qos: int
    on_ack: Callable[[], None] | None


class BlynkDevice:
    """One Blynk device connection: dispatches downlinks and paces what we publish."""

    def __init__(
        self,
        server: Endpoint,
        token: str,
        listener: BlynkListener,
        info: DeviceInfo,
        *,
        task_factory: TaskFactory | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Prepare the device; `start` connects."""
        self._listener = listener
        self._info = info
        self._clock = clock
        self.link = MqttLink(
            server,
            blynk_session_options(token),
            name="Blynk",
            on_message=self._handle_message,
            on_connected=self._handle_connected,
            on_disconnected=self._handle_disconnected,
            on_auth_failed=listener.auth_failed,
            task_factory=task_factory,
        )
        self._outbox: deque[_Outgoing] = deque()
        self._sent_times: deque[float] = deque()
        self._drain_handle: asyncio.TimerHandle | None = None
        self._connected_at: float | None = None
        self._leaving_on_purpose = False
        self._quick_drops = 0
        self._stability_check: asyncio.TimerHandle | None = None
        self.token_conflict = False
        self._diag_warning = Throttle(DIAG_WARNING_INTERVAL)
        self.messages_sent = 0

    @property
    def connected(self) -> bool:
        """Tell whether Blynk currently accepts our messages."""
        return self.link.connected

    def start(self) -> None:
        """Connect in the background and stay connected."""
        self.link.start()

    async def async_stop(self) -> None:
        """Disconnect; leaves no task, timer or socket behind."""
        self._leaving_on_purpose = True
        self._cancel_timers()
        self._outbox.clear()
        await self.link.async_stop()

    # Publishing ---------------------------------------------------------------------

    def publish(
        self,
        topic: str,
        payload: str,
        *,
        qos: int = 0,
        on_ack: Callable[[], None] | None = None,
    ) -> bool:
        """Send a message within Blynk's size and rate limits; False if it cannot go out.

        Messages over the rate are held briefly and sent in order; while disconnected
        nothing is queued (the owner re-sends what matters after reconnecting).
        """
        data = payload.encode()
        if message_size(topic, data) > MAX_MESSAGE_BYTES:
            _LOGGER.warning("Not sent to Blynk: %s would exceed 1024 bytes", topic)
            return False
        if not self.connected or len(self._outbox) >= OUTBOX_LIMIT:
            return False
        self._outbox.append(_Outgoing(topic, data, qos, on_ack))
        self._drain()
        return True

    def write_datastream(
        self, name: str, value: str, *, on_ack: Callable[[], None] | None = None
    ) -> bool:
        """Publish a datastream value (`ds/<name>`); QoS 1 when the caller awaits the ack."""
        return self.publish(f"ds/{name}", value, qos=1 if on_ack else 0, on_ack=on_ack)

    def set_property(self, name: str, prop: str, value: str) -> bool:
        """Publish a widget property such as `color` or `isDisabled`."""
        return self.publish(f"ds/{name}/prop/{prop}", value)

    def request_datastreams(self, names: Iterable[str]) -> bool:
        """Ask Blynk for the latest values; answers arrive as `downlink/ds/<name>`."""
        names = list(names)
        return bool(names) and self.publish("get/ds", ",".join(names))

    def _drain(self) -> None:
        self._drain_handle = None
        now = self._clock()
        while self._sent_times and now - self._sent_times[0] >= 1.0:
            self._sent_times.popleft()
        while self._outbox and len(self._sent_times) < MAX_MESSAGES_PER_SECOND:
            item = self._outbox.popleft()
            if self.link.publish(item.topic, item.payload, item.qos, on_ack=item.on_ack):
                self._sent_times.append(now)
                self.messages_sent += 1
        if self._outbox and self._drain_handle is None:
            wait = max(0.01, 1.0 - (now - self._sent_times[0]))
            self._drain_handle = asyncio.get_running_loop().call_later(wait, self._drain)

    # Connection events ---------------------------------------------------------------

    def _handle_connected(self, _session_present: bool) -> None:
        self._connected_at = self._clock()
        self._leaving_on_purpose = False
        self._stability_check = asyncio.get_running_loop().call_later(
            STABLE_AFTER, self._connection_is_stable
        )
        self.publish("info/mcu", self._info.as_json())
        self._listener.connection_changed(True)

    def _handle_disconnected(self, reason: str) -> None:
        self._cancel_timers()
        self._outbox.clear()
        connected_for = (
            self._clock() - self._connected_at if self._connected_at is not None else None
        )
        self._connected_at = None
        if self._leaving_on_purpose:
            self._leaving_on_purpose = False
        elif connected_for is not None and connected_for < KICK_WINDOW:
            self._quick_drops += 1
            _LOGGER.debug(
                "Blynk dropped us %.1f s after connecting (%s); %d in a row",
                connected_for,
                reason,
                self._quick_drops,
            )
            if self._quick_drops >= KICKS_FOR_CONFLICT:
                self.link.hold_off(CONFLICT_HOLD_OFF)
                self._set_conflict(True)
        else:
            self._quick_drops = 0
        self._listener.connection_changed(False)

    def _connection_is_stable(self) -> None:
        self._stability_check = None
        self._quick_drops = 0
        self._set_conflict(False)

    def _set_conflict(self, conflict: bool) -> None:
        if conflict != self.token_conflict:
            self.token_conflict = conflict
            if conflict:
                _LOGGER.warning(
                    "Blynk keeps closing our connection right after it opens: another "
                    "client (the sample script, a second Home Assistant) uses this token"
                )
            self._listener.token_conflict_changed(conflict)

    def _cancel_timers(self) -> None:
        for handle in (self._drain_handle, self._stability_check):
            if handle is not None:
                handle.cancel()
        self._drain_handle = self._stability_check = None

    # Downlinks -----------------------------------------------------------------------

    def _handle_message(self, message: Message) -> None:
        topic = message.topic
        try:
            payload = message.payload.decode("utf-8")
        except UnicodeDecodeError:
            _LOGGER.debug("Ignored a non-UTF-8 message from Blynk on %s", topic)
            return
        if topic.startswith(_DOWNLINK_DS):
            name = topic.removeprefix(_DOWNLINK_DS)
            if name and "/" not in name:
                self._listener.datastream_changed(name, payload)
        elif topic == "downlink/redirect":
            self._follow_redirect(payload)
        elif topic in ("downlink/reboot", "downlink/reconfigure"):
            _LOGGER.info("Blynk asked the device to restart (%s)", topic.rsplit("/", 1)[1])
            self._leaving_on_purpose = True
            self.link.reconnect_now("restart requested by Blynk")
        elif topic == "downlink/diag":
            self._log_diag(payload)
        else:  # ping (answered by the PUBACK), ota, utc, meta, ...: nothing to do.
            _LOGGER.debug("Ignored Blynk downlink %s", topic)

    def _follow_redirect(self, url: str) -> None:
        try:
            target = Endpoint.from_url(url)
        except InvalidEndpoint as err:
            _LOGGER.warning("Ignored a Blynk redirect to %r: %s", url[:100], err)
            return
        if target != self.link.current_endpoint:
            self._leaving_on_purpose = True
        self.link.redirect(target)

    def _log_diag(self, text: str) -> None:
        if self._diag_warning.allow():
            _LOGGER.warning("Blynk says: %s", text[:500])
        else:
            _LOGGER.debug("Blynk says: %s", text[:500])
