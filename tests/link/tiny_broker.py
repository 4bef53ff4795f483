"""A minimal MQTT server that writes CONNACK and what follows it in one write.

Over TLS one write is one TLS record, which is what Netty-based servers (Blynk.Cloud,
HiveMQ) can send: CONNACK and Blynk's `downlink/redirect`, or CONNACK and the messages
queued in a persistent session, decrypted by the client in a single read.

It speaks just enough MQTT 3.1.1 for a client to stay connected (SUBACK, PINGRESP,
PUBACK) and records what the client sent. Packets come from the Blynk emulator's codec,
so the client under test is checked against an implementation that is not its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import contextlib
from dataclasses import dataclass, field
import ssl

from blynk_emulator import packets


@dataclass
class Visit:
    """One client connection as the server saw it."""

    client_id: str
    clean_session: bool
    subscriptions: list[tuple[str, int]] = field(default_factory=list)
    publishes: list[tuple[str, bytes]] = field(default_factory=list)
    pubacks: list[int] = field(default_factory=list)
    disconnected: bool = False


class TinyBroker:
    """Serves on 127.0.0.1; `after_connack(visit_number)` says what rides with CONNACK.

    `connack_code(visit_number)` is the CONNACK return code of each visit (0 accepts).
    """

    def __init__(
        self,
        ssl_context: ssl.SSLContext | None = None,
        after_connack: Callable[[int], bytes] = lambda _visit: b"",
        connack_code: Callable[[int], int] = lambda _visit: 0,
    ) -> None:
        self.ssl_context = ssl_context
        self.after_connack = after_connack
        self.connack_code = connack_code
        self.session_present = False
        self.visits: list[Visit] = []
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.changed = asyncio.Event()

    @property
    def url(self) -> str:
        return f"{'mqtts' if self.ssl_context else 'mqtt'}://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._serve, "127.0.0.1", self.port, ssl=self.ssl_context
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        self.drop_all()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    def drop_all(self) -> None:
        """Cut every client off without a word."""
        for writer in list(self._writers):
            writer.transport.abort()

    async def wait_for(self, condition: Callable[[], bool], timeout: float = 10) -> None:
        async with asyncio.timeout(timeout):
            while not condition():
                self.changed.clear()
                await self.changed.wait()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        incoming = packets.PacketReader()
        visit: Visit | None = None
        try:
            while data := await reader.read(65536):
                incoming.feed(data)
                while (packet := incoming.next_packet(1 << 20)) is not None:
                    if visit is None:
                        connect = packets.decode_connect(packet)
                        visit = Visit(connect.client_id, connect.clean_session)
                        self.visits.append(visit)
                        if code := self.connack_code(len(self.visits)):
                            writer.write(packets.encode_connack(code))
                            return
                        # CONNACK and whatever follows it, in ONE write (one TLS record).
                        writer.write(
                            packets.encode_connack(0, self.session_present)
                            + self.after_connack(len(self.visits))
                        )
                    else:
                        self._handle(visit, packet, writer)
                    self.changed.set()
        except (ConnectionError, OSError, packets.ProtocolError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()
            self.changed.set()

    def _handle(self, visit: Visit, packet: packets.Packet, writer: asyncio.StreamWriter) -> None:
        match packet.type:
            case packets.PacketType.SUBSCRIBE:
                packet_id, requests = packets.decode_subscribe(packet)
                visit.subscriptions += requests
                writer.write(packets.encode_suback(packet_id, [qos for _, qos in requests]))
            case packets.PacketType.PUBLISH:
                publish = packets.decode_publish(packet)
                visit.publishes.append((publish.topic, publish.payload))
                if publish.packet_id is not None:
                    writer.write(packets.encode_puback(publish.packet_id))
            case packets.PacketType.PUBACK:
                visit.pubacks.append(packets.decode_packet_id(packet))
            case packets.PacketType.PINGREQ:
                writer.write(packets.encode_pingresp())
            case packets.PacketType.DISCONNECT:
                visit.disconnected = True
                writer.close()
