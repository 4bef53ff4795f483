"""MQTT links on the event loop: one supervisor per link, one `Connection` per socket.

A connection's life, in one place (`MqttLink._supervise`):

    while True:
        async with connect(endpoint, options) as connection:    # connected == inside
            reason = await self._serve(connection)            # messages, publishes
        endpoint = reason.redirect or endpoint                # a redirect is a reason
        await self._pause(backoff)                            # long after refused login

`connect` returns only once the broker accepted us (CONNACK 0), and nothing that arrived
with or after the CONNACK is parsed before the supervisor has marked the link connected
and told its owner: a message in the same TLS record as the CONNACK (Blynk's redirect,
presses queued in a persistent session) waits for it.

Why our own MQTT 3.1.1 client, not aiomqtt 2.5 (nor paho-mqtt driven from the loop, as
before)? `scripts/bench-mqtt` measures all three in one Home Assistant on one Mosquitto.
aiomqtt hands every message over through a task and `asyncio.wait`: from publish to its
callback took 0.71 ms (p50) against core's 0.43 ms, ours 0.33 ms and a bare socket's
0.29 ms, and its burst rate was 0.7 to 0.8 times core's. paho, which core uses, reads a
packet with three `recv` calls or more and answers each QoS 1 message with its own write;
here one `data_received` parses every packet of a read and one write acknowledges them
all, 3.3 to 4.6 times core's burst rate. The rest comes with asyncio: the lookup runs in
the executor, the TCP connect and the TLS handshake on the loop (the CA store is loaded
in the executor), every step is under one timeout, TLS records are decrypted whole, and
there is no thread per connection.

What the network can make us hold is bounded: a packet is at most MAX_PACKET_SIZE bytes
(a larger PUBLISH is skipped as it streams past, acknowledged and counted); the unparsed
input is at most one read plus one packet, since reading pauses between CONNACK and the
first delivery, and while a backlog is handled TURN_BUDGET seconds per loop turn (so a
flood cannot stall Home Assistant); outgoing data is refused beyond MAX_WRITE_BUFFER
bytes; at most MAX_INFLIGHT QoS 1 messages and subscriptions await their acknowledgement.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
import contextlib
import dataclasses
from dataclasses import dataclass, field
from enum import Enum, StrEnum, auto
import functools
import ipaddress
import logging
import socket
import ssl
import time
from typing import Any, Final, cast
from urllib.parse import urlsplit

from .backoff import Backoff
from .mqtt_packets import (
    DISCONNECT_PACKET,
    PINGREQ_PACKET,
    PUBACK,
    SUBACK_FAILURE,
    Ack,
    Connack,
    ConnackCode,
    Dropped,
    PacketReader,
    Pingresp,
    ProtocolError,
    Publish,
    Suback,
    encode_connect,
    encode_puback,
    encode_publish,
    encode_subscribe,
)
from .websocket import WebSocketClient, WebSocketError

_LOGGER = logging.getLogger(__name__)

# The bell's and Blynk's messages are at most 1 KiB; this leaves a wide margin.
MAX_PACKET_SIZE: Final = 64 * 1024
MAX_WRITE_BUFFER: Final = 256 * 1024
MAX_INFLIGHT: Final = 256
# How long the packets of one read may keep the event loop before the rest of Home
# Assistant gets its turn: a flood from a public broker must not stall it. Cheap messages
# go through by the hundred per turn, costly ones a few at a time.
TURN_BUDGET: Final = 0.004
ACK_TIMEOUT: Final = 10.0
# How long a polite close may take before the socket is simply dropped.
CLOSE_TIMEOUT: Final = 2.0
# After a PINGREQ, how long the broker may stay silent before the link counts as dead.
MAX_PING_WAIT: Final = 15.0
# Refused credentials are retried this rarely (Blynk's own sample waits 15 minutes), so a
# transient refusal recovers without hammering a server that rejects us.
AUTH_RETRY_DELAY: Final = 15 * 60.0
# After an error that is our own bug, wait this long before trying again.
RETRY_AFTER_ERROR: Final = 10.0
# A link that has never connected reports itself unavailable only after this long, so
# a setup that fails (and says so itself) does not log it twice.
QUIET_START: Final = 30.0
# A redirect target that fails this many times in a row is abandoned.
REDIRECT_ATTEMPTS: Final = 2

type MessageHandler = Callable[[Message], None]
type TaskFactory = Callable[[Coroutine[Any, Any, None], str], asyncio.Task[None]]
type _AckWaiter = Callable[[bool], None]

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


@dataclass(frozen=True, slots=True)
class CloseReason:
    """Why a connection ended, and what to do next: where to go, whether to wait."""

    text: str
    redirect: Endpoint | None = None
    at_once: bool = False

    def __str__(self) -> str:
        """Say why in words."""
        return self.text


@dataclass(slots=True)
class LinkStats:
    """What a link counts over its life, for diagnostics."""

    attempts: int = 0
    connections: int = 0
    received: int = 0
    dropped: int = 0


@functools.cache
def system_tls_context() -> ssl.SSLContext:
    """Return a client TLS context trusting the system's CA store.

    Loading the CA store reads files, so call this from the executor.
    """
    return ssl.create_default_context()


class _Phase(Enum):
    CONNECTING = auto()  # The socket is up (or coming up); no CONNACK yet.
    ACCEPTED = auto()  # CONNACK 0: input is held until the owner is ready for it.
    SERVING = auto()  # Messages go to the owner as they arrive.
    CLOSED = auto()


class Connection(asyncio.Protocol):
    """One MQTT connection, from the TCP connect to the socket's close.

    Made by `connect` (or `open`); the supervisor subscribes, starts the delivery of messages, and
    waits for `closed`, which tells why the connection ended.
    """

    def __init__(
        self,
        endpoint: Endpoint,
        options: SessionOptions,
        name: str,
        stats: LinkStats | None = None,
    ) -> None:
        """Prepare; `connect` opens the socket."""
        self.endpoint = endpoint
        self._options = options
        self._name = name
        self._stats = stats or LinkStats()
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._reader = PacketReader(MAX_PACKET_SIZE)
        self._ws = (
            WebSocketClient(endpoint.host, endpoint.port, endpoint.path, tls=endpoint.tls)
            if endpoint.websocket
            else None
        )
        self._phase = _Phase.CONNECTING
        self._on_message: MessageHandler = _ignore
        self._upgraded: asyncio.Future[bool] = self._loop.create_future()
        self._connack: asyncio.Future[Connack | None] = self._loop.create_future()
        self.closed: asyncio.Future[CloseReason] = self._loop.create_future()
        self._released: asyncio.Future[None] = self._loop.create_future()
        # Packets to write, coalesced until the end of this loop iteration (or of the read
        # whose messages they acknowledge): one write for a burst, not one per packet.
        self._outgoing: list[bytes] = []
        self._outgoing_size = 0
        self._flush_handle: asyncio.Handle | None = None
        self._reading = True
        self._next_turn: asyncio.Handle | None = None
        self._waiting: dict[int, _AckWaiter | None] = {}  # Our QoS 1 messages.
        self._subscribing: dict[int, tuple[str, ...]] = {}
        self._last_id = 0
        self._last_in = self._last_out = self._loop.time()
        self._ping_sent: float | None = None
        self._ping_wait = min(float(options.keepalive), MAX_PING_WAIT)
        self._keepalive_timer: asyncio.TimerHandle | None = None
        self._abort_timer: asyncio.TimerHandle | None = None
        self.session_present = False

    @property
    def is_open(self) -> bool:
        """Tell whether the broker accepted us and the connection still stands."""
        return self._phase is _Phase.ACCEPTED or self._phase is _Phase.SERVING

    # Opening ------------------------------------------------------------------------

    @classmethod
    async def open(
        cls,
        endpoint: Endpoint,
        options: SessionOptions,
        name: str,
        stats: LinkStats | None = None,
    ) -> Connection:
        """Connect and log in; every step (DNS, TCP, TLS, WebSocket, CONNACK) in one timeout.

        Raises CannotConnect or InvalidAuth within `options.connect_timeout`.
        """
        loop = asyncio.get_running_loop()
        connection = cls(endpoint, options, name, stats)
        step = "resolving the host name"
        try:
            async with asyncio.timeout(options.connect_timeout):
                context = (
                    await loop.run_in_executor(None, system_tls_context) if endpoint.tls else None
                )
                addresses = await _resolve(endpoint.host, endpoint.port)
                step = "connecting"
                sock = await _connect_socket(addresses)
                step = "in the TLS handshake" if context else "connecting"
                try:
                    await loop.create_connection(
                        lambda: connection,
                        sock=sock,
                        ssl=context,
                        server_hostname=endpoint.host if context else None,
                        ssl_handshake_timeout=options.connect_timeout if context else None,
                    )
                except BaseException:
                    sock.close()
                    raise
                if connection._ws is not None:
                    step = "in the WebSocket upgrade"
                    await connection._upgrade(connection._ws)
                step = "waiting for CONNACK"
                await connection._login()
        except TimeoutError:
            connection._abort(CloseReason("timed out"))
            raise CannotConnect(
                f"no answer within {options.connect_timeout:g} s ({step})",
                ConnectFailure.TIMED_OUT,
            ) from None
        except MqttError:
            connection._abort(CloseReason("refused"))
            raise
        except OSError as err:  # Includes ssl.SSLError and socket.gaierror.
            connection._abort(CloseReason("failed"))
            raise CannotConnect(_describe(err), _classify(err)) from err
        except BaseException:
            connection._abort(CloseReason("cancelled"))
            raise
        return connection

    async def _upgrade(self, ws: WebSocketClient) -> None:
        """Switch the fresh socket to WebSocket."""
        self._send_raw(ws.handshake_request())
        if not await self._upgraded:
            raise CannotConnect(str(self.closed.result()), ConnectFailure.OTHER)

    async def _login(self) -> None:
        """Send CONNECT and wait for the verdict."""
        options = self._options
        self._send(
            encode_connect(
                options.client_id,
                keepalive=options.keepalive,
                clean_session=options.clean_session,
                username=options.username,
                password=options.password,
            )
        )
        connack = await self._connack
        if connack is None:
            raise CannotConnect(
                f"the connection closed before CONNACK ({self.closed.result()})",
                ConnectFailure.CLOSED,
            )
        if connack.code in (ConnackCode.BAD_USERNAME_OR_PASSWORD, ConnackCode.NOT_AUTHORIZED):
            raise InvalidAuth(ConnackCode.describe(connack.code))
        if connack.code != ConnackCode.ACCEPTED:
            raise CannotConnect(
                f"refused: {ConnackCode.describe(connack.code)}", ConnectFailure.REFUSED
            )

    def _accept(self, connack: Connack) -> None:
        if not self._connack.done():
            self._connack.set_result(connack)
        if connack.code != ConnackCode.ACCEPTED:
            self._abort(CloseReason(f"refused: {ConnackCode.describe(connack.code)}"))
            return
        self._phase = _Phase.ACCEPTED
        self.session_present = connack.session_present
        self._set_reading(False)  # Until start_delivery: see the module doc.
        self._schedule_keepalive()

    # What the supervisor does -----------------------------------------------------

    def start_delivery(self, on_message: MessageHandler) -> None:
        """Hand messages to `on_message` from now on, starting with any already here."""
        if self._phase is not _Phase.ACCEPTED:
            return
        self._on_message = on_message
        self._phase = _Phase.SERVING
        self._process()  # Reading resumes once what arrived with CONNACK is handled.

    def subscribe(self, subscriptions: Sequence[tuple[str, int]]) -> bool:
        """Send one SUBSCRIBE for all topic filters; a refusal is logged when it comes."""
        if not subscriptions or not self.is_open:
            return False
        if (packet_id := self._next_packet_id()) is None:
            return False
        self._subscribing[packet_id] = tuple(topic for topic, _qos in subscriptions)
        return self._send(encode_subscribe(packet_id, subscriptions))

    def publish(
        self,
        topic: str,
        payload: bytes | str,
        qos: int = 0,
        retain: bool = False,
        on_ack: Callable[[], None] | None = None,
    ) -> bool:
        """Send a message; False when it cannot be sent now.

        With QoS 1, `on_ack` runs once the broker confirms it has the message, never if
        the connection ends first.
        """
        waiter = None if on_ack is None else (lambda acked: on_ack() if acked else None)
        return self._publish(topic, payload, qos, retain, waiter)

    async def publish_acked(
        self, topic: str, payload: bytes | str, timeout: float = ACK_TIMEOUT
    ) -> bool:
        """Publish with QoS 1 and wait for the broker's PUBACK."""
        acked: asyncio.Future[bool] = self._loop.create_future()

        def done(result: bool) -> None:
            if not acked.done():
                acked.set_result(result)

        if not self._publish(topic, payload, 1, False, done):
            return False
        try:
            async with asyncio.timeout(timeout):
                return await acked
        except TimeoutError:
            return False

    def close(self, reason: CloseReason) -> bool:
        """Say goodbye (DISCONNECT) and close; False if it was closed already.

        Safe from inside a message handler: the messages after the current one stay
        unread (and, with QoS 1, unacknowledged, so the broker delivers them again).
        """
        if self._phase is _Phase.CLOSED:
            return False
        if self.is_open:
            self._send(DISCONNECT_PACKET)
        self._flush()
        if self._ws is not None and self._ws.open:
            self._send_raw(self._ws.close_frame())
        self._finish(reason)
        if (transport := self._transport) is not None:
            transport.close()
            self._abort_timer = self._loop.call_later(CLOSE_TIMEOUT, transport.abort)
        return True

    async def wait_released(self, timeout: float = CLOSE_TIMEOUT) -> None:
        """Wait until the socket is closed; drop it if that takes longer than `timeout`."""
        if self._transport is None or self._released.done():
            return
        try:
            async with asyncio.timeout(timeout):
                await asyncio.shield(self._released)
        except TimeoutError:
            self._transport.abort()

    # asyncio.Protocol ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the transport."""
        self._transport = cast("asyncio.Transport", transport)

    def data_received(self, data: bytes) -> None:
        """Parse what arrived; a bug here drops the connection, never the loop."""
        self._last_in = self._loop.time()
        self._ping_sent = None
        try:
            if (ws := self._ws) is not None:
                data = self._unwrap(ws, data)
            if data:
                self._reader.feed(data)
                if self._next_turn is None and (
                    self._phase is _Phase.SERVING or self._phase is _Phase.CONNECTING
                ):
                    self._process()
            if ws is not None and ws.close_code is not None:
                self._abort(CloseReason(f"the server closed the WebSocket ({ws.close_code})"))
        except Exception:
            _LOGGER.exception("%s: error while reading from the broker", self._name)
            self._abort(CloseReason("internal error while reading"))

    def eof_received(self) -> bool | None:
        """Let the transport close: the broker has nothing more to say."""
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        """Record why the socket closed (if the connection had not ended before)."""
        if self._abort_timer is not None:
            self._abort_timer.cancel()
            self._abort_timer = None
        self._finish(
            CloseReason(
                "the broker closed the connection"
                if exc is None
                else f"connection lost ({_describe(exc)})"
            )
        )
        if not self._released.done():
            self._released.set_result(None)

    # Reading ------------------------------------------------------------------------

    def _unwrap(self, ws: WebSocketClient, data: bytes) -> bytes:
        try:
            data = ws.feed(data)
        except WebSocketError as err:
            self._abort(CloseReason(f"WebSocket: {err}"))
            return b""
        for reply in ws.replies:
            self._send_raw(reply)
        ws.replies.clear()
        if ws.open and not self._upgraded.done():
            self._upgraded.set_result(True)
        return data

    def _process(self) -> None:
        """Handle the whole packets received, a turn's worth at a time."""
        self._next_turn = None
        reader = self._reader
        loop = self._loop
        until = loop.time() + TURN_BUDGET
        try:
            while self._phase is _Phase.SERVING or self._phase is _Phase.CONNECTING:
                if loop.time() > until:
                    # Let the rest of Home Assistant run; go on in the next iteration.
                    self._set_reading(False)
                    self._next_turn = self._loop.call_soon(self._process)
                    break
                if (packet := reader.next()) is None:
                    if self._phase is _Phase.SERVING:
                        self._set_reading(True)
                    break
                if type(packet) is Publish:
                    self._deliver(packet)
                else:
                    self._handle(packet)
        except ProtocolError as err:
            self._flush()
            _LOGGER.debug("%s: protocol error: %s", self._name, err)
            self._abort(CloseReason(f"protocol error: {err}"))
            return
        self._flush()

    def _deliver(self, packet: Publish) -> None:
        if self._phase is _Phase.CONNECTING:
            raise ProtocolError("PUBLISH before CONNACK")
        if packet.qos == 2:
            raise ProtocolError("a QoS 2 message, but we never subscribe with QoS 2")
        if packet.packet_id is not None:
            # Queued before the handler runs: if it closes the connection (a redirect),
            # the close still acknowledges this message.
            self._send(encode_puback(packet.packet_id))
        self._stats.received += 1
        try:
            self._on_message(Message(packet.topic, packet.payload, packet.qos, packet.retain))
        except Exception:  # A handler bug must not take the connection down.
            _LOGGER.exception("%s: error handling a message on %s", self._name, packet.topic)

    def _handle(self, packet: object) -> None:
        if self._phase is _Phase.CONNECTING:
            if type(packet) is not Connack:
                raise ProtocolError(f"{type(packet).__name__} before CONNACK")
            self._accept(packet)
            return
        match packet:
            case Ack(type=kind, packet_id=packet_id) if kind == PUBACK:
                if packet_id in self._waiting and (waiter := self._waiting.pop(packet_id)):
                    _call_safely(self._name, waiter, True)
            case Suback(packet_id=packet_id, codes=codes):
                topics = self._subscribing.pop(packet_id, ())
                if refused := [
                    t for t, c in zip(topics, codes, strict=False) if c == SUBACK_FAILURE
                ]:
                    _LOGGER.warning(
                        "%s: the broker refused the subscription to %s", self._name, refused
                    )
            case Dropped(reason=reason, size=size, qos=qos, packet_id=packet_id):
                if qos == 2:
                    raise ProtocolError("a QoS 2 message, but we never subscribe with QoS 2")
                self._stats.dropped += 1
                _LOGGER.debug("%s: skipped a message of %d bytes: %s", self._name, size, reason)
                if packet_id is not None:
                    self._send(encode_puback(packet_id))
            case Connack():
                raise ProtocolError("a second CONNACK")
            case Ack() | Pingresp():
                pass  # PUBREC/PUBCOMP/UNSUBACK: nothing of ours; PINGRESP: it is alive.

    def _set_reading(self, reading: bool) -> None:
        if self._transport is not None and reading != self._reading:
            self._reading = reading
            if reading:
                self._transport.resume_reading()
            else:
                self._transport.pause_reading()

    # Writing ------------------------------------------------------------------------

    def _send(self, packet: bytes) -> bool:
        """Queue a packet; it is written at the end of this loop iteration."""
        transport = self._transport
        if transport is None or transport.is_closing():
            return False
        self._outgoing.append(packet)
        self._outgoing_size += len(packet)
        if self._flush_handle is None:
            self._flush_handle = self._loop.call_soon(self._flush)
        return True

    def _flush(self) -> None:
        """Write every queued packet at once."""
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        if self._outgoing:
            data = b"".join(self._outgoing)
            self._outgoing.clear()
            self._outgoing_size = 0
            self._send_raw(data if self._ws is None else self._ws.frame(data))

    def _send_raw(self, data: bytes) -> bool:
        transport = self._transport
        if transport is None or transport.is_closing():
            return False
        transport.write(data)
        self._last_out = self._loop.time()
        return True

    def _publish(
        self,
        topic: str,
        payload: bytes | str,
        qos: int,
        retain: bool,
        waiter: _AckWaiter | None,
    ) -> bool:
        transport = self._transport
        if not self.is_open or transport is None:
            return False
        if transport.get_write_buffer_size() + self._outgoing_size > MAX_WRITE_BUFFER:
            _LOGGER.debug("%s: not sent to %s: the broker is not reading", self._name, topic)
            return False
        data = payload.encode() if isinstance(payload, str) else payload
        packet_id = None
        if qos and (packet_id := self._next_packet_id()) is None:
            return False
        try:
            packet = encode_publish(topic, data, qos=qos, retain=retain, packet_id=packet_id)
        except ValueError as err:
            _LOGGER.warning("%s: not sent to %s: %s", self._name, topic[:100], err)
            return False
        if packet_id is not None:
            self._waiting[packet_id] = waiter
        return self._send(packet)

    def _next_packet_id(self) -> int | None:
        if len(self._waiting) + len(self._subscribing) >= MAX_INFLIGHT:
            return None
        while True:
            self._last_id = self._last_id % 0xFFFF + 1
            if self._last_id not in self._waiting and self._last_id not in self._subscribing:
                return self._last_id

    # Keepalive ----------------------------------------------------------------------

    def _schedule_keepalive(self) -> None:
        keepalive = self._options.keepalive
        if keepalive <= 0 or not self.is_open:
            return
        if self._ping_sent is not None:
            when = self._ping_sent + self._ping_wait
        else:
            when = min(self._last_in, self._last_out) + keepalive
        self._keepalive_timer = self._loop.call_at(when, self._check_alive)

    def _check_alive(self) -> None:
        """Ping when either direction was quiet for a keepalive; give up if no answer."""
        self._keepalive_timer = None
        try:
            now = self._loop.time()
            if self._ping_sent is not None:
                if now >= self._ping_sent + self._ping_wait:
                    self._abort(CloseReason("the broker stopped answering"))
                    return
            elif now >= min(self._last_in, self._last_out) + self._options.keepalive:
                self._send(PINGREQ_PACKET)
                self._ping_sent = now
            self._schedule_keepalive()
        except Exception:
            _LOGGER.exception("%s: error in the keepalive", self._name)
            self._abort(CloseReason("internal error in the keepalive"))

    # Ending -------------------------------------------------------------------------

    def _abort(self, reason: CloseReason) -> None:
        """End now, without a goodbye."""
        self._finish(reason)
        if self._transport is not None:
            self._transport.abort()

    def _finish(self, reason: CloseReason) -> None:
        """Mark the connection ended and release whoever waits on it; idempotent."""
        if self._phase is _Phase.CLOSED:
            return
        self._phase = _Phase.CLOSED
        if self._keepalive_timer is not None:
            self._keepalive_timer.cancel()
            self._keepalive_timer = None
        waiters = [waiter for waiter in self._waiting.values() if waiter is not None]
        self._waiting.clear()
        self._subscribing.clear()
        self._outgoing.clear()
        for handle in (self._flush_handle, self._next_turn):
            if handle is not None:
                handle.cancel()
        self._flush_handle = self._next_turn = None
        if not self._upgraded.done():
            self._upgraded.set_result(False)
        if not self._connack.done():
            self._connack.set_result(None)
        if not self.closed.done():
            self.closed.set_result(reason)
        for waiter in waiters:
            _call_safely(self._name, waiter, False)


