"""Blynk's limits: 1024 bytes per MQTT message, 50 messages per second per device."""

from __future__ import annotations

from blynk_emulator import BlynkCloud, Device
from blynk_emulator.packets import PacketType, encode_publish, encode_subscribe

from .clients import PahoClient
from .conftest import TOKEN, MakeCloud, MakePaho, MakeRaw

TOPIC = "ds/Terminal"


def _payload_for_packet_size(size: int) -> bytes:
    """Payload that makes a QoS 0 PUBLISH on TOPIC exactly `size` bytes long."""
    overhead = len(encode_publish(TOPIC, b"x" * 200)) - 200
    payload = b"x" * (size - overhead)
    assert len(encode_publish(TOPIC, payload)) == size
    return payload


async def test_1024_byte_packet_is_accepted(connected: PahoClient, device: Device) -> None:
    payload = _payload_for_packet_size(1024)
    connected.publish(TOPIC, payload)
    await device.wait_for(lambda d: d.value("Terminal") == payload.decode())
    assert await device.ping()


async def test_1025_byte_packet_gets_diag_and_disconnect(
    connected: PahoClient, device: Device
) -> None:
    connected.publish(TOPIC, _payload_for_packet_size(1025))
    diag = await connected.wait_message("downlink/diag")
    assert b"1025 bytes" in diag
    assert b"1024" in diag
    await connected.wait_disconnected()
    assert not device.connected
    assert device.value("Terminal") is None
    assert device.messages == 0  # never accepted, so never counted
    assert len(device.diags) == 1


async def test_oversized_subscribe_also_counts(
    cloud: BlynkCloud, device: Device, make_raw: MakeRaw
) -> None:
    raw = await make_raw(cloud.host, cloud.port)
    assert await raw.connect(TOKEN) == 0
    raw.send(encode_subscribe(1, [("downlink/" + "x" * 1100, 0)]))
    assert await raw.next_publish() == ("downlink/diag", device.diags[0].encode())
    await raw.wait_closed()


async def test_oversized_connect_is_just_closed(
    cloud: BlynkCloud, device: Device, make_raw: MakeRaw
) -> None:
    raw = await make_raw(cloud.host, cloud.port)
    raw.send(encode_subscribe(1, [("x" * 2000, 0)])[:3])  # announces 2000+ bytes
    assert await raw.read_packet() is None
    assert device.diags == []


async def test_50_messages_per_second_are_fine(connected: PahoClient, device: Device) -> None:
    for index in range(50):
        connected.publish("ds/Current Temperature", str(index))
    await device.wait_for(lambda d: d.messages == 50)
    assert await device.ping()
    assert not connected.disconnected


async def test_51st_message_within_a_second_gets_diag_and_disconnect(
    connected: PahoClient, device: Device
) -> None:
    for index in range(51):
        connected.publish("ds/Current Temperature", str(index))
    diag = await connected.wait_message("downlink/diag")
    assert b"more than 50 per second" in diag
    await connected.wait_disconnected()
    assert device.messages == 51
    assert device.value("Current Temperature") == "49"  # the 51st was not applied
    assert not device.connected


def test_rate_window_slides() -> None:
    device = Device(TOKEN)
    # Five messages per second allowed; times are explicit, so no sleeping.
    assert all(device.count_message(5, now) for now in (10.0, 10.2, 10.4, 10.6, 10.8))
    assert not device.count_message(5, 10.9)  # six within one second
    assert device.count_message(5, 11.5)  # 10.0 .. 10.4 have left the window
    assert device.messages == 7


async def test_rate_limit_is_configurable(make_cloud: MakeCloud, make_paho: MakePaho) -> None:
    cloud = await make_cloud(rate_limit=5)
    device = cloud.add_device(TOKEN)
    client = make_paho()
    assert await client.connect(cloud.host, cloud.port) == 0
    for _ in range(6):
        client.publish("ds/Status", "1")
    assert b"more than 5 per second" in await client.wait_message("downlink/diag")
    await client.wait_disconnected()
    assert device.diags


async def test_raw_flood_gets_diag_before_close(
    cloud: BlynkCloud, device: Device, make_raw: MakeRaw
) -> None:
    raw = await make_raw(cloud.host, cloud.port)
    assert await raw.connect(TOKEN) == 0
    raw.send(b"".join(encode_publish("ds/Status", b"1") for _ in range(200)))
    packets = []
    while (packet := await raw.read_packet()) is not None:
        packets.append(packet)
    assert [p.type for p in packets] == [PacketType.PUBLISH]
    assert device.messages == 51
