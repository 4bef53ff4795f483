"""Connecting: credentials, protocol levels, one connection per token, keepalive, garbage."""

from __future__ import annotations

import asyncio
import time

import pytest

from blynk_emulator import BlynkCloud, Device
from blynk_emulator.packets import (
    PacketType,
    encode_connect,
    encode_disconnect,
    encode_pingreq,
    encode_publish,
)

from .clients import PAHO_BAD_CREDENTIALS, PAHO_SERVER_UNAVAILABLE
from .conftest import OTHER_TOKEN, TOKEN, MakeCloud, MakePaho, MakeRaw


async def test_paho_device_connects(cloud: BlynkCloud, device: Device, make_paho: MakePaho) -> None:
    client = make_paho()
    assert await client.connect(cloud.host, cloud.port) == 0
    assert device.connected
    assert device.connections == 1
    await client.close()
    await device.wait_for(lambda d: not d.connected)


async def test_wrong_token_gets_connack_4_and_is_closed(
    cloud: BlynkCloud, make_raw: MakeRaw, make_paho: MakePaho
) -> None:
    raw = await make_raw(cloud.host, cloud.port)
    assert await raw.connect("not-a-token") == 4
    await raw.wait_closed()

    paho = make_paho("not-a-token")
    assert await paho.connect(cloud.host, cloud.port) == PAHO_BAD_CREDENTIALS
    await paho.wait_disconnected()
    assert cloud.device(TOKEN).connections == 0


@pytest.mark.parametrize(
    ("username", "password"),
    [("admin", TOKEN), ("", TOKEN), (None, None), ("device", None), ("device", "")],
)
async def test_bad_credentials_get_connack_4(
    cloud: BlynkCloud, make_raw: MakeRaw, username: str | None, password: str | None
) -> None:
    raw = await make_raw(cloud.host, cloud.port)
    raw.send(encode_connect(username=username, password=password))
    packet = await raw.read_packet()
    assert packet is not None
    assert packet.type == PacketType.CONNACK
    assert packet.body == b"\x00\x04"
    await raw.wait_closed()


async def test_mqtt_31_is_accepted_other_levels_get_connack_1(
    cloud: BlynkCloud, make_raw: MakeRaw
) -> None:
    old = await make_raw(cloud.host, cloud.port)
    assert await old.connect(TOKEN, level=3) == 0
    await old.close()

    v5 = await make_raw(cloud.host, cloud.port)
    assert await v5.connect(TOKEN, level=5) == 1
    await v5.wait_closed()


async def test_long_client_id_is_rejected(cloud: BlynkCloud, make_raw: MakeRaw) -> None:
    raw = await make_raw(cloud.host, cloud.port)
    assert await raw.connect(TOKEN, client_id="x" * 65) == 2
    raw = await make_raw(cloud.host, cloud.port)
    assert await raw.connect(TOKEN, client_id="x" * 64) == 0


async def test_persistent_session_request_gets_a_clean_one(
    cloud: BlynkCloud, make_raw: MakeRaw
) -> None:
    raw = await make_raw(cloud.host, cloud.port)
    raw.send(encode_connect("heater", username="device", password=TOKEN, clean_session=False))
    packet = await raw.read_packet()
    assert packet is not None
    assert packet.body == b"\x00\x00"  # accepted, no session present


async def test_duplicate_token_kicks_the_older_connection(
    cloud: BlynkCloud, device: Device, make_paho: MakePaho
) -> None:
    first = make_paho()
    assert await first.connect(cloud.host, cloud.port) == 0
    second = make_paho()
    assert await second.connect(cloud.host, cloud.port) == 0
    await first.wait_disconnected()
    assert device.kicks == 1
    assert device.connections == 2
    assert device.connected
    # The survivor is the new connection: it still gets the app's writes.
    assert await second.subscribe("downlink/#") == [0]
    assert await device.write("Power", 1)
    assert await second.wait_message("downlink/ds/Power") == b"1"


async def test_duplicate_token_refuses_the_new_connection(
    make_cloud: MakeCloud, make_paho: MakePaho, make_raw: MakeRaw
) -> None:
    cloud = await make_cloud(duplicate="refuse_new", linger=0.5)
    device = cloud.add_device(TOKEN)
    first = make_paho()
    assert await first.connect(cloud.host, cloud.port) == 0

    raw = await make_raw(cloud.host, cloud.port)
    assert await raw.connect(TOKEN) == 3  # server unavailable, not "bad token"
    await raw.wait_closed()
    paho = make_paho()
    assert await paho.connect(cloud.host, cloud.port) == PAHO_SERVER_UNAVAILABLE

    assert device.refusals == 2
    assert device.kicks == 0
    assert device.connections == 1
    assert not first.disconnected
    assert await device.ping()


