"""MQTT 3.1.1 packets: the subset a Blynk device server speaks, without any I/O.

Decoding is strict because the point of the emulator is to catch clients that
break the protocol: anything malformed raises `ProtocolError` and the caller
closes the connection. The client-side encoders (`encode_connect`, ...) exist
for tests that talk raw MQTT.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
import struct
from typing import Final

MAX_REMAINING_LENGTH: Final = 268_435_455


class PacketType(IntEnum):
    """MQTT control packet types (the high nibble of the first byte)."""

    CONNECT = 1
    CONNACK = 2
    PUBLISH = 3
    PUBACK = 4
    PUBREC = 5
    PUBREL = 6
    PUBCOMP = 7
    SUBSCRIBE = 8
    SUBACK = 9
    UNSUBSCRIBE = 10
    UNSUBACK = 11
    PINGREQ = 12
    PINGRESP = 13
    DISCONNECT = 14


class ConnackCode(IntEnum):
    """MQTT 3.1.1 CONNACK return codes."""

    ACCEPTED = 0
    UNACCEPTABLE_PROTOCOL = 1
    IDENTIFIER_REJECTED = 2
    SERVER_UNAVAILABLE = 3
    BAD_CREDENTIALS = 4
    NOT_AUTHORIZED = 5


SUBACK_FAILURE: Final = 0x80


class ProtocolError(Exception):
    """The peer broke MQTT; the only answer is to close the connection."""


class PacketTooLarge(ProtocolError):
    """A packet is larger than the server accepts; `size` counts the fixed header."""

    def __init__(self, size: int, limit: int) -> None:
        """Remember the sizes so the server can explain them to the device."""
        super().__init__(f"packet of {size} bytes exceeds the {limit}-byte limit")
        self.size = size
        self.limit = limit


class UnsupportedProtocol(ProtocolError):
    """A well-formed CONNECT for a protocol level we do not speak (CONNACK 0x01)."""


@dataclass(frozen=True, slots=True)
class Packet:
    """One undecoded control packet: type, the fixed-header flags and the body."""

    type: int
    flags: int
    body: bytes
    size: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Connect:
    """A decoded CONNECT. The password stays bytes: MQTT defines it as binary data."""

    level: int
    clean_session: bool
    keepalive: int
    client_id: str
    username: str | None
    password: bytes | None = field(repr=False)
    will_topic: str | None
    will_payload: bytes | None


@dataclass(frozen=True, slots=True)
class Publish:
    """A decoded PUBLISH."""

    topic: str
    payload: bytes
    qos: int
    retain: bool
    dup: bool
    packet_id: int | None


class _Cursor:
    """Reads MQTT primitives from a packet body, raising ProtocolError on truncation."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    @property
    def at_end(self) -> bool:
        return self._pos >= len(self._data)

    def take(self, count: int) -> bytes:
        if self._pos + count > len(self._data):
            raise ProtocolError("packet body is truncated")
        chunk = self._data[self._pos : self._pos + count]
        self._pos += count
        return chunk

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        value: int = struct.unpack("!H", self.take(2))[0]
        return value

    def binary(self) -> bytes:
        return self.take(self.u16())

    def string(self) -> str:
        raw = self.binary()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            raise ProtocolError("a string is not valid UTF-8") from err
        if "\x00" in text:
            raise ProtocolError("a string contains U+0000")
        return text

    def rest(self) -> bytes:
        chunk = self._data[self._pos :]
        self._pos = len(self._data)
        return chunk


class PacketReader:
    """Cuts a byte stream into packets; feed it whatever the transport delivers."""

    def __init__(self) -> None:
        """Start with an empty buffer."""
        self._buffer = bytearray()

    def feed(self, data: bytes) -> None:
        """Append received bytes."""
        self._buffer += data

    def next_packet(self, max_size: int) -> Packet | None:
        """Return the next complete packet, or None until more bytes arrive.

        The size check happens as soon as the length is known, so a client cannot
        make the server buffer an oversized packet.
        """
        header = _decode_header(self._buffer)
        if header is None:
            return None
        header_size, remaining = header
        size = header_size + remaining
        if size > max_size:
            raise PacketTooLarge(size, max_size)
        if len(self._buffer) < size:
            return None
        first = self._buffer[0]
        body = bytes(self._buffer[header_size:size])
        del self._buffer[:size]
        return Packet(first >> 4, first & 0x0F, body, size)


