"""Blynk topics: subscriptions, uplinks, get/ds, app writes, ping, redirect, raw downlinks."""

from __future__ import annotations

import asyncio
import json

import pytest

from blynk_emulator import BlynkCloud, Device, Published
from blynk_emulator.packets import PacketType, encode_publish, encode_unsubscribe

from .clients import PahoClient, RawClient
from .conftest import TOKEN, MakeCloud, MakePaho, MakeRaw


async def test_template_defaults(cloud: BlynkCloud) -> None:
    device = cloud.add_device("another", values={"Power": 1, "Current Temperature": 19.5})
    assert device.value("Power") == "1"
    assert device.value("Set Temperature") == "23"
    assert device.value("Current Temperature") == "19.5"
    assert device.value("Status") is None
    assert cloud.device(TOKEN).value("Power") == "0"
    with pytest.raises(ValueError, match="exists"):
        cloud.add_device("another")
    assert "another" not in repr(device)


async def test_subscriptions_only_under_downlink_without_plus(
    cloud: BlynkCloud, make_raw: MakeRaw
) -> None:
    raw = await make_raw(cloud.host, cloud.port)
    assert await raw.connect(TOKEN) == 0
    codes = await raw.subscribe(
        [
            ("downlink/#", 0),
            ("downlink/ds/Power", 1),
            ("downlink/ds/#", 2),  # QoS 2 is granted as 1
            ("downlink/ds/+", 0),
            ("downlink/+/Power", 0),
            ("ds/Power", 0),
            ("#", 0),
            ("+/ds/Power", 0),
            ("downlink", 0),
            ("downlink/#/Power", 0),
            ("downlink/ds#", 0),
        ]
    )
    assert codes == [0, 1, 1] + [0x80] * 8
    assert cloud.device(TOKEN).subscriptions == {"downlink/#", "downlink/ds/Power", "downlink/ds/#"}


async def test_paho_sees_failed_subscription(cloud: BlynkCloud, make_paho: MakePaho) -> None:
    client = make_paho()
    assert await client.connect(cloud.host, cloud.port) == 0
    assert await client.subscribe("downlink/ds/+", "downlink/ds/Power") == [0x80, 0]


async def test_app_write_reaches_only_a_subscribed_device(
    cloud: BlynkCloud, device: Device, make_raw: MakeRaw
) -> None:
    raw = await make_raw(cloud.host, cloud.port)
    assert await raw.connect(TOKEN) == 0
    assert not await device.write("Power", "1")  # not subscribed: stored, not sent
    assert device.value("Power") == "1"

    assert await raw.subscribe([("downlink/ds/Set Temperature", 1)]) == [1]
    assert not await device.write("Power", "0")
    assert await device.write("Set Temperature", 25.5)
    assert await raw.next_publish() == ("downlink/ds/Set Temperature", b"25.5")

    raw.send(encode_unsubscribe(2, ["downlink/ds/Set Temperature"]))
    packet = await raw.read_packet()
    assert packet is not None
    assert packet.type == PacketType.UNSUBACK
    assert not await device.write("Set Temperature", 26)
    assert device.app_writes == 4
    assert device.messages == 0  # app writes are not device messages


async def test_write_while_offline_is_stored(device: Device) -> None:
    assert not await device.write("Power", True)
    assert device.value("Power") == "1"


async def test_write_from_the_app_reaches_paho(connected: PahoClient, device: Device) -> None:
    assert await device.write("Power", "1")
    assert await connected.wait_message("downlink/ds/Power") == b"1"
    assert device.value("Power") == "1"


async def test_device_uplinks_are_stored(connected: PahoClient, device: Device) -> None:
    mcu = {"tmpl": "TMPL4zGiS1A7l", "ver": "0.1.0", "type": "HA", "rxbuff": 1024}
    connected.publish("ds/Current Temperature", "21.4")
    connected.publish("ds/Status", "3", qos=1)
    connected.publish("ds/Status/prop/color", "F7EAE4")
    connected.publish("ds/Set Temperature/prop/isDisabled", "1")
    connected.publish("info/mcu", json.dumps(mcu))
    connected.publish("batch_ds", json.dumps({"Power": 1, "Terminal": "on", "X": True}))
    connected.publish("event/overheat", "too hot")
    connected.publish("some/other/topic", "?")
    connected.publish("ds/Terminal", "line one\x00line two")
    await device.wait_for(lambda d: d.messages == 9)

    assert device.value("Current Temperature") == "21.4"
    assert device.value("Status") == "3"
    assert device.prop("Status", "color") == "F7EAE4"
    assert device.prop("Set Temperature", "isDisabled") == "1"
    assert device.prop("Status", "label") is None
    assert device.mcu_info == mcu
    assert device.value("Power") == "1"
    assert device.value("X") == "1"
    assert device.value("Terminal") == "line one\x00line two"
    assert device.events == [("overheat", "too hot")]
    assert device.ignored == [("some/other/topic", "?")]
    assert device.topics()[:2] == ["ds/Current Temperature", "ds/Status"]
    first = device.published[0]
    assert isinstance(first, Published)
    when, topic, payload = first
    assert (topic, payload) == ("ds/Current Temperature", "21.4")
    assert when <= device.published[-1].time


