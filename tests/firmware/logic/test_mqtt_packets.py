"""MQTT 3.1.1 packet bytes, checked against the spec and an independent decoder."""

from pico_bell import mqtt_packets as packets

from .support import parse_connect, parse_publish, raises


def expect_packet_error(function, *args, **kwargs):
    raises(packets.PacketError, function, *args, **kwargs)


def split(packet):
    """(first byte, body) after checking the remaining length."""
    length, offset = packets.decode_length(packet, 1)
    assert len(packet) - offset == length
    return packet[0], packet[offset:]


def test_remaining_length_boundaries_from_the_spec():
    cases = [
        (0, b"\x00"),
        (127, b"\x7f"),
        (128, b"\x80\x01"),
        (16383, b"\xff\x7f"),
        (16384, b"\x80\x80\x01"),
        (2097151, b"\xff\xff\x7f"),
        (2097152, b"\x80\x80\x80\x01"),
        (268435455, b"\xff\xff\xff\x7f"),
    ]
    for value, encoded in cases:
        assert packets.encode_length(value) == encoded
        assert packets.decode_length(b"\x30" + encoded, 1) == (value, 1 + len(encoded))


def test_remaining_length_errors():
    expect_packet_error(packets.encode_length, 268435456)
    expect_packet_error(packets.encode_length, -1)
    expect_packet_error(packets.decode_length, b"\xff\xff\xff\xff\x01")
    assert packets.decode_length(b"\x80\x80") is None  # Not all bytes arrived yet.


def test_minimal_connect_matches_the_spec_bytes():
    packet = packets.connect("a", keepalive=60, clean_session=True)
    assert packet == b"\x10\x0d\x00\x04MQTT\x04\x02\x00\x3c\x00\x01a"


def test_connect_with_will_and_login_decodes_independently():
    packet = packets.connect(
        "bell-e6614104032f5a2b",
        keepalive=30,
        clean_session=True,
        will_topic="SunFounder MQTT Test/status",
        will_payload=b"offline",
        will_qos=1,
        will_retain=True,
        username="waiter",
        password="s3cret",
    )
    first, body = split(packet)
    assert first == 0x10
    decoded = parse_connect(body)
    assert decoded == {
        "protocol": b"MQTT",
        "level": 4,
        "clean": True,
        "keepalive": 30,
        "client_id": "bell-e6614104032f5a2b",
        "will": ("SunFounder MQTT Test/status", b"offline", 1, True),
        "username": "waiter",
        "password": "s3cret",
    }


def test_connect_flag_byte():
    packet = packets.connect("x", will_topic="t", will_payload=b"p", will_qos=1, will_retain=True)
    assert packet[9] == 0x02 | 0x04 | 0x08 | 0x20
    assert packets.connect("x", clean_session=False)[9] == 0


def test_connect_refuses_impossible_values():
    expect_packet_error(packets.connect, "x", keepalive=70000)
    expect_packet_error(packets.connect, "x", password="p")
    expect_packet_error(packets.connect, "x", will_topic="t", will_qos=3)


def test_publish_qos0_bytes():
    assert packets.publish("a/b", b"hi") == b"\x30\x07\x00\x03a/bhi"


def test_publish_qos1_retain_and_dup():
    packet = packets.publish("t", b"online", qos=1, retain=True, pid=0x1234)
    assert packet == b"\x33\x0b\x00\x01t\x12\x34online"
    message = parse_publish(*split(packet))
    assert (message.topic, message.payload, message.qos, message.retain, message.dup) == (
        "t",
        b"online",
        1,
        True,
        False,
    )
    assert message.pid == 0x1234
    dup = parse_publish(*split(packets.with_dup(packet)))
    assert dup.dup
    assert dup.pid == 0x1234
    assert dup.payload == b"online"


def test_publish_of_a_long_payload_uses_a_two_byte_length():
    payload = b"x" * 200
    packet = packets.publish("SunFounder MQTT Test", payload, qos=1, pid=1)
    first, body = split(packet)
    assert packet[1:3] == packets.encode_length(len(body))
    assert parse_publish(first, body).payload == payload


def test_publish_round_trips_through_our_own_parser():
    packet = packets.publish("bell", "text", qos=1, pid=65535)
    first, body = split(packet)
    assert packets.parse_publish(first, body) == ("bell", b"text", 1, False, False, 65535)


def test_publish_refuses_what_cannot_be_sent():
    expect_packet_error(packets.publish, "a/#", b"")
    expect_packet_error(packets.publish, "a/+/b", b"")
    expect_packet_error(packets.publish, "", b"")
    expect_packet_error(packets.publish, "t", b"", qos=2, pid=1)
    expect_packet_error(packets.publish, "t", b"", qos=1, pid=0)
    expect_packet_error(packets.publish, "t", b"", qos=0, dup=True)


def test_acks_and_control_packets():
    assert packets.puback(7) == b"\x40\x02\x00\x07"
    assert packets.parse_puback(b"\x00\x07") == 7
    assert packets.parse_connack(b"\x01\x00") == (True, 0)
    assert packets.parse_connack(b"\x00\x05") == (False, 5)
    assert packets.PINGREQ_PACKET == b"\xc0\x00"
    assert packets.DISCONNECT_PACKET == b"\xe0\x00"
    assert "user name" in packets.connack_reason(4)
    assert "99" in packets.connack_reason(99)
    expect_packet_error(packets.parse_puback, b"\x00")
    expect_packet_error(packets.parse_connack, b"\x00\x00\x00")


def test_utf8_topic_and_client_id_are_length_prefixed_in_bytes():
    packet = packets.publish("caf\u00e9", b"", qos=0)
    assert packet[2:4] == b"\x00\x05"
    assert parse_publish(*split(packet)).topic == "caf\u00e9"


def test_subscribe_and_suback():
    packet = packets.subscribe(10, "a/b", qos=1)
    assert packet == b"\x82\x08\x00\x0a\x00\x03a/b\x01"  # Flags 0010, as the spec requires.
    assert packets.parse_suback(b"\x00\x0a\x01") == (10, [1])
    assert packets.parse_suback(b"\x00\x0a\x80") == (10, [0x80])
    expect_packet_error(packets.parse_suback, b"\x00")
    expect_packet_error(packets.subscribe, 0, "a")
    expect_packet_error(packets.subscribe, 1, "a", qos=2)


def test_a_publish_with_a_topic_that_is_not_utf8_is_a_packet_error():
    expect_packet_error(packets.parse_publish, 0x30, b"\x00\x02\xff\xfe" + b"payload")
    expect_packet_error(packets.parse_publish, 0x32, b"\x00\x01a")  # QoS 1 without a pid.
    expect_packet_error(packets.parse_publish, 0x36, b"\x00\x01a\x00\x01")  # QoS 3.
