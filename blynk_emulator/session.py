"""One client connection: MQTT 3.1.1 state machine plus Blynk's rules and limits."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Final

from .packets import (
    SUBACK_FAILURE,
    ConnackCode,
    Connect,
    Packet,
    PacketReader,
    PacketTooLarge,
    PacketType,
    ProtocolError,
    Publish,
    UnsupportedProtocol,
    check_empty,
    decode_connect,
    decode_packet_id,
    decode_publish,
    decode_subscribe,
    decode_unsubscribe,
    encode_connack,
    encode_pingresp,
    encode_puback,
    encode_publish,
    encode_suback,
    encode_unsuback,
)
from .transport import CLOSE_NORMAL, CLOSE_POLICY_VIOLATION, Transport

if TYPE_CHECKING:
    from .cloud import Cloud
    from .device import Device

_LOGGER = logging.getLogger(__name__)

KEEPALIVE_GRACE: Final = 1.5
DOWNLINK_PREFIX: Final = "downlink/"


def filter_allowed(topic_filter: str) -> bool:
    """Blynk accepts filters under `downlink/` whose only wildcard is a trailing `#`."""
    if not topic_filter.startswith(DOWNLINK_PREFIX) or "+" in topic_filter:
        return False
    return "#" not in topic_filter or (topic_filter.endswith("/#") and topic_filter.count("#") == 1)


def filter_matches(topic_filter: str, topic: str) -> bool:
    """Match a topic against an allowed filter (exact, or a trailing multi-level `#`)."""
    if topic_filter.endswith("/#"):
        prefix = topic_filter[:-2]
        return topic == prefix or topic.startswith(prefix + "/")
    return topic_filter == topic


class Session:
    """Serves one connection from CONNECT to close; `run` is the connection's task."""

    def __init__(self, cloud: Cloud, transport: Transport) -> None:
        """Wrap a transport; nothing is read before `run`."""
        self._cloud = cloud
        self._transport = transport
        self._reader = PacketReader()
        self._filters: dict[str, int] = {}
        self._acks: dict[int, asyncio.Future[bool]] = {}
        self._last_id = 0
        self._keepalive = 0
        self._closing = False
        self._later: set[asyncio.TimerHandle] = set()
        self.device: Device | None = None
        self.label = transport.peer

    @property
    def subscription_filters(self) -> frozenset[str]:
        """Return the accepted topic filters."""
        return frozenset(self._filters)

    # Lifecycle -------------------------------------------------------------------------

    async def run(self) -> None:
        """Serve until the client leaves, breaks a rule, or the server drops it."""
        try:
            await self._serve()
        except ProtocolError as err:
            _LOGGER.info("%s: protocol error, closing: %s", self.label, err)
        except Exception:  # A bug in the emulator must not take the server down.
            _LOGGER.exception("%s: internal error; closing the connection", self.label)
        finally:
            self._end("connection closed")

    def kick(self, reason: str) -> None:
        """Close from the server side (duplicate token, app action); flushes output."""
        if self._closing:
            return
        _LOGGER.info("%s: %s", self.label, reason)
        self._end(reason)

    def abort(self) -> None:
        """Close at once, without flushing: the server is stopping."""
        self._end("server stopping")
        self._transport.abort()

    def _end(self, reason: str) -> None:
        """Release the device and the socket; safe to call more than once."""
        first = not self._closing
        self._closing = True
        self._detach()
        for future in self._acks.values():
            if not future.done():
                future.set_result(False)
        self._acks.clear()
        for handle in self._later:
            handle.cancel()
        self._later.clear()
        self._transport.close()
        if first and self.device is not None:
            _LOGGER.info("%s: disconnected (%s)", self.label, reason)

    def _detach(self) -> None:
        if self.device is not None:
            self.device.detach(self)

    # Reading ---------------------------------------------------------------------------

    async def _read_packet(self) -> Packet | None:
        limit = self._cloud.max_message_size
        while (packet := self._reader.next_packet(limit)) is None:
            data = await self._transport.recv()
            if not data:
                return None
            self._reader.feed(data)
        return packet

    async def _next_packet(self) -> Packet | None:
        """Read a packet; None at the end of the stream or once keepalive expires."""
        timeout = self._keepalive * KEEPALIVE_GRACE if self._keepalive else None
        try:
            async with asyncio.timeout(timeout):
                return await self._read_packet()
        except TimeoutError:
            _LOGGER.info("%s: silent for %.1f s; keepalive expired", self.label, timeout)
            return None

    async def _serve(self) -> None:
        connect = await self._read_connect()
        if connect is None or not await self._accept(connect):
            return
        while not self._closing:
            try:
                packet = await self._next_packet()
            except PacketTooLarge as err:
                await self._complain(
                    f"Message too large: {err.size} bytes. Blynk accepts at most "
                    f"{err.limit} bytes per MQTT message, headers included."
                )
                return
            if packet is None or not await self._handle(packet):
                return

    async def _read_connect(self) -> Connect | None:
        try:
            async with asyncio.timeout(self._cloud.connect_timeout):
                packet = await self._read_packet()
        except TimeoutError:
            _LOGGER.info("%s: no CONNECT in time", self.label)
            return None
        if packet is None:
            return None
        if packet.type != PacketType.CONNECT:
            raise ProtocolError(f"first packet is of type {packet.type}, not CONNECT")
        try:
            return decode_connect(packet)
        except UnsupportedProtocol as err:
            _LOGGER.info("%s: %s", self.label, err)
            await self._refuse(ConnackCode.UNACCEPTABLE_PROTOCOL)
            return None

    async def _accept(self, connect: Connect) -> bool:
        code, device = self._cloud.admit(self, connect)
        if code != ConnackCode.ACCEPTED or device is None:
            await self._refuse(code)
            return False
        # admit() attached the device; CONNACK goes out before anything else can.
        self.device = device
        self.label = f"{device.label} ({self._transport.peer})"
        self._keepalive = connect.keepalive
        self._transport.send(encode_connack(ConnackCode.ACCEPTED))
        _LOGGER.info(
            "%s: connected (MQTT level %d, keepalive %d s)",
            self.label,
            connect.level,
            connect.keepalive,
        )
        if (redirect := self._cloud.redirect) is not None:
            # Blynk sends the redirect whether or not the device subscribed.
            _LOGGER.info("%s: redirecting to %s", self.label, redirect)
            self.deliver("downlink/redirect", redirect.encode(), force=True)
        await self.drain()
        return True

    async def _refuse(self, code: int) -> None:
        _LOGGER.info("%s: refused with CONNACK %d", self.label, code)
        self._transport.send(encode_connack(code))
        await self._linger(CLOSE_NORMAL)

    async def _linger(self, code: int) -> None:
        """Close our side, then read until the client closes (bounded by `linger`).

        Closing a socket with unread input makes the kernel send RST, which can destroy
        our last words (CONNACK, diag) before the client reads them.
        """
        self._detach()
        self._transport.finish(code)
        await self._transport.drain()
        try:
            async with asyncio.timeout(self._cloud.linger):
                while await self._transport.recv():
                    pass
        except TimeoutError:
            pass

    async def _complain(self, text: str) -> None:
        """Tell the device on `downlink/diag` what it did wrong, then disconnect it."""
        _LOGGER.warning("%s: %s Disconnecting.", self.label, text)
        if self.device is not None:
            self.device.diags.append(text)
        # Sent whatever the subscriptions, like the redirect: it is for the device's log.
        self.deliver("downlink/diag", text.encode(), force=True)
        await self._linger(CLOSE_POLICY_VIOLATION)

    # Packets ---------------------------------------------------------------------------

    async def _handle(self, packet: Packet) -> bool:
        """Process one packet after CONNECT; return False to end the session."""
        match packet.type:
            case PacketType.PUBLISH:
                return await self._on_publish(decode_publish(packet))
            case PacketType.PUBACK:
                future = self._acks.pop(decode_packet_id(packet), None)
                if future is not None and not future.done():
                    future.set_result(True)
            case PacketType.SUBSCRIBE:
                packet_id, requests = decode_subscribe(packet)
                codes = [self._subscribe(topic_filter, qos) for topic_filter, qos in requests]
                self._transport.send(encode_suback(packet_id, codes))
            case PacketType.UNSUBSCRIBE:
                packet_id, filters = decode_unsubscribe(packet)
                for topic_filter in filters:
                    self._filters.pop(topic_filter, None)
                self._transport.send(encode_unsuback(packet_id))
            case PacketType.PINGREQ:
                check_empty(packet)
                self._transport.send(encode_pingresp())
            case PacketType.DISCONNECT:
                check_empty(packet)
                _LOGGER.info("%s: sent DISCONNECT", self.label)
                return False
            case _:
                raise ProtocolError(f"unexpected packet of type {packet.type}")
        await self.drain()
        return True

    def _subscribe(self, topic_filter: str, qos: int) -> int:
        if not filter_allowed(topic_filter):
            _LOGGER.info("%s: refused subscription to %r", self.label, topic_filter)
            return SUBACK_FAILURE
        granted = min(qos, 1)  # The emulator does not do QoS 2.
        self._filters[topic_filter] = granted
        _LOGGER.debug("%s: subscribed to %r (QoS %d)", self.label, topic_filter, granted)
        return granted

    async def _on_publish(self, publish: Publish) -> bool:
        device = self.device
        if device is None:  # Unreachable: packets are handled only after CONNECT.
            raise ProtocolError("PUBLISH before CONNECT")
        if publish.qos == 2:
            raise ProtocolError("PUBLISH with QoS 2 is not supported")
        limit = self._cloud.rate_limit
        if not device.count_message(limit, time.monotonic()):
            await self._complain(
                f"Too many messages: more than {limit} per second from this device. "
                "Send only changed values, at most a few per second."
            )
            return False
        if publish.packet_id is not None:
            self._transport.send(encode_puback(publish.packet_id))
        _LOGGER.info(
            "%s: %s %r", self.label, publish.topic, publish.payload[:200].decode("utf-8", "replace")
        )
        answers = device.handle_uplink(publish.topic, publish.payload)
        if answers and device.answer_delay > 0:
            loop = asyncio.get_running_loop()
            self._later.add(loop.call_later(device.answer_delay, self._deliver_all, answers))
        else:
            self._deliver_all(answers)
        await self.drain()
        return True

    def _deliver_all(self, downlinks: list[tuple[str, bytes]]) -> None:
        for topic, payload in downlinks:
            self.deliver(topic, payload)

    # Sending ---------------------------------------------------------------------------

    def _granted_qos(self, topic: str) -> int | None:
        granted = [q for f, q in self._filters.items() if filter_matches(f, topic)]
        return max(granted) if granted else None

    def _allocate_id(self) -> int:
        while True:
            self._last_id = self._last_id % 0xFFFF + 1
            if self._last_id not in self._acks:
                return self._last_id

    def deliver(self, topic: str, payload: bytes, qos: int = 0, *, force: bool = False) -> bool:
        """Queue a downlink if the device subscribed to it (or `force`); return whether sent."""
        if self._closing:
            return False
        if not force:
            granted = self._granted_qos(topic)
            if granted is None:
                _LOGGER.debug("%s: not subscribed to %s; dropped", self.label, topic)
                return False
            qos = min(qos, granted)
        packet_id = self._allocate_id() if qos else None
        self._transport.send(encode_publish(topic, payload, qos, packet_id))
        return True

    async def send_raw(self, topic: str, payload: bytes, qos: int, timeout: float) -> bool:
        """Send a downlink regardless of subscriptions; with QoS 1, wait for its PUBACK."""
        if qos not in (0, 1):
            raise ValueError("the emulator sends QoS 0 or 1")
        if self._closing:
            return False
        if qos == 0:
            self.deliver(topic, payload, force=True)
            await self.drain()
            return True
        packet_id = self._allocate_id()
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._acks[packet_id] = future
        self._transport.send(encode_publish(topic, payload, 1, packet_id))
        try:
            await self.drain()
            async with asyncio.timeout(timeout):
                return await future
        except TimeoutError:
            _LOGGER.info("%s: no PUBACK for %s within %.1f s", self.label, topic, timeout)
            return False
        finally:
            self._acks.pop(packet_id, None)

    async def drain(self) -> None:
        """Wait until queued output reached the kernel."""
        await self._transport.drain()
