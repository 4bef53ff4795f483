"""MQTT 3.1.1 packets as a client sends and receives them, with no I/O.

Only what a client that subscribes with QoS 0 or 1 needs: CONNECT, PUBLISH (QoS 0 and
1 both ways), PUBACK, SUBSCRIBE, PINGREQ and DISCONNECT out; CONNACK, PUBLISH, PUBACK,
SUBACK, UNSUBACK and PINGRESP in. Whatever else a server sends is a protocol error.

`PacketReader` takes bytes as they come (any split) and hands out whole packets. What it
holds is bounded: a PUBLISH larger than `max_packet_size` is not buffered but skipped as
it streams past, and reported as `Dropped` so the client can still acknowledge it (or the
broker would send it again on every reconnect).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Final

# The packet types of MQTT 3.1.1, in the high nibble of the first byte.
CONNECT: Final = 1
CONNACK: Final = 2
PUBLISH: Final = 3
PUBACK: Final = 4
PUBREC: Final = 5
PUBREL: Final = 6
PUBCOMP: Final = 7
SUBSCRIBE: Final = 8
SUBACK: Final = 9
UNSUBSCRIBE: Final = 10
UNSUBACK: Final = 11
PINGREQ: Final = 12
PINGRESP: Final = 13
DISCONNECT: Final = 14

PINGREQ_PACKET: Final = b"\xc0\x00"
DISCONNECT_PACKET: Final = b"\xe0\x00"

MAX_REMAINING_LENGTH: Final = 268_435_455
SUBACK_FAILURE: Final = 0x80


class ConnackCode(IntEnum):
    """CONNACK return codes (MQTT 3.1.1, section 3.2.2.3)."""

    ACCEPTED = 0
    UNACCEPTABLE_PROTOCOL = 1
    IDENTIFIER_REJECTED = 2
    SERVER_UNAVAILABLE = 3
    BAD_USERNAME_OR_PASSWORD = 4
    NOT_AUTHORIZED = 5

    @classmethod
    def describe(cls, code: int) -> str:
        """Return what a return code means, in words."""
        try:
            return cls(code).name.lower().replace("_", " ")
        except ValueError:
            return f"unknown return code {code}"


class ProtocolError(Exception):
    """The server sent something MQTT 3.1.1 does not allow."""


@dataclass(frozen=True, slots=True)
class Connack:
    """The server's answer to CONNECT."""

    session_present: bool
    code: int


@dataclass(frozen=True, slots=True)
class Publish:
    """An application message from the server."""

    topic: str
    payload: bytes
    qos: int
    retain: bool
    dup: bool
    packet_id: int | None


@dataclass(frozen=True, slots=True)
class Dropped:
    """A PUBLISH that was skipped: larger than allowed, or with a topic that is not UTF-8."""

    reason: str
    size: int
    qos: int
    packet_id: int | None


@dataclass(frozen=True, slots=True)
class Ack:
    """PUBACK, PUBREC, PUBCOMP or UNSUBACK: the packet id of what is acknowledged."""

    type: int
    packet_id: int


@dataclass(frozen=True, slots=True)
class Suback:
    """The server's answer to SUBSCRIBE: one granted QoS (or 0x80, refused) per topic."""

    packet_id: int
    codes: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Pingresp:
    """The answer to PINGREQ."""


type Packet = Connack | Publish | Dropped | Ack | Suback | Pingresp

_PINGRESP: Final = Pingresp()


def _string(text: str) -> bytes:
    data = text.encode()
    if len(data) > 0xFFFF:
        raise ValueError("an MQTT string is at most 65,535 bytes")
    return len(data).to_bytes(2) + data


def _binary(data: bytes) -> bytes:
    if len(data) > 0xFFFF:
        raise ValueError("MQTT binary data is at most 65,535 bytes")
    return len(data).to_bytes(2) + data


def _remaining_length(length: int) -> bytes:
    if length > MAX_REMAINING_LENGTH:
        raise ValueError("an MQTT packet is at most 256 MiB")
    out = bytearray()
    while True:
        length, digit = divmod(length, 128)
        out.append(digit | 0x80 if length else digit)
        if not length:
            return bytes(out)


def _packet(first: int, body: bytes) -> bytes:
    return bytes((first,)) + _remaining_length(len(body)) + body


def encode_connect(
    client_id: str,
    *,
    keepalive: int,
    clean_session: bool,
    username: str | None = None,
    password: str | None = None,
) -> bytes:
    """Build CONNECT at protocol level 4 (MQTT 3.1.1). No will: we never set one.

    A password without a user name is not allowed by MQTT 3.1.1 and is left out.
    """
    if not 0 <= keepalive <= 0xFFFF:
        raise ValueError("keepalive must be 0 to 65,535 seconds")
    flags = 0x02 if clean_session else 0
    payload = _string(client_id)
    if username is not None:
        flags |= 0x80
        payload += _string(username)
        if password is not None:
            flags |= 0x40
            payload += _binary(password.encode())
    header = _string("MQTT") + bytes((4, flags)) + keepalive.to_bytes(2)
    return _packet(CONNECT << 4, header + payload)


def encode_publish(
    topic: str,
    payload: bytes,
    *,
    qos: int = 0,
    retain: bool = False,
    packet_id: int | None = None,
) -> bytes:
    """Build PUBLISH; QoS 1 needs a packet id."""
    if qos not in (0, 1):
        raise ValueError("only QoS 0 and 1 are supported")
    first = PUBLISH << 4 | qos << 1 | retain
    body = _string(topic)
    if qos:
        if packet_id is None or not 0 < packet_id <= 0xFFFF:
            raise ValueError("a QoS 1 message needs a packet id from 1 to 65,535")
        body += packet_id.to_bytes(2)
    return _packet(first, body + payload)


