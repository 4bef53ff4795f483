"""MQTT connections driven by the asyncio event loop, with no thread per connection.

paho-mqtt offers an "external loop" API. Connecting (DNS, TCP, TLS handshake, the
WebSocket upgrade) blocks, so it runs in the executor; afterwards the event loop
watches the socket with add_reader/add_writer and ticks loop_misc() once a second for
keepalive pings. `MqttLink` adds a supervisor task that reconnects with backoff and
resubscribes; `async_check_connection` is the one-shot probe used by config flows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Sequence
import contextlib
from dataclasses import dataclass, field
from enum import StrEnum
import functools
import logging
import socket
import ssl
import time
from typing import Any, Final
from urllib.parse import urlsplit

from paho.mqtt.client import Client, ConnectFlags, DisconnectFlags, MQTTMessage
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from .backoff import Backoff

_LOGGER = logging.getLogger(__name__)

# paho reports MQTT 3.1.1 CONNACK codes 4 (bad user name or password) and
# 5 (not authorized) as these MQTT 5 reason codes.
_AUTH_FAILURE_CODES: Final = frozenset({134, 135})
# paho's reason code when the socket broke without a DISCONNECT.
_UNSPECIFIED_ERROR: Final = 128
_MISC_INTERVAL: Final = 1.0
_ACK_TIMEOUT: Final = 10.0

type MessageHandler = Callable[[Message], None]
type TaskFactory = Callable[[Coroutine[Any, Any, None], str], asyncio.Task[None]]

# URL scheme: (TLS, WebSocket, default port). `tcp` and `tls` are older Blynk spellings.
_SCHEMES: Final[dict[str, tuple[bool, bool, int]]] = {
    "mqtt": (False, False, 1883),
    "tcp": (False, False, 1883),
    "mqtts": (True, False, 8883),
    "tls": (True, False, 8883),
    "ssl": (True, False, 8883),
    "ws": (False, True, 80),
    "wss": (True, True, 443),
}


class MqttError(Exception):
    """Base of the errors this module raises."""


class ConnectFailure(StrEnum):
    """Why a connection attempt failed, in words a user can act on."""

    REFUSED = "refused"  # Nothing listens on the port, or CONNACK refused us.
    TIMED_OUT = "timed_out"
    NAME_NOT_FOUND = "name_not_found"
    TLS_UNTRUSTED = "tls_untrusted"
    TLS_FAILED = "tls_failed"
    CLOSED = "closed"  # The connection ended before CONNACK.
    OTHER = "other"


class CannotConnect(MqttError):
    """The broker could not be reached or did not accept the connection."""

    def __init__(self, detail: str, kind: ConnectFailure = ConnectFailure.OTHER) -> None:
        """Keep why, for the config flow's error message."""
        super().__init__(detail)
        self.kind = kind


class InvalidAuth(MqttError):
    """The broker refused the credentials (CONNACK 4 or 5)."""


class InvalidEndpoint(ValueError):
    """A broker URL this client cannot use."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where a broker listens, and how to talk to it."""

    host: str
    port: int
    tls: bool = False
    websocket: bool = False
    path: str = "/mqtt"

    @classmethod
    def from_url(cls, url: str) -> Endpoint:
        """Parse `mqtt://`, `mqtts://`, `ws://`, `wss://`, `tcp://` or `tls://` URLs."""
        try:
            parts = urlsplit(url.strip())
            port = parts.port
        except ValueError as err:
            raise InvalidEndpoint(f"not a URL: {err}") from err
        scheme = parts.scheme.lower()
        if scheme not in _SCHEMES:
            raise InvalidEndpoint(f"unsupported scheme {scheme!r}")
        if not parts.hostname:
            raise InvalidEndpoint("the URL has no host")
        tls, websocket, default_port = _SCHEMES[scheme]
        return cls(
            host=parts.hostname,
            port=port or default_port,
            tls=tls,
            websocket=websocket,
            path=(parts.path or "/mqtt") if websocket else "/mqtt",
        )

    @property
    def url(self) -> str:
        """Return the canonical URL of this endpoint."""
        scheme = (
            ("wss" if self.tls else "ws") if self.websocket else ("mqtts" if self.tls else "mqtt")
        )
        host = f"[{self.host}]" if ":" in self.host else self.host
        path = self.path if self.websocket else ""
        return f"{scheme}://{host}:{self.port}{path}"

    def __str__(self) -> str:
        """Show the endpoint as its URL."""
        return self.url