def _ignore(_message: Message) -> None:
    """Receive nothing: messages are held until delivery starts."""


def _call_safely(name: str, handler: Callable[..., None], *args: Any) -> None:
    try:
        handler(*args)
    except Exception:
        _LOGGER.exception("%s: error in a connection handler", name)


async def _resolve(host: str, port: int) -> list[tuple[int, Any]]:
    """Return (family, address) pairs; the DNS lookup runs in the executor."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        return [(family, address) for family, _type, _proto, _name, address in infos]
    return [(socket.AF_INET6 if ip.version == 6 else socket.AF_INET, (host, port))]


async def _connect_socket(addresses: list[tuple[int, Any]]) -> socket.socket:
    """Connect a non-blocking socket to the first address that answers."""
    loop = asyncio.get_running_loop()
    error: OSError = OSError("the host name has no address")
    for family, address in addresses:
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            await loop.sock_connect(sock, address)
        except OSError as err:
            sock.close()
            error = err
            continue
        except BaseException:
            sock.close()
            raise
        return sock
    raise error


@contextlib.asynccontextmanager
async def connect(
    endpoint: Endpoint,
    options: SessionOptions,
    *,
    name: str = "MQTT",
    stats: LinkStats | None = None,
) -> AsyncIterator[Connection]:
    """Connect and log in; leaving the block says goodbye and closes the socket.

    Raises CannotConnect or InvalidAuth within `options.connect_timeout`.
    """
    connection = await Connection.open(endpoint, options, name, stats)
    try:
        yield connection
    finally:
        connection.close(CloseReason("closed by us"))
        await connection.wait_released()


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
    """Connect once with a clean session and leave; raise CannotConnect or InvalidAuth.

    Answers within `timeout`, whatever the server does (or does not do).
    """
    once = dataclasses.replace(
        options, clean_session=True, connect_timeout=timeout, subscriptions=()
    )
    async with connect(endpoint, once, name=f"check {endpoint.host}"):
        pass


async def async_end_session(
    endpoint: Endpoint, options: SessionOptions, timeout: float = 5.0
) -> None:
    """Make the broker forget the persistent session of `options.client_id`.

    A clean-session connect discards the stored session: its subscriptions and the
    messages queued for it. Raises CannotConnect or InvalidAuth.
    """
    await async_check_connection(endpoint, options, timeout)


class LinkState(StrEnum):
    """Where a link is in its life."""

    STOPPED = "stopped"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    WAITING = "waiting"  # Between attempts.


def _plain_task(coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
    return asyncio.get_running_loop().create_task(coro, name=name)


class MqttLink:
    """A connection that stays up: reconnects with backoff and resubscribes each time.

    `endpoint` is the configured broker. A redirect (Blynk sends one right after
    connecting) is followed for later connections until it stops answering, then the
    link falls back to the configured broker. Loss and recovery are logged here, once.
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
        if any(qos not in (0, 1) for _topic, qos in options.subscriptions):
            raise ValueError("subscriptions are QoS 0 or 1")
        self.endpoint = endpoint
        self._options = options
        self._name = name
        self._on_message = on_message
        self._on_connected = on_connected or (lambda _session_present: None)
        self._on_disconnected = on_disconnected or (lambda _reason: None)
        self._on_auth_failed = on_auth_failed or (lambda: None)
        self._backoff = backoff or Backoff()
        self._task_factory = task_factory or _plain_task
        self.state = LinkState.STOPPED
        self.stats = LinkStats()
        self._connection: Connection | None = None
        self._redirect: Endpoint | None = None
        self._redirect_failures = 0
        self._supervisor: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        # Set while connected, and after the credentials were refused: the moments
        # async_wait_connected has an answer.
        self._settled = asyncio.Event()
        self._hold_until = 0.0
        self._outage_since: float | None = None
        self._outage_logged = False
        self._ever_connected = False
        self._uptime = 0.0
        self.connected_since: float | None = None
        self.last_error: str | None = None
        self.last_disconnect: str | None = None
        self.auth_failed = False

    @property
    def connected(self) -> bool:
        """Tell whether the broker currently accepts our messages."""
        return self._connection is not None and self._connection.is_open

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

        Returns early when the broker refused the credentials.
        """
        if not self.connected and not self.auth_failed:
            waiter = asyncio.get_running_loop().create_task(self._settled.wait())
            watched: set[asyncio.Future[Any]] = {waiter}
            if self._supervisor is not None:
                watched.add(self._supervisor)
            try:
                await asyncio.wait(watched, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            finally:
                waiter.cancel()
        return self.connected

    async def async_stop(self) -> None:
        """Disconnect politely and stop reconnecting; leaves no task, timer or socket."""
        supervisor, self._supervisor = self._supervisor, None
        if supervisor is not None:
            supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await supervisor

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
        connection = self._connection
        return connection is not None and connection.publish(topic, payload, qos, retain, on_ack)

    async def async_publish_acked(self, topic: str, payload: bytes | str) -> bool:
        """Publish with QoS 1 and wait for the broker's PUBACK."""
        connection = self._connection
        return connection is not None and await connection.publish_acked(topic, payload)

    def redirect(self, target: Endpoint) -> None:
        """Move to another server now, keeping the credentials."""
        if target != self.current_endpoint:
            self._leave(CloseReason(f"redirected to {target}", redirect=target))

    def reconnect_now(self, reason: str) -> None:
        """Drop the current connection and connect again without waiting."""
        self._backoff.reset()
        self._hold_until = 0.0
        self._leave(CloseReason(reason, at_once=True))

    def hold_off(self, seconds: float) -> None:
        """Make the next reconnect wait at least this long (another client is fighting us)."""
        self._hold_until = max(self._hold_until, time.monotonic() + seconds)

    def _leave(self, reason: CloseReason) -> None:
        """Close the connection for `reason`; when there is none, act on it at once."""
        connection = self._connection
        if connection is not None and connection.close(reason):
            return  # The supervisor takes it from here.
        self._follow(reason)
        self._wake.set()

    def _follow(self, reason: CloseReason) -> None:
        if reason.redirect is not None:
            _LOGGER.info("%s: redirected to %s", self._name, reason.redirect)
            self._redirect = None if reason.redirect == self.endpoint else reason.redirect
            self._redirect_failures = 0

    # The supervisor -----------------------------------------------------------------

    async def _supervise(self) -> None:
        try:
            while True:
                try:
                    delay = await self._connect_once()
                except Exception:  # Our own bug: say so, and keep the link alive.
                    _LOGGER.exception("%s: unexpected error; reconnecting", self._name)
                    self.last_error = "unexpected error (see the log)"
                    delay = RETRY_AFTER_ERROR
                await self._pause(delay)
        finally:
            self.state = LinkState.STOPPED
            self._connection = None
            self._settled.clear()

    async def _connect_once(self) -> float:
        """Live through one connection; return how long to wait before the next."""
        endpoint = self.current_endpoint
        self.state = LinkState.CONNECTING
        self.stats.attempts += 1
        try:
            async with connect(endpoint, self._options, name=self._name, stats=self.stats) as (
                connection
            ):
                reason = await self._serve(connection)
        except InvalidAuth as err:
            return self._refused(endpoint, err)
        except CannotConnect as err:
            return self._failed(endpoint, err)
        return self._ended(reason)

    async def _serve(self, connection: Connection) -> CloseReason:
        """Announce the connection, hand its messages over, and wait for its end."""
        self._connection = connection
        self.state = LinkState.CONNECTED
        self.stats.connections += 1
        self.connected_since = time.monotonic()
        self.last_error = None
        self.auth_failed = False
        self._redirect_failures = 0
        self._wake.clear()
        self._note_connected(connection.endpoint)
        connection.subscribe(self._options.subscriptions)
        self._settled.set()
        _call_safely(self._name, self._on_connected, connection.session_present)
        connection.start_delivery(self._on_message)
        try:
            # Shielded: cancelling the supervisor must not cancel the connection's own
            # future; leaving `connect` then says goodbye.
            return await asyncio.shield(connection.closed)
        finally:
            self._connection = None
            self._settled.clear()
            self._uptime = time.monotonic() - self.connected_since
            self.connected_since = None

    def _ended(self, reason: CloseReason) -> float:
        self._backoff.connection_ended(self._uptime)
        self.last_disconnect = reason.text
        _call_safely(self._name, self._on_disconnected, reason.text)
        if reason.redirect is not None:
            self._follow(reason)
            return 0.0
        if reason.at_once:
            _LOGGER.debug("%s: reconnecting: %s", self._name, reason)
            return 0.0
        self._note_unavailable(f"connection lost ({reason})", lost=True)
        return self._backoff.next_delay()

    def _failed(self, endpoint: Endpoint, err: CannotConnect) -> float:
        self.last_error = str(err)
        _LOGGER.debug("%s: cannot connect to %s: %s", self._name, endpoint, err)
        if self._redirect is not None:
            self._redirect_failures += 1
            if self._redirect_failures >= REDIRECT_ATTEMPTS:
                _LOGGER.warning(
                    "%s: redirect target %s does not answer; back to %s",
                    self._name,
                    self._redirect,
                    self.endpoint,
                )
                self._redirect = None
                self._redirect_failures = 0
                return 0.0
        self._note_unavailable(f"cannot connect to {endpoint} ({err})")
        return self._backoff.next_delay()

    def _refused(self, endpoint: Endpoint, err: InvalidAuth) -> float:
        self.last_error = f"credentials refused ({err})"
        if not self.auth_failed:
            self.auth_failed = True
            _LOGGER.error(
                "%s: %s refused the credentials; trying again every %d minutes until they change",
                self._name,
                endpoint.host,
                AUTH_RETRY_DELAY // 60,
            )
            _call_safely(self._name, self._on_auth_failed)
        self._settled.set()
        return self._backoff.shake(AUTH_RETRY_DELAY)

    def _note_connected(self, endpoint: Endpoint) -> None:
        if self._outage_logged:
            _LOGGER.info("%s: connected again to %s", self._name, endpoint)
        else:
            _LOGGER.debug("%s: connected to %s", self._name, endpoint)
        self._outage_logged = False
        self._outage_since = None
        self._ever_connected = True

    def _note_unavailable(self, detail: str, *, lost: bool = False) -> None:
        now = time.monotonic()
        if self._outage_since is None:
            self._outage_since = now
        if self._outage_logged:
            return
        if lost or self._ever_connected or now - self._outage_since >= QUIET_START:
            _LOGGER.info("%s: %s; reconnecting in the background", self._name, detail)
            self._outage_logged = True

    async def _pause(self, delay: float) -> None:
        """Sleep before reconnecting, unless `reconnect_now` wakes us."""
        self.state = LinkState.WAITING
        delay = max(delay, self._hold_until - time.monotonic())
        if delay > 0:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._wake.wait()
        self._wake.clear()