async def test_bad_json_is_ignored(connected: PahoClient, device: Device) -> None:
    connected.publish("info/mcu", "{not json")
    connected.publish("batch_ds", "[1, 2]")
    await device.wait_for(lambda d: d.messages == 2)
    assert device.mcu_info is None
    assert device.value("Power") == "0"
    assert await device.ping()  # still connected


async def test_qos1_publish_is_acknowledged(cloud: BlynkCloud, make_raw: MakeRaw) -> None:
    raw = await make_raw(cloud.host, cloud.port)
    assert await raw.connect(TOKEN) == 0
    raw.send(encode_publish("ds/Power", b"1", 1, 42))
    packet = await raw.read_packet()
    assert packet is not None
    assert packet.type == PacketType.PUBACK
    assert packet.body == b"\x00\x2a"
    assert cloud.device(TOKEN).value("Power") == "1"


async def test_get_ds_answers_known_values(connected: PahoClient, device: Device) -> None:
    connected.publish("get/ds", "Power,Set Temperature, Current Temperature,Nope,")
    await connected.wait_message("downlink/ds/Set Temperature")
    await device.ping()  # anything else would have arrived before the ping's PUBACK
    assert connected.received == [
        ("downlink/ds/Power", b"0"),
        ("downlink/ds/Set Temperature", b"23"),
        ("downlink/ping", b""),
    ]
    assert device.messages == 1


async def test_a_delayed_get_ds_answer_holds_the_values_of_when_it_was_asked(
    connected: PahoClient, device: Device
) -> None:
    device.answer_delay = 0.3
    connected.publish("get/ds", "Set Temperature")
    await device.wait_for(lambda d: d.messages == 1)
    connected.publish("ds/Status", "2", qos=1)  # Handled and acknowledged meanwhile...
    await device.write("Set Temperature", "26")  # ...and the app writes a newer value.
    await connected.wait_message("downlink/ds/Set Temperature")
    assert connected.messages("downlink/ds/Set Temperature") == [b"26"]
    await asyncio.sleep(0.4)
    # The answer comes last, with the value Blynk had when it was asked.
    assert connected.messages("downlink/ds/Set Temperature") == [b"26", b"23"]
    assert device.value("Set Temperature") == "26"


async def test_batch_ds_is_one_message_and_carries_no_widget_properties(
    connected: PahoClient, device: Device
) -> None:
    batch = {"Status": 3, "Current Temperature": 21.5, "Status/prop/color": "F7EAE4"}
    connected.publish("batch_ds", json.dumps(batch))
    await device.wait_for(lambda d: d.messages == 1)
    assert device.value("Status") == "3"
    assert device.value("Current Temperature") == "21.5"
    assert device.prop("Status", "color") is None
    assert device.ignored == [("batch_ds", "Status/prop/color")]


async def test_get_ds_all_answers_sync_datastreams_only(
    connected: PahoClient, device: Device
) -> None:
    connected.publish("ds/Current Temperature", "20")
    connected.publish("ds/Status", "2")
    connected.publish("get/ds/all")
    await connected.wait_message("downlink/ds/Set Temperature")
    await device.ping()
    assert connected.received == [
        ("downlink/ds/Power", b"0"),
        ("downlink/ds/Set Temperature", b"23"),
        ("downlink/ping", b""),
    ]


async def test_get_ds_answer_needs_a_subscription(
    cloud: BlynkCloud, device: Device, make_raw: MakeRaw
) -> None:
    raw = await make_raw(cloud.host, cloud.port)
    assert await raw.connect(TOKEN) == 0
    raw.publish("get/ds", b"Power")
    await device.wait_for(lambda d: d.messages == 1)
    assert await raw.subscribe([("downlink/ds/Power", 0)]) == [0]  # SUBACK comes first
    raw.publish("get/ds", b"Power")
    assert await raw.next_publish() == ("downlink/ds/Power", b"0")