@dataclass(frozen=True, slots=True)
class Message:
    """A message received from the broker."""

    topic: str
    payload: bytes
    qos: int
    retain: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionOptions:
    """How to identify and behave on a connection. The password is never shown."""

    client_id: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    keepalive: int = 60
    clean_session: bool = True
    connect_timeout: float = 10.0
    subscriptions: tuple[tuple[str, int], ...] = ()


@functools.cache
def system_tls_context() -> ssl.SSLContext:
    """Return a client TLS context trusting the system's CA store.

    Loading the CA store reads files, so call this from the executor.
    """
    return ssl.create_default_context()


def _has_pending_bytes(sock: Any) -> bool:
    """Tell whether a TLS socket holds decrypted bytes that select() cannot see."""
    pending = getattr(sock, "pending", None)
    return bool(pending and pending() > 0)


class _Session:
    """One connection of one paho client, from the TCP connect to the socket close."""

    def __init__(
        self,
        endpoint: Endpoint,
        options: SessionOptions,
        on_message: MessageHandler,
        name: str,
    ) -> None:
        self.endpoint = endpoint
        self._options = options
        self._on_message = on_message
        self._name = name
        self._loop = asyncio.get_running_loop()
        self._client = Client(
            CallbackAPIVersion.VERSION2,
            client_id=options.client_id,
            clean_session=options.clean_session,
            protocol=MQTTProtocolVersion.MQTTv311,
            transport="websockets" if endpoint.websocket else "tcp",
            reconnect_on_failure=False,
        )
        self._client.suppress_exceptions = True
        self._client.connect_timeout = options.connect_timeout
        if options.username is not None:
            self._client.username_pw_set(options.username, options.password)
        if endpoint.websocket:
            self._client.ws_set_options(path=endpoint.path)
        self._client.on_connect = self._handle_connect
        self._client.on_disconnect = self._handle_disconnect
        self._client.on_message = self._handle_message
        self._client.on_publish = self._handle_ack
        self._client.on_subscribe = self._handle_subscribe_ack
        self._fd: int | None = None
        self._writing = False
        self._misc_timer: asyncio.TimerHandle | None = None
        self._connack: asyncio.Future[bool] = self._loop.create_future()
        self.closed: asyncio.Future[str] = self._loop.create_future()
        self._acks: dict[int, asyncio.Future[None]] = {}

    @property
    def is_open(self) -> bool:
        """Tell whether the broker accepted us and the socket is still up."""
        return (
            self._connack.done()
            and not self._connack.cancelled()
            and self._connack.exception() is None
            and not self.closed.done()
        )

    async def async_open(self) -> bool:
        """Connect and wait for CONNACK; return whether the broker kept a session."""
        if self.endpoint.tls:
            context = await self._loop.run_in_executor(None, system_tls_context)
            self._client.tls_set_context(context)
        # DNS, TCP connect, TLS handshake and the WebSocket upgrade all block.
        connecting = self._loop.run_in_executor(
            None,
            self._client.connect,
            self.endpoint.host,
            self.endpoint.port,
            self._options.keepalive,
        )
        try:
            result = await asyncio.shield(connecting)
        except asyncio.CancelledError:
            # The executor finishes the connect anyway; close what it opens.
            connecting.add_done_callback(self._abandon_connect)
            raise
        except (OSError, ValueError) as err:
            self._teardown(f"connect failed: {_describe(err)}")
            raise CannotConnect(_describe(err), _classify(err)) from err
        if result != MQTTErrorCode.MQTT_ERR_SUCCESS:
            self._teardown(f"connect failed: {result}")
            raise CannotConnect(str(result))
        self._watch_socket()
        try:
            async with asyncio.timeout(self._options.connect_timeout):
                return await self._connack
        except TimeoutError as err:
            self.close()
            raise CannotConnect(
                "the broker did not answer CONNECT", ConnectFailure.TIMED_OUT
            ) from err
        except MqttError:
            self.close()
            raise
        except asyncio.CancelledError:
            self.close()
            raise

    def _abandon_connect(self, connecting: asyncio.Future[MQTTErrorCode]) -> None:
        if not connecting.cancelled():
            connecting.exception()  # Retrieved: a failure here is expected, not news.
        self._teardown("cancelled")

    def publish(
        self,
        topic: str,
        payload: bytes | str,
        qos: int,
        retain: bool,
        on_ack: Callable[[], None] | None = None,
    ) -> int | None:
        """Queue a message; return its message id, or None when it cannot be sent.

        `on_ack` runs when the broker acknowledges a QoS 1 message, never if the
        connection drops first.
        """
        if not self.is_open:
            return None
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            return None
        if on_ack is not None and qos > 0:
            self._ack_future(info.mid).add_done_callback(
                lambda acked: on_ack() if acked.exception() is None else None
            )
        return info.mid

    async def async_wait_ack(self, mid: int, timeout: float = _ACK_TIMEOUT) -> bool:
        """Wait for the broker's acknowledgement of a QoS 1 publish or a subscribe."""
        future = self._ack_future(mid)
        try:
            async with asyncio.timeout(timeout):
                await asyncio.shield(future)
        except (TimeoutError, MqttError):
            return False
        finally:
            self._acks.pop(mid, None)
        return True

    def subscribe(self, subscriptions: Sequence[tuple[str, int]]) -> int | None:
        """Send one SUBSCRIBE for all topics; return its message id."""
        if not subscriptions or not self.is_open:
            return None
        result, mid = self._client.subscribe(list(subscriptions))
        return mid if result == MQTTErrorCode.MQTT_ERR_SUCCESS else None

    def close(self, reason: str = "closed by us") -> None:
        """Say goodbye to the broker if we can, then release the socket."""
        if self._client.socket() is not None and self.is_open:
            self._client.disconnect()
            self._client.loop_write()
        self._teardown(reason)

    # Event loop plumbing ---------------------------------------------------------

    def _watch_socket(self) -> None:
        sock = self._client.socket()
        if sock is None:
            self._teardown("socket closed while connecting")
            return
        self._fd = sock.fileno()
        self._client.on_socket_close = self._handle_socket_close
        self._client.on_socket_register_write = self._handle_register_write
        self._client.on_socket_unregister_write = self._handle_unregister_write
        self._loop.add_reader(self._fd, self._on_readable)
        if self._client.want_write():
            self._start_writing()
        self._misc_timer = self._loop.call_later(_MISC_INTERVAL, self._tick)

    def _on_readable(self) -> None:
        try:
            result = self._client.loop_read()
            while result == MQTTErrorCode.MQTT_ERR_SUCCESS and _has_pending_bytes(
                self._client.socket()
            ):
                result = self._client.loop_read()
        except Exception:  # paho or a handler failed: drop the link, never the loop.
            _LOGGER.exception("%s: error while reading from the broker", self._name)
            self._teardown("read error")
            return
        if result not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            self._teardown(f"read failed: {result}")

    def _on_writable(self) -> None:
        try:
            self._client.loop_write()
        except Exception:
            _LOGGER.exception("%s: error while writing to the broker", self._name)
            self._teardown("write error")

    def _tick(self) -> None:
        self._misc_timer = None
        if self.closed.done():
            return
        self._client.loop_misc()
        if not self.closed.done() and self._client.socket() is not None:
            self._misc_timer = self._loop.call_later(_MISC_INTERVAL, self._tick)

    def _start_writing(self) -> None:
        if self._fd is not None and not self._writing:
            self._loop.add_writer(self._fd, self._on_writable)
            self._writing = True

    def _stop_watching(self) -> None:
        if self._fd is not None:
            if self._writing:
                self._loop.remove_writer(self._fd)
            self._loop.remove_reader(self._fd)
        self._fd = None
        self._writing = False

    def _teardown(self, reason: str) -> None:
        """Release everything this session holds; safe to call more than once."""
        self._stop_watching()
        if self._misc_timer is not None:
            self._misc_timer.cancel()
            self._misc_timer = None
        sock = self._client.socket()
        if sock is not None:
            sock.close()
        if not self._connack.done():
            self._connack.set_exception(CannotConnect(reason, ConnectFailure.CLOSED))
            self._connack.exception()  # Mark retrieved: nobody may be waiting.
        for future in self._acks.values():
            if not future.done():
                future.set_exception(CannotConnect(reason))
                future.exception()
        if not self.closed.done():
            self.closed.set_result(reason)

    def _ack_future(self, mid: int) -> asyncio.Future[None]:
        if (future := self._acks.get(mid)) is None:
            future = self._acks[mid] = self._loop.create_future()
            if self.closed.done():
                future.set_exception(CannotConnect("connection closed"))
                future.exception()
        return future

    def _resolve_ack(self, mid: int) -> None:
        # Only acks someone waits for are recorded; fire-and-forget ones need nothing.
        if (future := self._acks.pop(mid, None)) is not None and not future.done():
            future.set_result(None)

    # paho callbacks, all called on the event loop ---------------------------------

    def _handle_socket_close(self, _client: Client, _userdata: Any, _sock: Any) -> None:
        self._stop_watching()

    def _handle_register_write(self, _client: Client, _userdata: Any, _sock: Any) -> None:
        self._start_writing()

    def _handle_unregister_write(self, _client: Client, _userdata: Any, _sock: Any) -> None:
        if self._fd is not None and self._writing:
            self._loop.remove_writer(self._fd)
            self._writing = False

    def _handle_connect(
        self,
        _client: Client,
        _userdata: Any,
        flags: ConnectFlags,
        reason: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        if self._connack.done():
            return
        if not reason.is_failure:
            self._connack.set_result(flags.session_present)
        elif reason.value in _AUTH_FAILURE_CODES:
            self._connack.set_exception(InvalidAuth(str(reason)))
        else:
            self._connack.set_exception(CannotConnect(f"refused: {reason}", ConnectFailure.REFUSED))

    def _handle_disconnect(
        self,
        _client: Client,
        _userdata: Any,
        flags: DisconnectFlags,
        reason: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        if flags.is_disconnect_packet_from_server:
            self._teardown(f"the broker disconnected us: {reason}")
        elif reason.value == _UNSPECIFIED_ERROR:
            self._teardown("connection lost")
        else:
            self._teardown(str(reason).lower())

    def _handle_message(self, _client: Client, _userdata: Any, msg: MQTTMessage) -> None:
        try:
            topic = msg.topic
        except UnicodeDecodeError:
            _LOGGER.debug("%s: ignored a message whose topic is not UTF-8", self._name)
            return
        try:
            self._on_message(Message(topic, bytes(msg.payload), msg.qos, bool(msg.retain)))
        except Exception:  # A handler bug must not take the connection down.
            _LOGGER.exception("%s: error handling a message on %s", self._name, topic)

    def _handle_ack(
        self,
        _client: Client,
        _userdata: Any,
        mid: int,
        _reason: ReasonCode,
        _properties: Properties,
    ) -> None:
        self._resolve_ack(mid)

    def _handle_subscribe_ack(
        self,
        _client: Client,
        _userdata: Any,
        mid: int,
        reasons: list[ReasonCode],
        _properties: Properties,
    ) -> None:
        if any(reason.is_failure for reason in reasons):
            _LOGGER.warning("%s: the broker refused a subscription: %s", self._name, reasons)
        self._resolve_ack(mid)


def _plain_task(coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
    return asyncio.get_running_loop().create_task(coro, name=name)


def _classify(err: BaseException) -> ConnectFailure:
    if isinstance(err, socket.gaierror):
        return ConnectFailure.NAME_NOT_FOUND
    if isinstance(err, ssl.SSLCertVerificationError):
        return ConnectFailure.TLS_UNTRUSTED
    if isinstance(err, ssl.SSLError):
        return ConnectFailure.TLS_FAILED
    if isinstance(err, TimeoutError):
        return ConnectFailure.TIMED_OUT
    if isinstance(err, ConnectionRefusedError):
        return ConnectFailure.REFUSED
    if isinstance(err, ConnectionError):
        return ConnectFailure.CLOSED
    return ConnectFailure.OTHER


def _describe(err: BaseException) -> str:
    if isinstance(err, socket.gaierror):
        return f"cannot resolve the host name ({err.strerror})"
    if isinstance(err, ssl.SSLCertVerificationError):
        return f"TLS certificate not trusted ({err.verify_message})"
    if isinstance(err, TimeoutError):
        return "timed out"
    if isinstance(err, OSError) and err.strerror:
        return err.strerror
    return str(err) or type(err).__name__


async def async_check_connection(
    endpoint: Endpoint, options: SessionOptions, timeout: float = 10.0
) -> None:
    """Connect once and disconnect; raise CannotConnect or InvalidAuth on failure."""
    options = SessionOptions(
        client_id=options.client_id,
        username=options.username,
        password=options.password,
        keepalive=options.keepalive,
        clean_session=True,
        connect_timeout=timeout,
    )
    session = _Session(endpoint, options, lambda _message: None, f"check {endpoint.host}")
    try:
        await session.async_open()
    finally:
        session.close()


class MqttLink:
    """A connection that stays up: reconnects with backoff and resubscribes each time.

    `endpoint` is the configured broker. A redirect (Blynk sends one right after
    connecting) is followed for later connections until it stops answering, then the
    link falls back to the configured broker.
    """

    def __init__(
        self,
        endpoint: Endpoint,
        options: SessionOptions,
        *,
        name: str,
        on_message: MessageHandler,
        on_connected: Callable[[bool], None] | None = None,
        on_disconnected: Callable[[str], None] | None = None,
        on_auth_failed: Callable[[], None] | None = None,
        backoff: Backoff | None = None,
        task_factory: TaskFactory | None = None,
    ) -> None:
        """Prepare the link; nothing connects before `start`."""
        self.endpoint = endpoint
        self._options = options
        self._name = name
        self._on_message = on_message
        self._on_connected = on_connected or (lambda _session_present: None)
        self._on_disconnected = on_disconnected or (lambda _reason: None)
        self._on_auth_failed = on_auth_failed or (lambda: None)
        self._backoff = backoff or Backoff()
        self._task_factory = task_factory or _plain_task
        self._redirect: Endpoint | None = None
        self._session: _Session | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._connected_event = asyncio.Event()
        self._hold_until = 0.0
        self.connected_since: float | None = None
        self.last_error: str | None = None
        self.auth_failed = False

    @property
    def connected(self) -> bool:
        """Tell whether the broker currently accepts our messages."""
        return self._session is not None and self._session.is_open

    @property
    def current_endpoint(self) -> Endpoint:
        """Return where the link connects now: a redirect target or the configured broker."""
        return self._redirect or self.endpoint

    def start(self) -> None:
        """Start connecting in the background."""
        if self._supervisor is None or self._supervisor.done():
            self._supervisor = self._task_factory(self._supervise(), f"{self._name} MQTT link")

    async def async_wait_connected(self, timeout: float) -> bool:
        """Wait until connected, at most `timeout` seconds; return whether it is.

        Returns early when the link gives up (refused credentials).
        """
        waiter = asyncio.get_running_loop().create_task(self._connected_event.wait())
        watched: set[asyncio.Future[Any]] = {waiter}
        if self._supervisor is not None:
            watched.add(self._supervisor)
        try:
            await asyncio.wait(watched, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
        return self._connected_event.is_set()

    async def async_stop(self) -> None:
        """Disconnect and stop reconnecting; leaves no task, timer or socket behind."""
        supervisor, self._supervisor = self._supervisor, None
        if supervisor is not None:
            supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await supervisor
        if self._session is not None:
            self._session.close()
            self._session = None
        self._connected_event.clear()

    def publish(
        self,
        topic: str,
        payload: bytes | str,
        qos: int = 0,
        retain: bool = False,
        on_ack: Callable[[], None] | None = None,
    ) -> bool:
        """Send a message now if connected; return False when it could not be queued.

        With QoS 1, `on_ack` runs once the broker confirms it has the message.
        """
        session = self._session
        return (
            session is not None and session.publish(topic, payload, qos, retain, on_ack) is not None
        )

    async def async_publish_acked(self, topic: str, payload: bytes | str) -> bool:
        """Publish with QoS 1 and wait for the broker's PUBACK."""
        session = self._session
        if session is None or (mid := session.publish(topic, payload, 1, False)) is None:
            return False
        return await session.async_wait_ack(mid)

    def redirect(self, target: Endpoint) -> None:
        """Move to another server now, keeping the credentials."""
        if target == self.current_endpoint:
            return  # Already there: reconnecting would only loop.
        _LOGGER.info("%s: redirected to %s", self._name, target)
        self._redirect = None if target == self.endpoint else target
        self.reconnect_now("redirected")

    def reconnect_now(self, reason: str) -> None:
        """Drop the current connection and connect again without waiting.

        The close is deferred: this is often called from a message handler, that is
        from inside paho's read loop, which must finish with its socket intact.
        """
        self._backoff.reset()
        self._hold_until = 0.0
        self._wake.set()
        if (session := self._session) is not None:
            asyncio.get_running_loop().call_soon(session.close, reason)

    def hold_off(self, seconds: float) -> None:
        """Make the next reconnect wait at least this long (another client is fighting us)."""
        self._hold_until = max(self._hold_until, time.monotonic() + seconds)

    async def _supervise(self) -> None:
        try:
            await self._connect_forever()
        finally:
            # Also on cancellation (Home Assistant stopping): never leave a socket open.
            if self._session is not None:
                self._session.close("stopped")
                self._session = None
            self._connected_event.clear()

    async def _connect_forever(self) -> None:
        redirect_failures = 0
        while True:
            endpoint = self.current_endpoint
            session = _Session(endpoint, self._options, self._on_message, self._name)
            try:
                session_present = await session.async_open()
            except InvalidAuth as err:
                self.last_error = str(err)
                self.auth_failed = True
                _LOGGER.error(
                    "%s: %s refused the credentials; not retrying until they change",
                    self._name,
                    endpoint.host,
                )
                self._on_auth_failed()
                return
            except CannotConnect as err:
                self.last_error = str(err)
                _LOGGER.debug("%s: cannot connect to %s: %s", self._name, endpoint, err)
                if self._redirect is not None:
                    redirect_failures += 1
                    if redirect_failures >= 2:
                        _LOGGER.warning(
                            "%s: redirect target %s does not answer; back to %s",
                            self._name,
                            self._redirect,
                            self.endpoint,
                        )
                        self._redirect = None
                        redirect_failures = 0
                        continue
                await self._pause(self._backoff.next_delay())
                continue

            redirect_failures = 0
            self._backoff.reset()
            self._session = session
            self.connected_since = time.monotonic()
            self.last_error = None
            session.subscribe(self._options.subscriptions)
            self._connected_event.set()
            self._safe_call(self._on_connected, session_present)

            # Shielded: cancelling the supervisor must not mark the session closed,
            # or stopping would skip the DISCONNECT goodbye.
            reason = await asyncio.shield(session.closed)
            self._session = None
            self._connected_event.clear()
            self.connected_since = None
            self._safe_call(self._on_disconnected, reason)
            if not self._wake.is_set():
                await self._pause(self._backoff.next_delay())
            self._wake.clear()

    async def _pause(self, delay: float) -> None:
        """Sleep before reconnecting, unless `reconnect_now` wakes us."""
        delay = max(delay, self._hold_until - time.monotonic())
        try:
            async with asyncio.timeout(delay):
                await self._wake.wait()
        except TimeoutError:
            pass
        self._wake.clear()

    def _safe_call(self, handler: Callable[..., None], *args: Any) -> None:
        try:
            handler(*args)
        except Exception:
            _LOGGER.exception("%s: error in a connection handler", self._name)
