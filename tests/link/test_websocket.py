"""The WebSocket client codec: the upgrade, frames in any split, control frames."""

from __future__ import annotations

import base64

from hypothesis import given, settings, strategies as st
import pytest

from blynk_emulator.transport import accept_key
from custom_components.blynk_bell.protocol.websocket import (
    OP_BINARY,
    OP_CLOSE,
    OP_CONTINUATION,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    WebSocketClient,
    WebSocketError,
    _accept_for,
)


def server_frame(opcode: int, payload: bytes, *, fin: bool = True) -> bytes:
    """An unmasked server frame (the emulator's framing, written out for clarity)."""
    first = (0x80 if fin else 0) | opcode
    length = len(payload)
    if length < 126:
        return bytes((first, length)) + payload
    if length < 1 << 16:
        return bytes((first, 126)) + length.to_bytes(2) + payload
    return bytes((first, 127)) + length.to_bytes(8) + payload


def unmask(frame: bytes) -> tuple[int, bytes]:
    """Decode one masked client frame."""
    assert frame[1] & 0x80, "client frames are masked"
    length = frame[1] & 0x7F
    offset = 2
    if length == 126:
        length, offset = int.from_bytes(frame[2:4]), 4
    elif length == 127:
        length, offset = int.from_bytes(frame[2:10]), 10
    mask, data = frame[offset : offset + 4], frame[offset + 4 :]
    assert len(data) == length
    return frame[0] & 0x0F, bytes(b ^ mask[i % 4] for i, b in enumerate(data))


def upgraded(extra: str = "Sec-WebSocket-Protocol: mqtt\r\n") -> tuple[WebSocketClient, bytes]:
    client = WebSocketClient("broker.example", 443, "/mqtt", tls=True)
    request = client.handshake_request().decode()
    key = next(line.split(": ", 1)[1] for line in request.split("\r\n") if line.startswith("Sec-"))
    response = (
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Accept: {accept_key(key)}\r\n{extra}\r\n"
    ).encode()
    return client, response


def test_the_upgrade_request_is_what_rfc_6455_asks_for() -> None:
    client = WebSocketClient("::1", 9443, "/mqtt", tls=True)
    lines = client.handshake_request().decode().split("\r\n")
    assert lines[0] == "GET /mqtt HTTP/1.1"
    headers = dict(line.split(": ", 1) for line in lines[1:] if line)
    assert headers["Host"] == "[::1]:9443"
    assert headers["Upgrade"] == "websocket"
    assert headers["Sec-WebSocket-Version"] == "13"
    assert headers["Sec-WebSocket-Protocol"] == "mqtt"
    assert len(base64.b64decode(headers["Sec-WebSocket-Key"])) == 16
    assert WebSocketClient("h", 443, "/mqtt", tls=True).handshake_request().count(b"Host: h\r")


def test_bytes_after_the_upgrade_answer_are_frames() -> None:
    client, response = upgraded()
    data = response + server_frame(OP_BINARY, b"\x20\x02\x00\x00")
    assert client.feed(data[:10]) == b""
    assert not client.open
    assert client.feed(data[10:]) == b"\x20\x02\x00\x00"
    assert client.open


@pytest.mark.parametrize(
    ("response", "match"),
    [
        (b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", "refused.*404 Not Found"),
        (b"SSH-2.0-OpenSSH\r\n\r\n", "not an HTTP answer"),
        (b"HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", "Accept"),
        (b"HTTP/1.1 101 OK\r\nConnection: Upgrade\r\n\r\n", "did not switch"),
        (b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * 2000, "too long"),
    ],
)
def test_a_refused_or_broken_upgrade_is_an_error(response: bytes, match: str) -> None:
    client = WebSocketClient("h", 80, "/mqtt", tls=False)
    with pytest.raises(WebSocketError, match=match):
        client.feed(response)


def test_another_subprotocol_is_refused() -> None:
    client, response = upgraded("Sec-WebSocket-Protocol: wamp\r\n")
    with pytest.raises(WebSocketError, match="subprotocol"):
        client.feed(response)


def test_a_server_that_names_no_subprotocol_is_accepted() -> None:
    client, response = upgraded("")
    client.feed(response)
    assert client.open


@settings(deadline=None)
@given(
    st.binary(min_size=1, max_size=3000),
    st.lists(st.integers(1, 700), min_size=1, max_size=10),
    st.lists(st.integers(0, 5000), max_size=15),
    st.booleans(),
)
def test_mqtt_bytes_come_through_whatever_the_frames_and_reads(
    stream: bytes, frame_sizes: list[int], cuts: list[int], pings: bool
) -> None:
    client, response = upgraded()
    client.feed(response)
    wire = bytearray()
    index, first = 0, True
    while index < len(stream):
        size = frame_sizes[len(wire) % len(frame_sizes)]
        part = stream[index : index + size]
        index += size
        opcode = OP_BINARY if first else OP_CONTINUATION
        wire += server_frame(opcode, part, fin=index >= len(stream))
        if pings:  # Control frames may come between the fragments of a message.
            wire += server_frame(OP_PING, b"hi")
        first = False
    data = bytes(wire)
    points = sorted({cut % (len(data) + 1) for cut in cuts})
    chunks = [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]
    assert b"".join(client.feed(chunk) for chunk in chunks) == stream
    assert all(unmask(reply) == (OP_PONG, b"hi") for reply in client.replies)
    assert bool(client.replies) == pings


def test_close_frame_is_echoed_and_ends_the_stream() -> None:
    client, response = upgraded()
    client.feed(response)
    data = server_frame(OP_BINARY, b"ab") + server_frame(OP_CLOSE, (1001).to_bytes(2))
    assert client.feed(data + server_frame(OP_BINARY, b"late")) == b"ab"
    assert client.close_code == 1001
    assert [unmask(reply) for reply in client.replies] == [(OP_CLOSE, (1001).to_bytes(2))]
    assert client.feed(server_frame(OP_BINARY, b"later")) == b""


@pytest.mark.parametrize(
    ("frame", "match"),
    [
        (server_frame(OP_TEXT, b"hello"), "text frame"),
        (bytes((0x82, 0x82)) + b"abcd" + b"xy", "masked"),
        (bytes((0xC2, 0x00)), "reserved bits"),
        (server_frame(OP_PING, b"x" * 126), "control frame"),
        (server_frame(OP_PING, b"x", fin=False), "control frame"),
        (bytes((0x83, 0x00)), "opcode 3"),
    ],
)
def test_frames_rfc_6455_forbids_are_errors(frame: bytes, match: str) -> None:
    client, response = upgraded()
    client.feed(response)
    with pytest.raises(WebSocketError, match=match):
        client.feed(frame)


@pytest.mark.parametrize("size", [0, 125, 126, 65_535, 65_536])
def test_client_frames_are_masked_with_the_right_length(size: int) -> None:
    client = WebSocketClient("h", 80, "/", tls=False)
    payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
    assert unmask(client.frame(payload)) == (OP_BINARY, payload)
    assert unmask(client.close_frame()) == (OP_CLOSE, (1000).to_bytes(2))


def test_the_accept_key_is_rfc_6455s_example() -> None:
    # RFC 6455, section 1.3: the sample key and the answer a server gives to it.
    assert _accept_for(b"dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
