"""Byte transports under MQTT: a plain (or TLS) stream, and MQTT over WebSocket.

The MQTT layer only needs "give me bytes" and "send these bytes", so WebSocket
framing (RFC 6455) is hidden here. MQTT treats WebSocket as a byte stream: a
packet may span frames and a frame may hold several packets.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import logging
import os
import struct
from typing import Final, Protocol

_LOGGER = logging.getLogger(__name__)

_WS_GUID: Final = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_MAX_HANDSHAKE: Final = 8192
_MAX_FRAME: Final = 1 << 20
_HANDSHAKE_TIMEOUT: Final = 10.0

OP_CONTINUATION: Final = 0x0
OP_TEXT: Final = 0x1
OP_BINARY: Final = 0x2
OP_CLOSE: Final = 0x8
OP_PING: Final = 0x9
OP_PONG: Final = 0xA

CLOSE_NORMAL: Final = 1000
CLOSE_PROTOCOL_ERROR: Final = 1002
CLOSE_UNSUPPORTED_DATA: Final = 1003
CLOSE_POLICY_VIOLATION: Final = 1008
CLOSE_TOO_BIG: Final = 1009


class Transport(Protocol):
    """What a session needs from a connection."""

    peer: str

    async def recv(self) -> bytes:
        """Return the next bytes from the client; b"" once it is gone."""

    def send(self, data: bytes) -> None:
        """Queue bytes for the client (dropped once closing)."""

    async def drain(self) -> None:
        """Wait until queued bytes are handed to the kernel (never raises)."""

    def finish(self, code: int = CLOSE_NORMAL) -> None:
        """End our side politely (TCP FIN or a WebSocket close frame) but keep reading."""

    def close(self) -> None:
        """Close after flushing what is queued."""

    def abort(self) -> None:
        """Close now, discarding what is queued."""


def _peer_name(writer: asyncio.StreamWriter) -> str:
    peer = writer.get_extra_info("peername")
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"{peer[0]}:{peer[1]}"
    return str(peer)


class StreamTransport:
    """MQTT straight over TCP, or over TLS (asyncio handles the TLS layer)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Wrap an accepted connection."""
        self._reader = reader
        self._writer = writer
        self.peer = _peer_name(writer)

    async def recv(self) -> bytes:
        """Return whatever arrived, or b"" at end of stream or on a reset."""
        try:
            return await self._reader.read(4096)
        except (ConnectionError, OSError):
            return b""

    def send(self, data: bytes) -> None:
        """Queue bytes unless the connection is closing."""
        if not self._writer.is_closing():
            self._writer.write(data)

    async def drain(self) -> None:
        """Wait for the write buffer to empty; a dead peer is not our problem here."""
        with contextlib.suppress(ConnectionError, OSError):
            await self._writer.drain()

    def finish(self, code: int = CLOSE_NORMAL) -> None:
        """Let the client read what we sent, then see the end of the stream.

        Plain TCP gets a FIN. TLS cannot half-close, but asyncio's TLS close is already
        polite: it flushes, sends close_notify and waits for the client's.
        """
        del code
        if self._writer.is_closing():
            return
        if self._writer.can_write_eof():
            with contextlib.suppress(ConnectionError, OSError):
                self._writer.write_eof()
        else:
            self._writer.close()

    def close(self) -> None:
        """Close after flushing."""
        self._writer.close()

    def abort(self) -> None:
        """Close without flushing (TLS would otherwise wait for the peer's close_notify)."""
        self._writer.transport.abort()


def _frame(opcode: int, payload: bytes) -> bytes:
    """Build one unmasked, final server frame."""
    length = len(payload)
    if length < 126:
        header = struct.pack("!BB", 0x80 | opcode, length)
    elif length < 1 << 16:
        header = struct.pack("!BBH", 0x80 | opcode, 126, length)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 127, length)
    return header + payload


