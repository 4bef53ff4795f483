"""Publish a burst of QoS 1 messages as fast as a socket takes them (a separate process).

Usage: python benchmarks/burst_publisher.py HOST PORT TOPIC COUNT

The packets are encoded up front and written in one go, so the publisher is never what
limits the subscribers; PUBACKs are read and counted on a thread meanwhile.
"""

from __future__ import annotations

import socket
import sys
import threading


def _string(text: str) -> bytes:
    data = text.encode()
    return len(data).to_bytes(2) + data


def _packet(first: int, body: bytes) -> bytes:
    length, header = len(body), bytearray((first,))
    while True:
        length, digit = divmod(length, 128)
        header.append(digit | 0x80 if length else digit)
        if not length:
            return bytes(header) + body


def main(host: str, port: int, topic: str, count: int) -> None:
    """Connect, publish `count` messages, wait for their PUBACKs, disconnect."""
    sock = socket.create_connection((host, port))
    sock.sendall(_packet(0x10, _string("MQTT") + b"\x04\x02\x00\x3c" + _string("")))
    if sock.recv(4)[:1] != b"\x20":
        raise SystemExit("no CONNACK")
    acked = 0

    def read_acks() -> None:
        nonlocal acked
        while acked < count and (data := sock.recv(65536)):
            acked += len(data) // 4

    reader = threading.Thread(target=read_acks)
    reader.start()
    name = _string(topic)
    sock.sendall(
        b"".join(
            _packet(0x32, name + (index % 0xFFFF + 1).to_bytes(2) + b"%08d" % index)
            for index in range(count)
        )
    )
    reader.join(120)
    sock.sendall(b"\xe0\x00")
    sock.close()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]))
