"""MQTT 3.1.1 packets the bell needs, as bytes; no I/O here.

What the bell uses: CONNECT (with a will), PUBLISH (QoS 0/1, DUP, retain), PUBACK,
SUBSCRIBE, PINGREQ, DISCONNECT, and reading CONNACK, PUBACK, SUBACK, PINGRESP and
PUBLISH (for the one topic it subscribes to).
Spec: https://docs.oasis-open.org/mqtt/mqtt/v3.1.1/os/mqtt-v3.1.1-os.html
"""

import struct

CONNECT = 0x10
CONNACK = 0x20
PUBLISH = 0x30
PUBACK = 0x40
SUBSCRIBE = 0x80
SUBACK = 0x90
PINGREQ = 0xC0
PINGRESP = 0xD0
DISCONNECT = 0xE0

DUP_FLAG = 0x08
MAX_REMAINING_LENGTH = 268435455

PINGREQ_PACKET = b"\xc0\x00"
DISCONNECT_PACKET = b"\xe0\x00"

CONNACK_REASONS = {
    1: "unacceptable protocol version",
    2: "client identifier rejected",
    3: "server unavailable",
    4: "bad user name or password",
    5: "not authorized",
}


class PacketError(ValueError):
    """Bytes that are not a valid MQTT 3.1.1 packet, or values that cannot be sent."""


def encode_length(length):
    """Encode the remaining length as MQTT's 1-4 byte variable-length integer."""
    if length < 0 or length > MAX_REMAINING_LENGTH:
        raise PacketError("remaining length %d out of range" % length)
    out = bytearray()
    while True:
        byte = length & 0x7F
        length >>= 7
        if length:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def decode_length(data, offset=0):
    """Decode a variable-length integer at `offset`.

    Returns (length, offset after it), or None when `data` ends before the integer
    does. Raises PacketError for a fifth length byte.
    """
    value = 0
    shift = 0
    for count in range(4):
        if offset + count >= len(data):
            return None
        byte = data[offset + count]
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, offset + count + 1
        shift += 7
    raise PacketError("remaining length longer than 4 bytes")


def _string(value):
    data = value.encode() if isinstance(value, str) else bytes(value)
    if len(data) > 65535:
        raise PacketError("string longer than 65535 bytes")
    return struct.pack(">H", len(data)) + data


def _packet(first_byte, body):
    return bytes([first_byte]) + encode_length(len(body)) + body


def connect(
    client_id,
    keepalive=60,
    clean_session=True,
    will_topic=None,
    will_payload=b"",
    will_qos=0,
    will_retain=False,
    username=None,
    password=None,
):
    """Return a CONNECT packet."""
    if not 0 <= keepalive <= 65535:
        raise PacketError("keepalive must be 0..65535 seconds")
    if password is not None and username is None:
        raise PacketError("MQTT 3.1.1 needs a user name to send a password")
    flags = 0
    if clean_session:
        flags |= 0x02
    if will_topic is not None:
        if will_qos not in (0, 1, 2):
            raise PacketError("will QoS must be 0, 1 or 2")
        flags |= 0x04 | (will_qos << 3)
        if will_retain:
            flags |= 0x20
    if username is not None:
        flags |= 0x80
    if password is not None:
        flags |= 0x40
    body = _string("MQTT") + bytes([4, flags]) + struct.pack(">H", keepalive)
    body += _string(client_id)
    if will_topic is not None:
        body += _string(will_topic) + _string(will_payload)
    if username is not None:
        body += _string(username)
    if password is not None:
        body += _string(password)
    return _packet(CONNECT, body)


def publish(topic, payload, qos=0, retain=False, dup=False, pid=0):
    """Return a PUBLISH packet; `pid` (1..65535) is required for QoS 1."""
    if not topic or "+" in topic or "#" in topic:
        raise PacketError("cannot publish to topic %r" % topic)
    if qos not in (0, 1):
        raise PacketError("this client publishes with QoS 0 or 1")
    first = PUBLISH | (qos << 1)
    if retain:
        first |= 0x01
    if dup:
        if not qos:
            raise PacketError("DUP is only for QoS > 0")
        first |= DUP_FLAG
    body = _string(topic)
    if qos:
        if not 0 < pid <= 65535:
            raise PacketError("QoS 1 needs a packet id in 1..65535")
        body += struct.pack(">H", pid)
    if isinstance(payload, str):
        payload = payload.encode()
    return _packet(first, body + payload)


def with_dup(packet):
    """Return a copy of a QoS 1 PUBLISH packet with the DUP flag set, for a retry."""
    data = bytearray(packet)
    data[0] |= DUP_FLAG
    return bytes(data)


def puback(pid):
    return _packet(PUBACK, struct.pack(">H", pid))


def subscribe(pid, topic, qos=1):
    """Return a SUBSCRIBE packet for one topic filter (fixed header flags 0010)."""
    if not 0 < pid <= 65535:
        raise PacketError("SUBSCRIBE needs a packet id in 1..65535")
    if qos not in (0, 1):
        raise PacketError("this client subscribes with QoS 0 or 1")
    return _packet(SUBSCRIBE | 0x02, struct.pack(">H", pid) + _string(topic) + bytes([qos]))


def parse_suback(body):
    """Return (packet id, [granted QoS or 0x80 for a failure, ...]) from a SUBACK body."""
    if len(body) < 3:
        raise PacketError("SUBACK body must be at least 3 bytes, got %d" % len(body))
    return struct.unpack(">H", body[:2])[0], list(body[2:])


def parse_connack(body):
    """Return (session_present, return_code) from a CONNACK body."""
    if len(body) != 2:
        raise PacketError("CONNACK body must be 2 bytes, got %d" % len(body))
    return bool(body[0] & 0x01), body[1]


def parse_puback(body):
    """Return the packet id a PUBACK acknowledges."""
    if len(body) != 2:
        raise PacketError("PUBACK body must be 2 bytes, got %d" % len(body))
    return struct.unpack(">H", body)[0]


def parse_publish(first_byte, body):
    """Return (topic, payload, qos, retain, dup, pid) from a PUBLISH packet.

    Raises PacketError (a ValueError) for a malformed one, or a topic that is not UTF-8.
    """
    qos = (first_byte >> 1) & 0x03
    if qos == 3:
        raise PacketError("PUBLISH with QoS 3")
    if len(body) < 2:
        raise PacketError("PUBLISH too short")
    topic_length = struct.unpack(">H", body[:2])[0]
    offset = 2 + topic_length
    if len(body) < offset + (2 if qos else 0):
        raise PacketError("PUBLISH too short")
    try:
        topic = bytes(body[2:offset]).decode()
    except UnicodeError:
        raise PacketError("PUBLISH topic is not UTF-8") from None
    pid = 0
    if qos:
        pid = struct.unpack(">H", body[offset : offset + 2])[0]
        offset += 2
    return (
        topic,
        bytes(body[offset:]),
        qos,
        bool(first_byte & 0x01),
        bool(first_byte & DUP_FLAG),
        pid,
    )


def connack_reason(code):
    return CONNACK_REASONS.get(code, "refused with code %d" % code)
