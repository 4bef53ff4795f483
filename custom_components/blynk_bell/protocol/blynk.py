"""The Blynk.Cloud device MQTT API, spoken from the device side (which is what we are).

Facts this module obeys (see the project's blynk-mqtt-api notes): username `device`,
password the auth token, clean sessions, subscriptions only under `downlink/`, a redirect
right after connecting (never followed from TLS to plain text), `info/mcu` on every
connection, and exactly one connection per token. What is published, and when, is the
Outbox's business (`outbox.py`: priorities, batching, the rate limit and the quota).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
import json
import logging
import time
from typing import Final, Protocol

from .mqtt import (
    Endpoint,
    InvalidEndpoint,
    Message,
    MqttLink,
    SessionOptions,
    TaskFactory,
)
from .outbox import MAX_MESSAGE_BYTES, Handle, Outbox, Scheduler
from .throttle import Throttle

_LOGGER = logging.getLogger(__name__)

BLYNK_USERNAME: Final = "device"
BLYNK_KEEPALIVE: Final = 45
# Blynk sends a redirect right after accepting a connection; anything published before it
# arrives is spent on the wrong server, so the device waits this long first.
REDIRECT_WAIT: Final = 1.0
# A connection that the server drops this soon after it was accepted, this many times in
# a row, means another client is using our token (Blynk keeps one connection per token).
# One that stays up this long means no one else does.
KICK_WINDOW: Final = 30.0
KICKS_FOR_CONFLICT: Final = 3
STABLE_AFTER: Final = KICK_WINDOW
CONFLICT_HOLD_OFF: Final = 60.0
DIAG_WARNING_INTERVAL: Final = 300.0
NOTICE_INTERVAL: Final = 3600.0

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


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """What the device tells Blynk about itself in `info/mcu` after each connect.

    `template_id` is the user's own (Device Info in the Blynk console); Blynk.Air uses it
    and the version to offer firmware updates, which an integration does not take.
    """

    version: str
    build: str
    type: str = "blynk_bell heater"
    template_id: str | None = None

    def as_json(self) -> str:
        """Return the `info/mcu` payload."""
        info: dict[str, str | int] = {}
        if self.template_id:
            info["tmpl"] = self.template_id
        info.update(
            {
                "ver": self.version,
                "build": self.build,
                "type": self.type,
                "rxbuff": MAX_MESSAGE_BYTES,
            }
        )
        return json.dumps(info, separators=(",", ":"))


class BlynkListener:
    """What a Blynk device reports to its owner; override the parts you need."""

    def datastream_changed(self, name: str, value: str) -> None:
        """Handle a datastream written from the app, or answered to `get/ds`."""

    def connection_changed(self, connected: bool) -> None:
        """Handle the link to Blynk becoming usable (after any redirect) or going down."""

    def auth_failed(self) -> None:
        """Handle Blynk refusing the token; the link has stopped trying."""

    def token_conflict_changed(self, conflict: bool) -> None:
        """Handle another client taking our token's one connection, or it being ours.

        Called with False once the first connection proves stable even if no conflict was
        reported before: an earlier run's notice may still be up.
        """


class BlynkLink(Protocol):
    """What the device needs of its MQTT link (`MqttLink`)."""

    @property
    def connected(self) -> bool:
        """Tell whether the broker accepts messages now."""

    @property
    def endpoint(self) -> Endpoint:
        """Return the configured server."""

    @property
    def current_endpoint(self) -> Endpoint:
        """Return where the link connects now (a redirect target or the configured one)."""

    @property
    def last_error(self) -> str | None:
        """Return why the last connection attempt failed (for diagnostics)."""

    @property
    def auth_failed(self) -> bool:
        """Tell whether the server refused the token."""

    def start(self) -> None:
        """Connect in the background and stay connected."""

    async def async_stop(self) -> None:
        """Disconnect for good."""

    def publish(
        self,
        topic: str,
        payload: bytes | str,
        qos: int = 0,
        retain: bool = False,
        on_ack: Callable[[], None] | None = None,
    ) -> bool:
        """Send a message now; False if it cannot be."""

    def redirect(self, target: Endpoint) -> None:
        """Move to another server, keeping the credentials."""

    def reconnect_now(self, reason: str) -> None:
        """Drop the connection and connect again at once."""

    def hold_off(self, seconds: float) -> None:
        """Wait at least this long before the next connect."""


def _loop_scheduler(delay: float, callback: Callable[[], None]) -> Handle:
    return asyncio.get_running_loop().call_later(delay, callback)


class BlynkDevice:
    """One Blynk device connection: dispatches downlinks, and publishes through an Outbox."""

    def __init__(
        self,
        server: Endpoint,
        token: str,
        listener: BlynkListener,
        info: DeviceInfo,
        *,
        task_factory: TaskFactory | None = None,
        clock: Callable[[], float] = time.monotonic,
        scheduler: Scheduler = _loop_scheduler,
        link_factory: Callable[..., BlynkLink] = MqttLink,
    ) -> None:
        """Prepare the device; `start` connects.

        `clock`, `scheduler` and `link_factory` let tests run it in simulated time.
        """
        self._listener = listener
        self._info = info
        self._clock = clock
        self._schedule = scheduler
        self.link = link_factory(
            server,
            blynk_session_options(token),
            name="Blynk",
            on_message=self._handle_message,
            on_connected=self._handle_connected,
            on_disconnected=self._handle_disconnected,
            on_auth_failed=listener.auth_failed,
            task_factory=task_factory,
        )
        self.outbox = Outbox(self._send, clock, scheduler)
        self._ready_timer: Handle | None = None
        self._announced = False
        self._connected_at: float | None = None
        self._leaving_on_purpose = False
        self._quick_drops = 0
        self._stability_check: Handle | None = None
        self.token_conflict = False
        self._conflict_reported: bool | None = None
        self._diag_warning = Throttle(DIAG_WARNING_INTERVAL, clock)
        self._insecure_redirect_warning = Throttle(NOTICE_INTERVAL, clock)
        self._ota_notice = Throttle(NOTICE_INTERVAL, clock)

    @property
    def connected(self) -> bool:
        """Tell whether Blynk currently accepts our messages (past the redirect wait)."""
        return self.link.connected and self.outbox.is_open

    @property
    def messages_sent(self) -> int:
        """Return how many messages this device published since it was created."""
        return self.outbox.sent

    def start(self) -> None:
        """Connect in the background and stay connected."""
        self.link.start()

    async def async_stop(self) -> None:
        """Disconnect; leaves no task, timer or socket behind."""
        self._leaving_on_purpose = True
        self._cancel_timers()
        self.outbox.close()
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
        """Send a message after users' changes, in order; False if it cannot go out.

        While disconnected nothing is queued (the owner re-sends what matters after
        reconnecting); messages over the rate limit wait briefly.
        """
        return self.outbox.is_open and self.outbox.message(topic, payload, qos=qos, on_ack=on_ack)

    def write_datastream(
        self, name: str, value: str, *, on_ack: Callable[[], None] | None = None
    ) -> bool:
        """Publish a datastream value (`ds/<name>`) in order; QoS 1 when an ack is awaited."""
        return self.publish(f"ds/{name}", value, qos=1 if on_ack else 0, on_ack=on_ack)

    def print_terminal(self, text: str) -> bool:
        """Print to the Terminal widget."""
        return self.write_datastream("Terminal", text)

    def write_user_values(self, values: Mapping[str, str], on_ack: Callable[[], None]) -> bool:
        """Send a user's change ahead of everything else, QoS 1."""
        return self.outbox.is_open and self.outbox.user_values(values, on_ack)

    def request_datastreams(self, names: Iterable[str]) -> bool:
        """Ask Blynk for the latest values; answers arrive as `downlink/ds/<name>`."""
        names = list(names)
        return bool(names) and self.publish("get/ds", ",".join(names))

    def report(self, values: Mapping[str, str]) -> None:
        """Report values the device measures itself: batched, within the hour's budget.

        Kept while disconnected, so Blynk gets the latest once the link is back.
        """
        self.outbox.report(values)

    def report_property(self, name: str, prop: str, value: str) -> None:
        """Report a widget property such as `color` or `isDisabled` (the latest wins)."""
        self.outbox.report_property(name, prop, value)

    def _send(
        self, topic: str, payload: bytes, qos: int, on_ack: Callable[[], None] | None
    ) -> bool:
        return self.link.publish(topic, payload, qos, on_ack=on_ack)

    # Connection events ---------------------------------------------------------------

    def _handle_connected(self, _session_present: bool) -> None:
        self._connected_at = self._clock()
        self._leaving_on_purpose = False
        self._cancel_timers()
        self._stability_check = self._schedule(STABLE_AFTER, self._connection_is_stable)
        self._ready_timer = self._schedule(REDIRECT_WAIT, self._ready)

    def _ready(self) -> None:
        """No redirect came: this is our server. Say who we are, then let the owner speak."""
        self._ready_timer = None
        if not self.link.connected:
            return
        self.outbox.message("info/mcu", self._info.as_json())
        self.outbox.open()
        self._announced = True
        self._listener.connection_changed(True)

    def _handle_disconnected(self, reason: str) -> None:
        self._cancel_timers()
        self.outbox.close()
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
        if self._announced:
            self._announced = False
            self._listener.connection_changed(False)

    def _connection_is_stable(self) -> None:
        self._stability_check = None
        self._quick_drops = 0
        self._set_conflict(False)

    def _set_conflict(self, conflict: bool) -> None:
        self.token_conflict = conflict
        if conflict == self._conflict_reported:
            return
        self._conflict_reported = conflict
        if conflict:
            _LOGGER.warning(
                "Blynk keeps closing our connection right after it opens: another "
                "client (the sample script, a second Home Assistant) uses this token"
            )
        self._listener.token_conflict_changed(conflict)

    def _cancel_timers(self) -> None:
        for handle in (self._ready_timer, self._stability_check):
            if handle is not None:
                handle.cancel()
        self._ready_timer = self._stability_check = None

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
        elif topic == "downlink/reboot":
            _LOGGER.info("Blynk asked the device to restart; reconnecting")
            self._leaving_on_purpose = True
            self.link.reconnect_now("restart requested by Blynk")
        elif topic == "downlink/reconfigure":
            # Blynk means "enter Wi-Fi provisioning"; an integration has nothing to set up.
            _LOGGER.info("Blynk asked the device to enter provisioning; nothing to do here")
        elif topic == "downlink/ota/json":
            self._log_ota(payload)
        elif topic == "downlink/diag":
            self._log_diag(payload)
        else:  # ping (answered by the PUBACK), utc, meta, ...: nothing to do.
            _LOGGER.debug("Ignored Blynk downlink %s", topic[:100])

    def _follow_redirect(self, url: str) -> None:
        try:
            target = Endpoint.from_url(url)
        except InvalidEndpoint as err:
            _LOGGER.warning("Ignored a Blynk redirect to %r: %s", url[:100], err)
            return
        if (self.link.endpoint.tls or self.link.current_endpoint.tls) and not target.tls:
            log = _LOGGER.warning if self._insecure_redirect_warning.allow() else _LOGGER.debug
            log(
                "Ignored a Blynk redirect to %s: it is not encrypted, and the auth token "
                "would cross the network in clear text; staying on %s",
                target,
                self.link.current_endpoint,
            )
            return
        if target != self.link.current_endpoint:
            self._leaving_on_purpose = True
            if self._ready_timer is not None:
                # Nothing was said here yet: say it there. Should the link stay after all,
                # speak here a little later rather than never.
                self._ready_timer.cancel()
                self._ready_timer = self._schedule(5 * REDIRECT_WAIT, self._ready)
        self.link.redirect(target)

    def _log_ota(self, payload: str) -> None:
        try:
            offer = json.loads(payload)
        except ValueError:
            offer = None
        version = offer.get("ver") if isinstance(offer, dict) else None
        log = _LOGGER.info if self._ota_notice.allow() else _LOGGER.debug
        log(
            "Ignored a Blynk.Air firmware update (version %r): Home Assistant integrations "
            "are updated through HACS",
            str(version)[:40] if version is not None else "unknown",
        )

    def _log_diag(self, text: str) -> None:
        if self._diag_warning.allow():
            _LOGGER.warning("Blynk says: %s", text[:500])
        else:
            _LOGGER.debug("Blynk says: %s", text[:500])