async def test_ping_is_answered_by_paho(connected: PahoClient, device: Device) -> None:
    assert await device.ping()
    assert connected.messages("downlink/ping") == [b""]


async def test_ping_without_puback_times_out(
    cloud: BlynkCloud, device: Device, make_raw: MakeRaw
) -> None:
    raw = await make_raw(cloud.host, cloud.port)
    assert await raw.connect(TOKEN) == 0
    ping = asyncio.create_task(device.ping(timeout=0.3))
    assert await raw.next_publish(ack=False) == ("downlink/ping", b"")
    assert not await ping


async def test_ping_offline_device(device: Device) -> None:
    assert not await device.ping()
    assert not await device.send("downlink/reboot")


async def test_ping_fails_when_connection_drops(
    cloud: BlynkCloud, device: Device, make_raw: MakeRaw
) -> None:
    raw = await make_raw(cloud.host, cloud.port)
    assert await raw.connect(TOKEN) == 0
    ping = asyncio.create_task(device.ping(timeout=5))
    await raw.next_publish(ack=False)
    await raw.close()
    assert not await ping


async def test_raw_downlinks_ignore_subscriptions(
    cloud: BlynkCloud, device: Device, make_raw: MakeRaw
) -> None:
    raw = await make_raw(cloud.host, cloud.port)
    assert await raw.connect(TOKEN) == 0
    assert await device.send("downlink/reboot")
    assert await raw.next_publish() == ("downlink/reboot", b"")
    sending = asyncio.create_task(device.send("downlink/diag", "be nice", qos=1))
    assert await raw.next_publish() == ("downlink/diag", b"be nice")
    assert await sending
    with pytest.raises(ValueError, match="QoS"):
        await device.send("downlink/x", qos=2)


async def test_redirect_is_sent_right_after_connack(
    cloud: BlynkCloud, device: Device, make_raw: MakeRaw, make_paho: MakePaho
) -> None:
    cloud.redirect = "mqtt://127.0.0.1:9999"
    raw = await make_raw(cloud.host, cloud.port)
    assert await raw.connect(TOKEN) == 0  # no subscription at all
    assert await raw.next_publish() == ("downlink/redirect", b"mqtt://127.0.0.1:9999")
    await raw.close()

    cloud.redirect = "wss://127.0.0.1:9443/mqtt"
    client = make_paho()
    assert await client.connect(cloud.host, cloud.port) == 0
    assert await client.wait_message("downlink/redirect") == b"wss://127.0.0.1:9443/mqtt"
    await client.close()

    cloud.redirect = None
    raw = await make_raw(cloud.host, cloud.port)
    assert await raw.connect(TOKEN) == 0
    assert await device.send("downlink/first")
    assert await raw.next_publish() == ("downlink/first", b"")


async def test_redirect_to_a_second_cloud(make_cloud: MakeCloud, make_paho: MakePaho) -> None:
    target = await make_cloud()
    target.add_device(TOKEN)
    origin = await make_cloud(redirect=target.url)
    origin.add_device(TOKEN)
    client = make_paho()
    assert await client.connect(origin.host, origin.port) == 0
    url = (await client.wait_message("downlink/redirect")).decode()
    assert url == f"mqtt://127.0.0.1:{target.port}"
    moved = make_paho()
    assert await moved.connect("127.0.0.1", int(url.rsplit(":", 1)[1])) == 0
    assert target.device(TOKEN).connected


async def test_wait_for_times_out_with_a_clear_error(device: Device) -> None:
    with pytest.raises(TimeoutError, match="condition not met"):
        await device.wait_for(lambda d: d.value("Power") == "1", timeout=0.05)
    assert await device.wait_for(lambda d: d.value("Power") == "0", timeout=0.05)


async def test_wait_for_wakes_on_change(device: Device) -> None:
    waiter = asyncio.create_task(device.wait_for(lambda d: d.value("Power") == "1", timeout=1))
    await asyncio.sleep(0)
    await device.write("Power", "1")
    assert await waiter


async def test_removed_device_is_disconnected_and_refused(
    cloud: BlynkCloud, make_paho: MakePaho, make_raw: MakeRaw
) -> None:
    client = make_paho()
    assert await client.connect(cloud.host, cloud.port) == 0
    cloud.remove_device(TOKEN)
    await client.wait_disconnected()
    raw: RawClient = await make_raw(cloud.host, cloud.port)
    assert await raw.connect(TOKEN) == 4
