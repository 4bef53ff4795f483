"""The MQTT codec against an independent one (the Blynk emulator's), in any split."""

from __future__ import annotations

import contextlib

from hypothesis import given, settings, strategies as st
import pytest

from blynk_emulator import packets as server
from custom_components.blynk_bell.protocol.mqtt_packets import (
    Ack,
    Connack,
    Dropped,
    PacketReader,
    Pingresp,
    ProtocolError,
    Publish,
    Suback,
    encode_connect,
    encode_publish,
    encode_subscribe,
)

MAX = 1024

topics = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=40)
payloads = st.binary(max_size=300)


@st.composite
def server_packets(draw: st.DrawFn) -> tuple[bytes, object]:
    """One packet as the emulator encodes it, and what our reader must make of it."""
    kind = draw(st.sampled_from(["connack", "publish", "puback", "suback", "pingresp"]))
    packet_id = draw(st.integers(1, 0xFFFF))
    if kind == "connack":
        code = draw(st.integers(0, 5))
        present = draw(st.booleans()) and code == 0
        return server.encode_connack(code, present), Connack(present, code)
    if kind == "publish":
        topic, payload = draw(topics), draw(payloads)
        qos, retain, dup = draw(st.integers(0, 1)), draw(st.booleans()), draw(st.booleans())
        data = server.encode_publish(
            topic, payload, qos, packet_id if qos else None, retain=retain, dup=dup
        )
        return data, Publish(topic, payload, qos, retain, dup, packet_id if qos else None)
    if kind == "puback":
        return server.encode_puback(packet_id), Ack(4, packet_id)
    if kind == "suback":
        codes = draw(st.lists(st.sampled_from([0, 1, 0x80]), min_size=1, max_size=4))
        return server.encode_suback(packet_id, codes), Suback(packet_id, tuple(codes))
    return server.encode_pingresp(), Pingresp()


def read_all(reader: PacketReader, chunks: list[bytes]) -> list[object]:
    packets: list[object] = []
    for chunk in chunks:
        reader.feed(chunk)
        while (packet := reader.next()) is not None:
            packets.append(packet)
    return packets


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({cut % (len(data) + 1) for cut in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


@settings(max_examples=300, deadline=None)
@given(st.lists(server_packets(), max_size=12), st.lists(st.integers(0, 10_000), max_size=20))
def test_every_packet_comes_out_whole_whatever_the_split(
    stream: list[tuple[bytes, object]], cuts: list[int]
) -> None:
    data = b"".join(raw for raw, _ in stream)
    assert read_all(PacketReader(MAX), split(data, cuts)) == [packet for _, packet in stream]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), st.lists(st.integers(0, 300), max_size=6))
def test_garbage_raises_protocol_error_or_waits_never_anything_else(
    data: bytes, cuts: list[int]
) -> None:
    reader = PacketReader(MAX)
    with contextlib.suppress(ProtocolError):
        read_all(reader, split(data, cuts))
    assert reader.buffered <= len(data)


@settings(deadline=None)
@given(st.integers(1, 0xFFFF), st.integers(MAX + 1, 20_000), st.integers(1, 5000))
def test_an_oversized_publish_is_skipped_as_it_streams_and_reported_with_its_id(
    packet_id: int, size: int, chunk: int
) -> None:
    big = server.encode_publish("bell", b"x" * size, 1, packet_id)
    after = server.encode_publish("bell", b"next", 0)
    data = big + after
    reader = PacketReader(MAX)
    packets: list[object] = []
    for start in range(0, len(data), chunk):
        reader.feed(data[start : start + chunk])
        assert reader.buffered <= MAX + chunk + 16  # Never the whole oversized message.
        while (packet := reader.next()) is not None:
            packets.append(packet)
    assert len(packets) == 2
    dropped, following = packets
    assert isinstance(dropped, Dropped)
    assert (dropped.qos, dropped.packet_id) == (1, packet_id)
    assert following == Publish("bell", b"next", 0, False, False, None)


