"""Transports: MQTT over WebSocket, TLS (mqtts and wss), and the project's own client."""

from __future__ import annotations

import asyncio
import ssl
import struct

import aiohttp
import pytest
import trustme

from blynk_emulator import BlynkCloud, Device
from blynk_emulator.packets import (
    PacketReader,
    PacketType,
    encode_connect,
    encode_pingreq,
    encode_subscribe,
)
from blynk_emulator.transport import OP_BINARY, OP_CLOSE, OP_CONTINUATION, accept_key, mask_frame
from custom_components.blynk_bell.protocol.blynk import blynk_session_options
from custom_components.blynk_bell.protocol.mqtt import Endpoint, Message, MqttLink

from .conftest import TOKEN, MakeCloud, MakePaho, MakeRaw

CONNECT = encode_connect(username="device", password=TOKEN)


@pytest.fixture(scope="module")
def tls_contexts() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A throwaway CA: (server context, client context trusting it)."""
    ca = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(server)
    client = ssl.create_default_context()
    ca.configure_trust(client)
    return server, client


async def test_paho_over_websocket(cloud: BlynkCloud, device: Device, make_paho: MakePaho) -> None:
    assert cloud.ws_url == f"ws://127.0.0.1:{cloud.ws_port}/mqtt"
    client = make_paho(transport="websockets")
    assert await client.connect(cloud.host, cloud.ws_port or 0) == 0
    assert await client.subscribe("downlink/#", "ds/Power") == [0, 0x80]
    client.publish("ds/Current Temperature", "22.5", qos=1)
    client.publish("get/ds", "Set Temperature")
    assert await client.wait_message("downlink/ds/Set Temperature") == b"23"
    assert device.value("Current Temperature") == "22.5"
    assert await device.write("Power", "1")
    assert await client.wait_message("downlink/ds/Power") == b"1"
    assert await device.ping()


async def test_paho_websocket_gets_diag_then_close(
    cloud: BlynkCloud, device: Device, make_paho: MakePaho
) -> None:
    client = make_paho(transport="websockets")
    assert await client.connect(cloud.host, cloud.ws_port or 0) == 0
    client.publish("ds/Terminal", "x" * 1100)
    assert b"Message too large" in await client.wait_message("downlink/diag")
    await client.wait_disconnected()
    assert not device.connected


async def test_websocket_frames_with_aiohttp(cloud: BlynkCloud, socket_enabled: None) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(cloud.ws_url, protocols=("mqtt",), autoping=False) as ws,
    ):
        assert ws.protocol == "mqtt"
        await ws.send_bytes(CONNECT)
        reply = await ws.receive(timeout=5)
        assert reply.type == aiohttp.WSMsgType.BINARY
        assert reply.data == b"\x20\x02\x00\x00"
        await ws.ping(b"hello")
        pong = await ws.receive(timeout=5)
        assert pong.type == aiohttp.WSMsgType.PONG
        assert pong.data == b"hello"
        await ws.send_str("text is not MQTT")
        closing = await ws.receive(timeout=5)
        assert closing.type == aiohttp.WSMsgType.CLOSE
        assert closing.data == 1003
    await cloud.device(TOKEN).wait_for(lambda d: not d.connected)


async def test_websocket_close_frame_is_answered(cloud: BlynkCloud, socket_enabled: None) -> None:
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(cloud.ws_url, protocols=("mqtt",))
        await ws.send_bytes(CONNECT)
        assert (await ws.receive(timeout=5)).data == b"\x20\x02\x00\x00"
        await cloud.device(TOKEN).wait_for(lambda d: d.connected)
        async with asyncio.timeout(5):
            await ws.close()  # completes only once the server echoes the close frame
        assert ws.close_code == 1000
    await cloud.device(TOKEN).wait_for(lambda d: not d.connected)


async def _raw_websocket(
    cloud: BlynkCloud, request: str
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bytes]:
    reader, writer = await asyncio.open_connection(cloud.host, cloud.ws_port)
    writer.write(request.encode())
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    return reader, writer, head


def _upgrade(path: str = "/mqtt", version: str = "13", extra: str = "") -> str:
    return (
        f"GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: {version}\r\n"
        f"{extra}\r\n"
    )


async def _read_frames(reader: asyncio.StreamReader) -> list[tuple[int, bytes]]:
    frames: list[tuple[int, bytes]] = []
    while True:
        try:
            first, second = await asyncio.wait_for(reader.readexactly(2), 5)
        except asyncio.IncompleteReadError:
            return frames
        assert not second & 0x80, "server frames are never masked"
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", await reader.readexactly(2))
        frames.append((first & 0x0F, await reader.readexactly(length)))
        if first & 0x0F == OP_CLOSE:
            return frames


async def test_websocket_stream_semantics(cloud: BlynkCloud, socket_enabled: None) -> None:
    """MQTT packets may span frames, and one frame may carry several packets."""
    reader, writer, head = await _raw_websocket(cloud, _upgrade())
    assert head.startswith(b"HTTP/1.1 101 ")
    assert f"Sec-WebSocket-Accept: {accept_key('dGhlIHNhbXBsZSBub25jZQ==')}".encode() in head
    assert accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="  # RFC 6455
    assert b"Sec-WebSocket-Protocol" not in head  # none was offered
    writer.write(mask_frame(OP_BINARY, CONNECT[:5], fin=False))
    writer.write(mask_frame(OP_CONTINUATION, CONNECT[5:]))
    writer.write(mask_frame(OP_BINARY, encode_subscribe(1, [("downlink/#", 0)]) + encode_pingreq()))
    writer.write(mask_frame(OP_CLOSE, struct.pack("!H", 1000)))
    frames = await _read_frames(reader)
    stream = PacketReader()
    for opcode, payload in frames:
        if opcode == OP_BINARY:
            stream.feed(payload)
    types = []
    while (packet := stream.next_packet(4096)) is not None:
        types.append(packet.type)
    assert types == [PacketType.CONNACK, PacketType.SUBACK, PacketType.PINGRESP]
    assert frames[-1] == (OP_CLOSE, struct.pack("!H", 1000))
    writer.close()


async def test_unmasked_data_frame_is_a_protocol_error(
    cloud: BlynkCloud, socket_enabled: None
) -> None:
    reader, writer, head = await _raw_websocket(cloud, _upgrade())
    assert head.startswith(b"HTTP/1.1 101 ")
    writer.write(bytes([0x80 | OP_BINARY, len(CONNECT)]) + CONNECT)
    assert await _read_frames(reader) == [(OP_CLOSE, struct.pack("!H", 1002))]
    writer.close()


@pytest.mark.parametrize(
    ("request_text", "status"),
    [
        (_upgrade(path="/other"), b"404"),
        (_upgrade(version="8"), b"426"),
        ("GET /mqtt HTTP/1.1\r\nHost: x\r\n\r\n", b"400"),
        ("POST /mqtt HTTP/1.1\r\nHost: x\r\n\r\n", b"400"),
    ],
)
async def test_bad_upgrade_requests_get_http_errors(
    cloud: BlynkCloud, socket_enabled: None, request_text: str, status: bytes
) -> None:
    _reader, writer, head = await _raw_websocket(cloud, request_text)
    assert head.split()[1] == status
    writer.close()


async def test_mqtt_subprotocol_is_answered(cloud: BlynkCloud, socket_enabled: None) -> None:
    _reader, writer, head = await _raw_websocket(
        cloud, _upgrade(extra="Sec-WebSocket-Protocol: mqttv3.1, mqtt\r\n")
    )
    assert b"Sec-WebSocket-Protocol: mqtt\r\n" in head
    writer.close()


async def test_mqtts(
    make_cloud: MakeCloud,
    make_paho: MakePaho,
    make_raw: MakeRaw,
    tls_contexts: tuple[ssl.SSLContext, ssl.SSLContext],
) -> None:
    server_tls, client_tls = tls_contexts
    cloud = await make_cloud(ssl_context=server_tls, ws_port=0, linger=0.5)
    device = cloud.add_device(TOKEN)
    assert cloud.url == f"mqtts://127.0.0.1:{cloud.port}"
    assert cloud.ws_url.startswith("wss://")
    client = make_paho(tls=client_tls)
    assert await client.connect(cloud.host, cloud.port) == 0
    assert await client.subscribe("downlink/#") == [0]
    assert await device.write("Power", 1)
    assert await client.wait_message("downlink/ds/Power") == b"1"
    await client.close()

    raw = await make_raw(cloud.host, cloud.port, tls=client_tls)
    assert await raw.connect("wrong") == 4
    await raw.wait_closed()


async def test_wss(
    make_cloud: MakeCloud,
    make_paho: MakePaho,
    tls_contexts: tuple[ssl.SSLContext, ssl.SSLContext],
) -> None:
    server_tls, client_tls = tls_contexts
    cloud = await make_cloud(ssl_context=server_tls, ws_port=0)
    device = cloud.add_device(TOKEN)
    client = make_paho(transport="websockets", tls=client_tls)
    assert await client.connect(cloud.host, cloud.ws_port or 0) == 0
    client.publish("ds/Status", "2")
    await device.wait_for(lambda d: d.value("Status") == "2")
    assert await device.ping()


@pytest.mark.parametrize("websocket", [False, True], ids=["mqtt", "ws"])
async def test_the_integrations_mqtt_link(
    cloud: BlynkCloud, device: Device, websocket: bool
) -> None:
    """The project's own asyncio-driven paho client talks to the emulator."""
    received: list[Message] = []
    changed = asyncio.Event()

    def on_message(message: Message) -> None:
        received.append(message)
        changed.set()

    link = MqttLink(
        Endpoint.from_url(cloud.ws_url if websocket else cloud.url),
        blynk_session_options(TOKEN),
        name="emulator test",
        on_message=on_message,
    )
    link.start()
    try:
        assert await link.async_wait_connected(5)
        assert await link.async_publish_acked("get/ds", "Power,Set Temperature")
        await device.wait_for(lambda d: d.subscriptions == {"downlink/#"})
        assert await device.write("Power", "1")
        assert await device.ping()
        async with asyncio.timeout(5):
            while len(received) < 4:
                await changed.wait()
                changed.clear()
        assert [(m.topic, m.payload) for m in received] == [
            ("downlink/ds/Power", b"0"),
            ("downlink/ds/Set Temperature", b"23"),
            ("downlink/ds/Power", b"1"),
            ("downlink/ping", b""),
        ]
    finally:
        await link.async_stop()
    await device.wait_for(lambda d: not d.connected)