def _decode_header(buffer: bytes | bytearray) -> tuple[int, int] | None:
    """Return (fixed header size, remaining length), or None while incomplete."""
    remaining = 0
    for index in range(1, 5):
        if index >= len(buffer):
            return None
        byte = buffer[index]
        remaining |= (byte & 0x7F) << (7 * (index - 1))
        if not byte & 0x80:
            return index + 1, remaining
    raise ProtocolError("remaining length is longer than 4 bytes")


def encode_remaining_length(length: int) -> bytes:
    """Encode the variable-length integer of the fixed header."""
    if not 0 <= length <= MAX_REMAINING_LENGTH:
        raise ValueError(f"remaining length {length} out of range")
    out = bytearray()
    while True:
        byte, length = length & 0x7F, length >> 7
        out.append(byte | (0x80 if length else 0))
        if not length:
            return bytes(out)


def _packet(packet_type: int, flags: int, body: bytes) -> bytes:
    return bytes([packet_type << 4 | flags]) + encode_remaining_length(len(body)) + body


def _string(text: str) -> bytes:
    return _binary(text.encode("utf-8"))


def _binary(data: bytes) -> bytes:
    if len(data) > 0xFFFF:
        raise ValueError("field longer than 65535 bytes")
    return struct.pack("!H", len(data)) + data


# Decoding -------------------------------------------------------------------------

_PROTOCOLS: Final = {"MQTT": 4, "MQIsdp": 3}


def decode_connect(packet: Packet) -> Connect:
    """Decode CONNECT; raise UnsupportedProtocol for a level other than 3.1 or 3.1.1."""
    if packet.flags:
        raise ProtocolError("CONNECT has reserved flags set")
    cursor = _Cursor(packet.body)
    name = cursor.string()
    level = cursor.u8()
    if name not in _PROTOCOLS:
        raise ProtocolError(f"unknown protocol name {name!r}")
    if level != _PROTOCOLS[name]:
        raise UnsupportedProtocol(f"protocol {name} level {level} is not supported")
    flags = cursor.u8()
    if flags & 0x01:
        raise ProtocolError("CONNECT reserved flag is set")
    will = bool(flags & 0x04)
    will_qos = (flags >> 3) & 0x03
    will_retain = bool(flags & 0x20)
    has_password = bool(flags & 0x40)
    has_username = bool(flags & 0x80)
    if will_qos == 3 or (not will and (will_qos or will_retain)):
        raise ProtocolError("invalid will flags")
    if has_password and not has_username:
        raise ProtocolError("password without user name")
    keepalive = cursor.u16()
    client_id = cursor.string()
    will_topic = cursor.string() if will else None
    will_payload = cursor.binary() if will else None
    username = cursor.string() if has_username else None
    password = cursor.binary() if has_password else None
    if not cursor.at_end:
        raise ProtocolError("CONNECT has trailing bytes")
    return Connect(
        level=level,
        clean_session=bool(flags & 0x02),
        keepalive=keepalive,
        client_id=client_id,
        username=username,
        password=password,
        will_topic=will_topic,
        will_payload=will_payload,
    )


def decode_publish(packet: Packet) -> Publish:
    """Decode PUBLISH; topic names may not hold wildcards."""
    qos = (packet.flags >> 1) & 0x03
    if qos == 3:
        raise ProtocolError("PUBLISH with QoS 3")
    cursor = _Cursor(packet.body)
    topic = cursor.string()
    if not topic or "+" in topic or "#" in topic:
        raise ProtocolError(f"invalid topic name {topic!r}")
    packet_id = None
    if qos:
        packet_id = cursor.u16()
        if packet_id == 0:
            raise ProtocolError("PUBLISH with packet id 0")
    return Publish(
        topic=topic,
        payload=cursor.rest(),
        qos=qos,
        retain=bool(packet.flags & 0x01),
        dup=bool(packet.flags & 0x08),
        packet_id=packet_id,
    )


def decode_subscribe(packet: Packet) -> tuple[int, list[tuple[str, int]]]:
    """Decode SUBSCRIBE into (packet id, [(filter, requested QoS)])."""
    if packet.flags != 0x02:
        raise ProtocolError("SUBSCRIBE must have flags 0b0010")
    cursor = _Cursor(packet.body)
    packet_id = cursor.u16()
    requests: list[tuple[str, int]] = []
    while not cursor.at_end:
        topic_filter = cursor.string()
        qos = cursor.u8()
        if qos > 2:
            raise ProtocolError("SUBSCRIBE with invalid QoS byte")
        requests.append((topic_filter, qos))
    if not requests:
        raise ProtocolError("SUBSCRIBE without topic filters")
    return packet_id, requests