def _unmask(mask: bytes, payload: bytes) -> bytes:
    if not payload:
        return payload
    repeated = (mask * (len(payload) // 4 + 1))[: len(payload)]
    return (int.from_bytes(payload) ^ int.from_bytes(repeated)).to_bytes(len(payload))


class WebSocketTransport:
    """MQTT over WebSocket after a successful upgrade: binary frames only."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Wrap an upgraded connection."""
        self._reader = reader
        self._writer = writer
        self.peer = _peer_name(writer)
        self._close_sent = False

    async def recv(self) -> bytes:
        """Return the next non-empty data payload, answering control frames meanwhile."""
        try:
            while True:
                opcode, payload = await self._read_frame()
                if opcode in (OP_BINARY, OP_CONTINUATION):
                    if payload:
                        return payload
                elif opcode == OP_PING:
                    self._write_frame(OP_PONG, payload)
                elif opcode == OP_CLOSE:
                    # Echo the code, as RFC 6455 asks, then the stream is over.
                    self._send_close(payload[:2])
                    return b""
                elif opcode == OP_TEXT:
                    # MQTT over WebSocket must use binary frames.
                    _LOGGER.info("%s: text frame on an MQTT WebSocket; closing", self.peer)
                    self._send_close(struct.pack("!H", CLOSE_UNSUPPORTED_DATA))
                    return b""
                # Pong and reserved opcodes are ignored.
        except _FrameError as err:
            _LOGGER.info("%s: bad WebSocket frame: %s", self.peer, err)
            self._send_close(struct.pack("!H", err.code))
            return b""
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            return b""

    async def _read_frame(self) -> tuple[int, bytes]:
        first, second = await self._reader.readexactly(2)
        if first & 0x70:
            raise _FrameError("reserved bits set", CLOSE_PROTOCOL_ERROR)
        opcode = first & 0x0F
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", await self._reader.readexactly(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", await self._reader.readexactly(8))
        control = opcode >= OP_CLOSE
        if control and (length > 125 or not first & 0x80):
            raise _FrameError("invalid control frame", CLOSE_PROTOCOL_ERROR)
        if length > _MAX_FRAME:
            raise _FrameError(f"frame of {length} bytes", CLOSE_TOO_BIG)
        masked = bool(second & 0x80)
        # RFC 6455 wants every client frame masked. paho-mqtt 2.1 sends its pong and
        # close replies unmasked, so only data frames are held to the rule.
        if not masked and not control:
            raise _FrameError("unmasked client frame", CLOSE_PROTOCOL_ERROR)
        mask = await self._reader.readexactly(4) if masked else b""
        payload = await self._reader.readexactly(length)
        return opcode, _unmask(mask, payload) if masked else payload

    def _write_frame(self, opcode: int, payload: bytes) -> None:
        if not self._writer.is_closing():
            self._writer.write(_frame(opcode, payload))

    def _send_close(self, payload: bytes) -> None:
        if not self._close_sent:
            self._close_sent = True
            self._write_frame(OP_CLOSE, payload)

    def send(self, data: bytes) -> None:
        """Send one binary frame per MQTT packet (paho reads that most reliably)."""
        if not self._close_sent:
            self._write_frame(OP_BINARY, data)

    async def drain(self) -> None:
        """Wait for the write buffer to empty."""
        with contextlib.suppress(ConnectionError, OSError):
            await self._writer.drain()

    def finish(self, code: int = CLOSE_NORMAL) -> None:
        """Start the WebSocket closing handshake."""
        self._send_close(struct.pack("!H", code))

    def close(self) -> None:
        """Close after flushing."""
        self._writer.close()

    def abort(self) -> None:
        """Close without flushing."""
        self._writer.transport.abort()


class _FrameError(Exception):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def accept_key(key: str) -> str:
    """Compute Sec-WebSocket-Accept for a client's Sec-WebSocket-Key."""
    digest = hashlib.sha1((key + _WS_GUID).encode(), usedforsecurity=False).digest()
    return base64.b64encode(digest).decode()


def _http_error(writer: asyncio.StreamWriter, status: str, extra: str = "") -> None:
    body = status.encode()
    writer.write(
        f"HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {len(body)}\r\n"
        f"{extra}Connection: close\r\n\r\n".encode()
        + body
    )


async def accept_websocket(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str = "/mqtt"
) -> WebSocketTransport | None:
    """Answer the HTTP/1.1 Upgrade request; return None (after an HTTP error) if refused."""
    peer = _peer_name(writer)
    try:
        async with asyncio.timeout(_HANDSHAKE_TIMEOUT):
            raw = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.LimitOverrunError, asyncio.IncompleteReadError, TimeoutError, OSError):
        _LOGGER.info("%s: no complete HTTP request; closing", peer)
        return None
    if len(raw) > _MAX_HANDSHAKE:
        _http_error(writer, "431 Request Header Fields Too Large")
        return None
    lines = raw.decode("latin-1").split("\r\n")
    request = lines[0].split()
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    if len(request) != 3 or request[0] != "GET" or not request[2].startswith("HTTP/1."):
        _http_error(writer, "400 Bad Request")
        return None
    if request[1].split("?", 1)[0] != path:
        _http_error(writer, "404 Not Found")
        return None
    key = headers.get("sec-websocket-key", "")
    if (
        headers.get("upgrade", "").lower() != "websocket"
        or "upgrade" not in headers.get("connection", "").lower()
        or not key
    ):
        _http_error(writer, "400 Bad Request")
        return None
    if headers.get("sec-websocket-version") != "13":
        _http_error(writer, "426 Upgrade Required", "Sec-WebSocket-Version: 13\r\n")
        return None
    offered = [p.strip() for p in headers.get("sec-websocket-protocol", "").split(",")]
    chosen = next((p for p in ("mqtt", "mqttv3.1") if p in offered), None)
    response = (
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Accept: {accept_key(key)}\r\n"
    )
    if chosen:
        response += f"Sec-WebSocket-Protocol: {chosen}\r\n"
    writer.write((response + "\r\n").encode())
    return WebSocketTransport(reader, writer)


def mask_frame(opcode: int, payload: bytes, *, fin: bool = True) -> bytes:
    """Build a masked client frame, for tests that speak raw WebSocket."""
    mask = os.urandom(4)
    length = len(payload)
    first = (0x80 if fin else 0) | opcode
    if length < 126:
        header = struct.pack("!BB", first, 0x80 | length)
    elif length < 1 << 16:
        header = struct.pack("!BBH", first, 0x80 | 126, length)
    else:
        header = struct.pack("!BBQ", first, 0x80 | 127, length)
    return header + mask + _unmask(mask, payload)