def encode_puback(packet_id: int) -> bytes:
    """Build PUBACK for a QoS 1 message we received."""
    return b"\x40\x02" + packet_id.to_bytes(2)


def encode_subscribe(packet_id: int, subscriptions: Sequence[tuple[str, int]]) -> bytes:
    """Build one SUBSCRIBE for several topic filters."""
    if not subscriptions:
        raise ValueError("SUBSCRIBE needs at least one topic filter")
    body = packet_id.to_bytes(2)
    for topic_filter, qos in subscriptions:
        if qos not in (0, 1):
            raise ValueError("only QoS 0 and 1 are supported")
        body += _string(topic_filter) + bytes((qos,))
    return _packet(SUBSCRIBE << 4 | 0x02, body)


class PacketReader:
    """Splits a byte stream from the server into packets, holding a bounded amount."""

    def __init__(self, max_packet_size: int) -> None:
        """Accept packets whose remaining length is at most `max_packet_size` bytes."""
        self._max = max_packet_size
        self._buffer = bytearray()
        self._pos = 0
        self._skip = 0  # Bytes of an oversized PUBLISH still to throw away.

    @property
    def buffered(self) -> int:
        """Return how many received bytes wait to be parsed."""
        return len(self._buffer) - self._pos

    def feed(self, data: bytes) -> None:
        """Add bytes as they arrived from the server."""
        if self._skip:
            skipped = min(self._skip, len(data))
            self._skip -= skipped
            data = data[skipped:]
            if not data:
                return
        if self._pos:
            del self._buffer[: self._pos]
            self._pos = 0
        self._buffer += data

    def next(self) -> Packet | None:
        """Return the next whole packet, or None until more bytes arrive."""
        buf = self._buffer
        pos = self._pos
        end = len(buf)
        if self._skip or end - pos < 2:
            return None
        first = buf[pos]
        length = 0
        shift = 0
        index = pos + 1
        while True:
            if index >= end:
                return None
            byte = buf[index]
            index += 1
            length |= (byte & 0x7F) << shift
            if not byte & 0x80:
                break
            shift += 7
            if shift > 21:
                raise ProtocolError("malformed remaining length")
        if length > self._max:
            return self._skip_publish(first, index, length)
        if end - index < length:
            return None
        self._pos = index + length
        if first >> 4 == PUBLISH:  # By far the most common: decoded right here.
            return self._publish(first, bytes(buf[index : index + length]))
        return self._other(first, bytes(buf[index : index + length]))

    def _publish(self, first: int, body: bytes) -> Publish | Dropped:
        qos = (first >> 1) & 0x03
        if qos == 3:
            raise ProtocolError("PUBLISH with QoS 3")
        topic_end = 2 + int.from_bytes(body[:2])
        payload_start = topic_end + 2 if qos else topic_end
        if len(body) < payload_start:
            raise ProtocolError("PUBLISH shorter than its header")
        packet_id = int.from_bytes(body[topic_end:payload_start]) if qos else None
        if packet_id == 0:
            raise ProtocolError("PUBLISH with packet id 0")
        try:
            topic = body[2:topic_end].decode()
        except UnicodeDecodeError:
            return Dropped("topic is not UTF-8", len(body), qos, packet_id)
        return Publish(
            topic, body[payload_start:], qos, bool(first & 0x01), bool(first & 0x08), packet_id
        )

    def _other(self, first: int, body: bytes) -> Packet:
        kind = first >> 4
        flags = first & 0x0F
        if flags and kind != PUBREL:
            raise ProtocolError(f"packet type {kind} with flags {flags:#x}")
        match kind:
            case 2 if len(body) == 2:  # CONNACK
                if body[0] & 0xFE:
                    raise ProtocolError("CONNACK with reserved flags set")
                return Connack(bool(body[0] & 0x01), body[1])
            case 4 | 5 | 7 | 11 if len(body) == 2:  # PUBACK, PUBREC, PUBCOMP, UNSUBACK
                return Ack(kind, int.from_bytes(body))
            case 9 if len(body) >= 3:  # SUBACK
                codes = tuple(body[2:])
                if any(code not in (0, 1, 2, SUBACK_FAILURE) for code in codes):
                    raise ProtocolError("SUBACK with an invalid return code")
                return Suback(int.from_bytes(body[:2]), codes)
            case 13 if not body:  # PINGRESP
                return _PINGRESP
            case 2 | 4 | 5 | 7 | 9 | 11 | 13:
                raise ProtocolError(f"packet type {kind} of {len(body)} bytes")
        raise ProtocolError(f"a server does not send packets of type {kind}")

    def _skip_publish(self, first: int, index: int, length: int) -> Dropped | None:
        """Report an oversized PUBLISH once its header is in, and skip its payload."""
        if first >> 4 != PUBLISH:
            raise ProtocolError(f"a packet of {length} bytes")
        qos = (first >> 1) & 0x03
        if qos == 3:
            raise ProtocolError("PUBLISH with QoS 3")
        buf = self._buffer
        available = len(buf) - index
        if available < 2:
            return None
        head = 2 + int.from_bytes(buf[index : index + 2]) + (2 if qos else 0)
        if head > length:
            raise ProtocolError("PUBLISH shorter than its header")
        if available < head:  # Topic length, topic, packet id: at most 65,539 bytes.
            return None
        packet_id = int.from_bytes(buf[index + head - 2 : index + head]) if qos else None
        if packet_id == 0:
            raise ProtocolError("PUBLISH with packet id 0")
        taken = min(available, length)
        self._skip = length - taken
        self._pos = index + taken
        return Dropped(f"larger than {self._max} bytes", length, qos, packet_id)