def decode_unsubscribe(packet: Packet) -> tuple[int, list[str]]:
    """Decode UNSUBSCRIBE into (packet id, [filter])."""
    if packet.flags != 0x02:
        raise ProtocolError("UNSUBSCRIBE must have flags 0b0010")
    cursor = _Cursor(packet.body)
    packet_id = cursor.u16()
    filters: list[str] = []
    while not cursor.at_end:
        filters.append(cursor.string())
    if not filters:
        raise ProtocolError("UNSUBSCRIBE without topic filters")
    return packet_id, filters


def decode_packet_id(packet: Packet) -> int:
    """Decode the body of PUBACK (or any packet that is just an id)."""
    if packet.flags or len(packet.body) != 2:
        raise ProtocolError(f"malformed packet of type {packet.type}")
    return _Cursor(packet.body).u16()


def check_empty(packet: Packet) -> None:
    """Validate PINGREQ / DISCONNECT, which have neither flags nor body."""
    if packet.flags or packet.body:
        raise ProtocolError(f"packet of type {packet.type} must be empty")


# Encoding -------------------------------------------------------------------------


def encode_connack(code: int, session_present: bool = False) -> bytes:
    """Encode CONNACK (session present only makes sense with code 0)."""
    return _packet(PacketType.CONNACK, 0, bytes([int(session_present), code]))


def encode_publish(
    topic: str,
    payload: bytes,
    qos: int = 0,
    packet_id: int | None = None,
    *,
    retain: bool = False,
    dup: bool = False,
) -> bytes:
    """Encode PUBLISH (either direction)."""
    if qos and not packet_id:
        raise ValueError("QoS > 0 needs a packet id")
    flags = (0x08 if dup else 0) | qos << 1 | (0x01 if retain else 0)
    body = _string(topic) + (struct.pack("!H", packet_id) if qos and packet_id else b"")
    return _packet(PacketType.PUBLISH, flags, body + payload)


def encode_puback(packet_id: int) -> bytes:
    """Encode PUBACK."""
    return _packet(PacketType.PUBACK, 0, struct.pack("!H", packet_id))


def encode_suback(packet_id: int, codes: list[int]) -> bytes:
    """Encode SUBACK with one granted QoS (or 0x80) per requested filter."""
    return _packet(PacketType.SUBACK, 0, struct.pack("!H", packet_id) + bytes(codes))


def encode_unsuback(packet_id: int) -> bytes:
    """Encode UNSUBACK."""
    return _packet(PacketType.UNSUBACK, 0, struct.pack("!H", packet_id))


def encode_pingresp() -> bytes:
    """Encode PINGRESP."""
    return _packet(PacketType.PINGRESP, 0, b"")


def encode_connect(
    client_id: str = "",
    *,
    username: str | None = None,
    password: str | bytes | None = None,
    keepalive: int = 45,
    clean_session: bool = True,
    level: int = 4,
) -> bytes:
    """Encode CONNECT, for tests that speak raw MQTT."""
    name = "MQIsdp" if level == 3 else "MQTT"
    flags = (0x02 if clean_session else 0) | (0x80 if username is not None else 0)
    payload = _string(client_id)
    if username is not None:
        payload += _string(username)
    if password is not None:
        flags |= 0x40
        payload += _binary(password.encode() if isinstance(password, str) else password)
    header = _string(name) + bytes([level, flags]) + struct.pack("!H", keepalive)
    return _packet(PacketType.CONNECT, 0, header + payload)


def encode_subscribe(packet_id: int, filters: list[tuple[str, int]]) -> bytes:
    """Encode SUBSCRIBE, for tests."""
    body = struct.pack("!H", packet_id) + b"".join(_string(f) + bytes([q]) for f, q in filters)
    return _packet(PacketType.SUBSCRIBE, 0x02, body)


def encode_unsubscribe(packet_id: int, filters: list[str]) -> bytes:
    """Encode UNSUBSCRIBE, for tests."""
    body = struct.pack("!H", packet_id) + b"".join(_string(f) for f in filters)
    return _packet(PacketType.UNSUBSCRIBE, 0x02, body)


def encode_pingreq() -> bytes:
    """Encode PINGREQ, for tests."""
    return _packet(PacketType.PINGREQ, 0, b"")


def encode_disconnect() -> bytes:
    """Encode DISCONNECT, for tests."""
    return _packet(PacketType.DISCONNECT, 0, b"")