def test_a_topic_that_is_not_utf8_is_dropped_not_fatal() -> None:
    body = b"\x00\x02\xff\xfe" + b"\x00\x07" + b"payload"
    reader = PacketReader(MAX)
    reader.feed(bytes((0x32, len(body))) + body + server.encode_pingresp())
    dropped = reader.next()
    assert isinstance(dropped, Dropped)
    assert dropped.packet_id == 7
    assert reader.next() == Pingresp()


@pytest.mark.parametrize(
    "data",
    [
        b"\x30\xff\xff\xff\xff\x01",  # A remaining length of five bytes.
        b"\x10\x00",  # CONNECT: a client's packet.
        b"\x82\x00",  # SUBSCRIBE: a client's packet.
        b"\x36\x03\x00\x01a",  # QoS 3.
        b"\x32\x03\x00\x01a",  # QoS 1 without a packet id.
        b"\x32\x05\x00\x01a\x00\x00",  # Packet id 0.
        b"\x20\x03\x00\x00\x00",  # CONNACK of three bytes.
        b"\x20\x02\x02\x00",  # CONNACK with a reserved flag.
        b"\x41\x02\x00\x01",  # PUBACK with flags.
        b"\x90\x03\x00\x01\x05",  # SUBACK with return code 5.
        b"\xd0\x01\x00",  # PINGRESP with a body.
        b"\x80\x05" + b"\x00" * 5 * 1000,  # An oversized non-PUBLISH.
    ],
)
def test_what_mqtt_forbids_is_a_protocol_error(data: bytes) -> None:
    reader = PacketReader(MAX)
    reader.feed(data)
    with pytest.raises(ProtocolError):
        reader.next()


def test_connect_as_the_emulator_decodes_it() -> None:
    raw = encode_connect(
        "blynkbell-0123", keepalive=30, clean_session=False, username="waiter", password="pw"
    )
    reader = server.PacketReader()
    reader.feed(raw)
    packet = reader.next_packet(1024)
    assert packet is not None
    connect = server.decode_connect(packet)
    assert (connect.level, connect.client_id, connect.keepalive) == (4, "blynkbell-0123", 30)
    assert (connect.clean_session, connect.username, connect.password) == (False, "waiter", b"pw")


def test_a_password_without_a_user_name_is_left_out() -> None:
    # MQTT 3.1.1 forbids the password flag without the user name flag.
    assert encode_connect("x", keepalive=60, clean_session=True, password="pw") == (
        b"\x10\x0d\x00\x04MQTT\x04\x02\x00\x3c\x00\x01x"
    )


@pytest.mark.parametrize("size", [0, 1, 127 - 8, 128, 16_383, 16_384, 70_000])
def test_publish_and_subscribe_as_the_emulator_decodes_them(size: int) -> None:
    payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
    reader = server.PacketReader()
    reader.feed(encode_publish("a/b", payload, qos=1, retain=True, packet_id=513))
    reader.feed(encode_subscribe(9, [("a/#", 1), ("c", 0)]))
    publish, subscribe = reader.next_packet(1 << 20), reader.next_packet(1 << 20)
    assert publish is not None
    assert subscribe is not None
    assert server.decode_publish(publish) == server.Publish("a/b", payload, 1, True, False, 513)
    assert server.decode_subscribe(subscribe) == (9, [("a/#", 1), ("c", 0)])


def test_what_cannot_be_encoded_is_refused() -> None:
    with pytest.raises(ValueError, match="packet id"):
        encode_publish("t", b"", qos=1)
    with pytest.raises(ValueError, match="QoS"):
        encode_publish("t", b"", qos=2, packet_id=1)
    with pytest.raises(ValueError, match="65,535"):
        encode_publish("t" * 70_000, b"")
    with pytest.raises(ValueError, match="keepalive"):
        encode_connect("x", keepalive=70_000, clean_session=True)