async def test_tokens_are_independent(cloud: BlynkCloud, make_paho: MakePaho) -> None:
    other = cloud.add_device(OTHER_TOKEN)
    one, two = make_paho(), make_paho(OTHER_TOKEN)
    assert await one.connect(cloud.host, cloud.port) == 0
    assert await two.connect(cloud.host, cloud.port) == 0
    assert cloud.device(TOKEN).connected
    assert other.connected
    assert cloud.device(TOKEN).kicks == other.kicks == 0


async def test_silent_client_is_dropped_after_one_and_a_half_keepalives(
    cloud: BlynkCloud, device: Device, make_raw: MakeRaw
) -> None:
    raw = await make_raw(cloud.host, cloud.port)
    assert await raw.connect(TOKEN, keepalive=1) == 0
    # A ping before the 1.5 s deadline keeps the connection up.
    await asyncio.sleep(0.8)
    raw.send(encode_pingreq())
    packet = await raw.read_packet()
    assert packet is not None
    assert packet.type == PacketType.PINGRESP
    last_packet = time.monotonic()
    await raw.wait_closed(timeout=3)
    silent = time.monotonic() - last_packet
    assert 1.3 < silent < 2.5
    assert not device.connected


async def test_keepalive_zero_means_no_timeout(cloud: BlynkCloud, make_raw: MakeRaw) -> None:
    raw = await make_raw(cloud.host, cloud.port)
    assert await raw.connect(TOKEN, keepalive=0) == 0
    # Nothing to wait for: the session has no deadline at all.
    assert cloud.device(TOKEN).connected


async def test_client_that_never_sends_connect_is_dropped(
    make_cloud: MakeCloud, make_raw: MakeRaw
) -> None:
    cloud = await make_cloud(connect_timeout=0.2)
    raw = await make_raw(cloud.host, cloud.port)
    await raw.wait_closed(timeout=2)


async def test_disconnect_packet_ends_the_session(
    cloud: BlynkCloud, device: Device, make_raw: MakeRaw
) -> None:
    raw = await make_raw(cloud.host, cloud.port)
    assert await raw.connect(TOKEN) == 0
    raw.send(encode_disconnect())
    await raw.wait_closed()
    assert not device.connected


async def test_server_side_disconnect(
    cloud: BlynkCloud, device: Device, make_paho: MakePaho
) -> None:
    client = make_paho()
    assert await client.connect(cloud.host, cloud.port) == 0
    assert device.disconnect()
    assert not device.connected
    await client.wait_disconnected()
    assert not device.disconnect()
    assert device.kicks == 0


def _with_byte(data: bytes, index: int, value: int) -> bytes:
    return data[:index] + bytes([value]) + data[index + 1 :]


MALFORMED = {
    "remaining length over 4 bytes": b"\x10\xff\xff\xff\xff\x01",
    "first packet not CONNECT": encode_pingreq(),
    "unknown protocol name": encode_connect(username="device", password=TOKEN).replace(
        b"MQTT", b"MQTX"
    ),
    "CONNECT reserved flag": _with_byte(encode_connect(username="device", password=TOKEN), 9, 0xC3),
    "truncated CONNECT body": b"\x10\x03\x00\x04M",
}
AFTER_CONNECT = {
    "second CONNECT": encode_connect(username="device", password=TOKEN),
    "reserved packet type 15": b"\xf0\x00",
    "SUBSCRIBE with wrong flags": b"\x80\x08\x00\x01\x00\x03abc\x00",
    "SUBSCRIBE without filters": b"\x82\x02\x00\x01",
    "PUBLISH QoS 3": b"\x36\x05\x00\x01a\x00\x01",
    "PUBLISH topic with wildcard": encode_publish("ds/#", b"1"),
    "PUBLISH topic not UTF-8": b"\x30\x04\x00\x02\xc3\x28",
    "PUBLISH QoS 2": encode_publish("ds/Power", b"1", 2, 7),
    "PUBACK too long": b"\x40\x03\x00\x01\x00",
    "PINGREQ with body": b"\xc0\x01\x00",
    "server-only packet (CONNACK)": b"\x20\x02\x00\x00",
}


@pytest.mark.parametrize("data", MALFORMED.values(), ids=MALFORMED.keys())
async def test_malformed_connect_closes_only_that_connection(
    cloud: BlynkCloud, device: Device, make_raw: MakeRaw, make_paho: MakePaho, data: bytes
) -> None:
    raw = await make_raw(cloud.host, cloud.port)
    raw.send(data)
    await raw.wait_closed()
    client = make_paho()
    assert await client.connect(cloud.host, cloud.port) == 0


@pytest.mark.parametrize("data", AFTER_CONNECT.values(), ids=AFTER_CONNECT.keys())
async def test_malformed_packet_closes_only_that_connection(
    cloud: BlynkCloud, device: Device, make_raw: MakeRaw, make_paho: MakePaho, data: bytes
) -> None:
    raw = await make_raw(cloud.host, cloud.port)
    assert await raw.connect(TOKEN) == 0
    raw.send(data)
    await raw.wait_closed()
    assert not device.connected
    client = make_paho()
    assert await client.connect(cloud.host, cloud.port) == 0
    assert await device.ping()
