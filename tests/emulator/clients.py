"""Test clients for the emulator: a threaded paho client and a raw-bytes MQTT client."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import contextlib
import ssl
from typing import Any

from paho.mqtt.client import Client, ConnectFlags, DisconnectFlags, MQTTMessage
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from blynk_emulator.packets import (
    Packet,
    PacketReader,
    PacketType,
    decode_publish,
    encode_connect,
    encode_puback,
    encode_publish,
    encode_subscribe,
)

TIMEOUT = 5.0

# paho reports MQTT 3.1.1 CONNACK return codes as MQTT 5 reason codes.
PAHO_BAD_CREDENTIALS = 134  # CONNACK 4
PAHO_SERVER_UNAVAILABLE = 136  # CONNACK 3


class _Changes:
    """Lets a coroutine wait for a condition that other code keeps changing."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait_for(self, condition: Callable[[], object], timeout: float = TIMEOUT) -> None:
        async with asyncio.timeout(timeout):
            while True:
                event = self._event
                if condition():
                    return
                await event.wait()


class PahoClient:
    """A real paho-mqtt client on its own network thread, reporting to the event loop."""

    def __init__(
        self,
        token: str | None,
        *,
        username: str = "device",
        transport: str = "tcp",
        tls: ssl.SSLContext | None = None,
        keepalive: int = 45,
        client_id: str = "",
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._changes = _Changes()
        self.client = Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=MQTTProtocolVersion.MQTTv311,
            transport="websockets" if transport == "websockets" else "tcp",
            reconnect_on_failure=False,
        )
        if token is not None:
            self.client.username_pw_set(username, token)
        if tls is not None:
            self.client.tls_set_context(tls)
        self._keepalive = keepalive
        self.connack: int | None = None
        self.disconnected = False
        self.received: list[tuple[str, bytes]] = []
        self.subacks: list[list[int]] = []
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe

    # paho callbacks run on paho's thread: hand everything to the loop.
    def _call(self, func: Callable[..., None], *args: Any) -> None:
        self._loop.call_soon_threadsafe(func, *args)

    def _on_connect(
        self, _c: Client, _u: Any, _f: ConnectFlags, reason: ReasonCode, _p: Properties | None
    ) -> None:
        self._call(self._set, "connack", reason.value)

    def _on_disconnect(
        self, _c: Client, _u: Any, _f: DisconnectFlags, _r: ReasonCode, _p: Properties | None
    ) -> None:
        self._call(self._set, "disconnected", True)

    def _on_message(self, _c: Client, _u: Any, msg: MQTTMessage) -> None:
        self._call(self._add_message, msg.topic, bytes(msg.payload))

    def _on_subscribe(
        self, _c: Client, _u: Any, _mid: int, reasons: list[ReasonCode], _p: Properties
    ) -> None:
        self._call(self._add_suback, [r.value for r in reasons])

    def _set(self, name: str, value: object) -> None:
        setattr(self, name, value)
        self._changes.notify()

    def _add_suback(self, codes: list[int]) -> None:
        self.subacks.append(codes)
        self._changes.notify()

    def _add_message(self, topic: str, payload: bytes) -> None:
        self.received.append((topic, payload))
        self._changes.notify()

    # What tests call --------------------------------------------------------------------

    async def connect(self, host: str, port: int, path: str = "/mqtt") -> int:
        """Connect on paho's thread (a blocking connect would stall our own server)."""
        self.client.ws_set_options(path=path)
        self.client.connect_async(host, port, self._keepalive)
        self.client.loop_start()
        await self._changes.wait_for(lambda: self.connack is not None)
        assert self.connack is not None
        return self.connack

    async def subscribe(self, *filters: str, qos: int = 0) -> list[int]:
        count = len(self.subacks)
        self.client.subscribe([(f, qos) for f in filters])
        await self._changes.wait_for(lambda: len(self.subacks) > count)
        return self.subacks[-1]

    def publish(self, topic: str, payload: str | bytes = b"", qos: int = 0) -> None:
        self.client.publish(topic, payload, qos=qos)

    def messages(self, topic: str) -> list[bytes]:
        return [payload for t, payload in self.received if t == topic]

    async def wait_message(self, topic: str, timeout: float = TIMEOUT) -> bytes:
        await self._changes.wait_for(lambda: self.messages(topic), timeout)
        return self.messages(topic)[-1]

    async def wait_disconnected(self, timeout: float = TIMEOUT) -> None:
        await self._changes.wait_for(lambda: self.disconnected, timeout)

    async def close(self) -> None:
        """Disconnect and join paho's thread (tests must not leave threads behind)."""
        self.client.disconnect()
        await asyncio.to_thread(self.client.loop_stop)


class RawClient:
    """Speaks MQTT byte by byte, to send what paho never would."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self._packets = PacketReader()

    @classmethod
    async def open(cls, host: str, port: int, tls: ssl.SSLContext | None = None) -> RawClient:
        reader, writer = await asyncio.open_connection(host, port, ssl=tls)
        return cls(reader, writer)

    def send(self, data: bytes) -> None:
        self.writer.write(data)

    async def read_packet(self, timeout: float = TIMEOUT) -> Packet | None:
        """Return the next packet, or None when the server closed the connection."""
        async with asyncio.timeout(timeout):
            while (packet := self._packets.next_packet(1 << 20)) is None:
                try:
                    data = await self.reader.read(4096)
                except ConnectionError:
                    data = b""
                if not data:
                    return None
                self._packets.feed(data)
            return packet

    async def connect(
        self, token: str | None, *, username: str = "device", keepalive: int = 45, **kw: Any
    ) -> int:
        """Send CONNECT and return the CONNACK return code."""
        self.send(encode_connect(username=username, password=token, keepalive=keepalive, **kw))
        packet = await self.read_packet()
        assert packet is not None, "closed without CONNACK"
        assert packet.type == PacketType.CONNACK
        return packet.body[1]

    async def subscribe(self, filters: list[tuple[str, int]], packet_id: int = 1) -> list[int]:
        self.send(encode_subscribe(packet_id, filters))
        packet = await self.read_packet()
        assert packet is not None
        assert packet.type == PacketType.SUBACK
        assert packet.body[:2] == packet_id.to_bytes(2)
        return list(packet.body[2:])

    async def next_publish(
        self, *, ack: bool = True, timeout: float = TIMEOUT
    ) -> tuple[str, bytes]:
        """Skip non-PUBLISH packets; answer QoS 1 with PUBACK unless told not to."""
        while True:
            packet = await self.read_packet(timeout)
            assert packet is not None, "closed while waiting for a PUBLISH"
            if packet.type == PacketType.PUBLISH:
                publish = decode_publish(packet)
                if ack and publish.packet_id is not None:
                    self.send(encode_puback(publish.packet_id))
                return publish.topic, publish.payload

    def publish(self, topic: str, payload: bytes = b"", qos: int = 0, packet_id: int = 1) -> None:
        self.send(encode_publish(topic, payload, qos, packet_id if qos else None))

    async def wait_closed(self, timeout: float = TIMEOUT) -> None:
        """Read (and drop) until the server closes the connection."""
        async with asyncio.timeout(timeout):
            while await self.read_packet(timeout) is not None:
                pass

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            await self.writer.wait_closed()
