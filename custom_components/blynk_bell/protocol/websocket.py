"""MQTT over WebSocket (RFC 6455), the client's side, with no I/O.

MQTT treats a WebSocket as a byte stream: a packet may span frames and a frame may hold
several packets. So binary frames are not collected: their bytes are handed on as they
arrive, and only the small control frames (ping, pong, close: at most 125 bytes) are
buffered. The handshake response is bounded too.
"""

from __future__ import annotations

import base64
import hashlib
import os
from typing import Final

_GUID: Final = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MAX_RESPONSE_HEAD: Final = 8192
SUBPROTOCOL: Final = "mqtt"

OP_CONTINUATION: Final = 0x0
OP_TEXT: Final = 0x1
OP_BINARY: Final = 0x2
OP_CLOSE: Final = 0x8
OP_PING: Final = 0x9
OP_PONG: Final = 0xA
CLOSE_NORMAL: Final = 1000
CLOSE_PROTOCOL_ERROR: Final = 1002


class WebSocketError(Exception):
    """The server refused the upgrade or broke the WebSocket protocol."""


def _accept_for(key: bytes) -> str:
    digest = hashlib.sha1(key + _GUID, usedforsecurity=False).digest()
    return base64.b64encode(digest).decode()


def _mask(mask: bytes, data: bytes) -> bytes:
    if not data:
        return data
    repeated = mask * (len(data) // 4 + 1)
    return (int.from_bytes(data) ^ int.from_bytes(repeated[: len(data)])).to_bytes(len(data))


def encode_frame(opcode: int, payload: bytes, mask: bytes | None = None) -> bytes:
    """Build one final, masked client frame (RFC 6455 masks every client frame)."""
    mask = os.urandom(4) if mask is None else mask
    length = len(payload)
    if length < 126:
        header = bytes((0x80 | opcode, 0x80 | length))
    elif length < 1 << 16:
        header = bytes((0x80 | opcode, 0x80 | 126)) + length.to_bytes(2)
    else:
        header = bytes((0x80 | opcode, 0x80 | 127)) + length.to_bytes(8)
    return header + mask + _mask(mask, payload)


class WebSocketClient:
    """One WebSocket from the upgrade request to the close frame."""

    def __init__(self, host: str, port: int, path: str, *, tls: bool) -> None:
        """Prepare the upgrade request for `path` on `host`."""
        self._host = f"[{host}]" if ":" in host else host
        if port != (443 if tls else 80):
            self._host += f":{port}"
        self._path = path or "/"
        self._key = base64.b64encode(os.urandom(16))
        self.open = False
        self._response = bytearray()
        # The frame being read: its header bytes, then how much of its payload is left.
        self._header = bytearray()
        self._opcode = 0
        self._left = 0
        self._control = bytearray()
        # Frames to send back (pong, the close echo), for the caller to write.
        self.replies: list[bytes] = []
        # The code of the server's close frame, once one arrived.
        self.close_code: int | None = None

    def handshake_request(self) -> bytes:
        """Return the HTTP/1.1 Upgrade request."""
        return (
            f"GET {self._path} HTTP/1.1\r\n"
            f"Host: {self._host}\r\n"
            "Upgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {self._key.decode()}\r\n"
            "Sec-WebSocket-Version: 13\r\n"
            f"Sec-WebSocket-Protocol: {SUBPROTOCOL}\r\n"
            "\r\n"
        ).encode()

    def feed(self, data: bytes) -> bytes:
        """Take bytes from the server; return the MQTT bytes they carry (maybe none)."""
        if not self.open:
            data = self._read_response(data)
            if not data:
                return b""
        if self.close_code is not None:
            return b""  # Nothing counts after the close frame.
        out = bytearray()
        index = 0
        end = len(data)
        while index < end:
            if self._left == 0:  # Between frames: the next header.
                index, closed = self._read_header(data, index)
                if closed:
                    break
                continue
            take = min(self._left, end - index)
            if self._opcode in (OP_BINARY, OP_CONTINUATION):
                out += data[index : index + take]
            else:
                self._control += data[index : index + take]
            self._left -= take
            index += take
            if self._left == 0 and self._end_frame():
                break
        return bytes(out)

    def frame(self, data: bytes) -> bytes:
        """Wrap MQTT bytes in one binary frame."""
        return encode_frame(OP_BINARY, data)

    def close_frame(self, code: int = CLOSE_NORMAL) -> bytes:
        """Return the close frame that ends our side."""
        return encode_frame(OP_CLOSE, code.to_bytes(2))

    # The handshake ----------------------------------------------------------------

    def _read_response(self, data: bytes) -> bytes:
        self._response += data
        head_end = self._response.find(b"\r\n\r\n")
        if head_end < 0:
            if len(self._response) > MAX_RESPONSE_HEAD:
                raise WebSocketError("the server's answer to the upgrade is too long")
            return b""
        if head_end > MAX_RESPONSE_HEAD:
            raise WebSocketError("the server's answer to the upgrade is too long")
        head = bytes(self._response[:head_end]).decode("latin-1")
        rest = bytes(self._response[head_end + 4 :])
        self._response.clear()
        status, *lines = head.split("\r\n")
        parts = status.split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
            raise WebSocketError(f"not an HTTP answer: {status[:80]!r}")
        if parts[1] != "101":
            raise WebSocketError(f"the server refused the WebSocket upgrade: {status[9:89]}")
        headers: dict[str, str] = {}
        for line in lines:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        if headers.get("upgrade", "").lower() != "websocket" or "upgrade" not in headers.get(
            "connection", ""
        ).lower().replace(" ", "").split(","):
            raise WebSocketError("the server did not switch to WebSocket")
        if headers.get("sec-websocket-accept") != _accept_for(self._key):
            raise WebSocketError("the server's Sec-WebSocket-Accept does not match our key")
        if headers.get("sec-websocket-protocol", SUBPROTOCOL) != SUBPROTOCOL:
            raise WebSocketError("the server chose a subprotocol other than mqtt")
        self.open = True
        return rest

    # Frames -----------------------------------------------------------------------

    def _read_header(self, data: bytes, index: int) -> tuple[int, bool]:
        """Collect header bytes; once whole, start the frame.

        Return the new index, and whether the frame was an (empty) close frame.
        """
        header = self._header
        while index < len(data):
            header.append(data[index])
            index += 1
            needed = self._header_length()
            if needed is not None and len(header) == needed:
                return index, self._start_frame()
        return index, False

    def _header_length(self) -> int | None:
        header = self._header
        if len(header) < 2:
            return None
        if header[1] & 0x80:
            raise WebSocketError("the server masked a frame")
        length = header[1] & 0x7F
        return 2 + (2 if length == 126 else 8 if length == 127 else 0)

    def _start_frame(self) -> bool:
        header = self._header
        first = header[0]
        if first & 0x70:
            raise WebSocketError("reserved bits set in a frame")
        opcode = first & 0x0F
        length = header[1] & 0x7F
        if length >= 126:
            length = int.from_bytes(header[2:])
            if length >> 63:
                raise WebSocketError("frame length out of range")
        self._header = bytearray()
        if opcode >= OP_CLOSE:
            if length > 125 or not first & 0x80:
                raise WebSocketError("invalid control frame")
        elif opcode == OP_TEXT:
            raise WebSocketError("a text frame: MQTT travels in binary frames only")
        elif opcode not in (OP_BINARY, OP_CONTINUATION):
            raise WebSocketError(f"unknown opcode {opcode}")
        self._opcode = opcode
        self._left = length
        return length == 0 and self._end_frame()

    def _end_frame(self) -> bool:
        """Act on a control frame; return whether it was the close frame."""
        opcode = self._opcode
        payload = bytes(self._control)
        self._control.clear()
        self._opcode = OP_CONTINUATION
        if opcode == OP_PING:
            self.replies.append(encode_frame(OP_PONG, payload))
        elif opcode == OP_CLOSE:
            self.close_code = int.from_bytes(payload[:2]) if len(payload) >= 2 else CLOSE_NORMAL
            self.replies.append(encode_frame(OP_CLOSE, payload[:2]))
            return True
        # Pong: nothing to do. Binary bytes were handed on as they came.
        return False
