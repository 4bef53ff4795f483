"""Test doubles that run under MicroPython and CPython alike.

An in-memory MQTT broker (FakeBroker) reached through in-memory streams, so the
firmware's asyncio client and the whole Bell run without sockets (the MicroPython
WebAssembly build has none). Its packet decoding is written independently of
pico_bell.mqtt_packets, so the two check each other.
"""

import asyncio
import struct
import time

try:
    from time import sleep_ms
except ImportError:  # CPython

    def sleep_ms(ms):
        time.sleep(ms / 1000)


from pico_bell.board import Board
from pico_bell.settings import Settings
from pico_bell.ticks import ticks_diff, ticks_ms
from pico_host.fakes import FakeFlash, FakeMachine, FakeNetwork


class Pipe:
    """Bytes flowing one way; readers wait for data or the end."""

    def __init__(self):
        self.buffer = b""
        self.closed = False
        self.event = asyncio.Event()

    def feed(self, data):
        self.buffer += bytes(data)
        self.event.set()

    def close(self):
        self.closed = True
        self.event.set()

    async def readexactly(self, count):
        while len(self.buffer) < count:
            if self.closed:
                raise EOFError
            self.event.clear()
            await self.event.wait()
        data = self.buffer[:count]
        self.buffer = self.buffer[count:]
        return data


class StreamEnd:
    """One side of a connection, with the asyncio stream methods the client uses."""

    def __init__(self, incoming, outgoing):
        self.incoming = incoming
        self.outgoing = outgoing

    async def readexactly(self, count):
        return await self.incoming.readexactly(count)

    def write(self, data):
        if self.outgoing.closed:
            raise OSError(32, "EPIPE")
        self.outgoing.feed(data)

    async def drain(self):
        await asyncio.sleep(0)

    def close(self):
        self.outgoing.close()
        self.incoming.close()

    async def wait_closed(self):
        await asyncio.sleep(0)


def encode_length(length):
    out = b""
    while True:
        byte = length % 128
        length //= 128
        out += bytes([byte | 128 if length else byte])
        if not length:
            return out


async def read_packet(stream):
    first = (await stream.readexactly(1))[0]
    length = 0
    multiplier = 1
    while True:
        byte = (await stream.readexactly(1))[0]
        length += (byte & 127) * multiplier
        multiplier *= 128
        if byte < 128:
            break
    body = await stream.readexactly(length) if length else b""
    return first, body


def _take_string(body, offset):
    length = struct.unpack(">H", body[offset : offset + 2])[0]
    return body[offset + 2 : offset + 2 + length], offset + 2 + length


def parse_connect(body):
    """Decode a CONNECT body into a dict (independently of the firmware)."""
    protocol, offset = _take_string(body, 0)
    level = body[offset]
    flags = body[offset + 1]
    keepalive = struct.unpack(">H", body[offset + 2 : offset + 4])[0]
    client_id, offset = _take_string(body, offset + 4)
    result = {
        "protocol": protocol,
        "level": level,
        "clean": bool(flags & 2),
        "keepalive": keepalive,
        "client_id": client_id.decode(),
        "will": None,
        "username": None,
        "password": None,
    }
    if flags & 4:
        topic, offset = _take_string(body, offset)
        message, offset = _take_string(body, offset)
        result["will"] = (topic.decode(), message, (flags >> 3) & 3, bool(flags & 32))
    if flags & 128:
        user, offset = _take_string(body, offset)
        result["username"] = user.decode()
    if flags & 64:
        password, offset = _take_string(body, offset)
        result["password"] = password.decode()
    if offset != len(body):
        raise ValueError("trailing bytes in CONNECT")
    return result


class Message:
    def __init__(self, topic, payload, *, qos, retain, dup, pid):
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
        self.dup = dup
        self.pid = pid

    def __repr__(self):
        return f"<Message {self.topic} {self.payload!r} qos={self.qos} dup={self.dup}>"


def parse_publish(first, body):
    qos = (first >> 1) & 3
    topic, offset = _take_string(body, 0)
    pid = 0
    if qos:
        pid = struct.unpack(">H", body[offset : offset + 2])[0]
        offset += 2
    return Message(
        topic.decode(), body[offset:], qos=qos, retain=bool(first & 1), dup=bool(first & 8), pid=pid
    )


class FakeBroker:
    """An MQTT 3.1.1 broker in memory, with knobs for the failures we test.

    ack: answer QoS 1 PUBLISH with PUBACK; answer_pings: answer PINGREQ;
    refuse: a CONNACK return code; available: accept connections at all.
    """

    def __init__(self):
        self.ack = True
        self.answer_pings = True
        self.refuse = 0
        self.available = True
        self.connects = []  # parse_connect() dicts
        self.hosts = []  # The address of every connection attempt.
        self.messages = []  # Every PUBLISH received, including duplicates.
        self.retained = {}
        self.wills = []  # Will messages published because a client vanished.
        self.pings = 0
        self.disconnects = 0
        self.subscriptions = []  # (topic, qos) of every SUBSCRIBE.
        self.client_acks = []  # Packet ids the client acknowledged (PUBACK).
        self.answer_subscribe = True
        self._subscribers = []  # (end, topic) of live subscriptions.
        self._next_pid = 0
        self._ends = []
        self._tasks = []

    async def open_connection(self, host, port, ssl=None, server_hostname=None):
        self.hosts.append(host)
        if not self.available:
            raise OSError(111, "ECONNREFUSED")
        to_broker, to_client = Pipe(), Pipe()
        client = StreamEnd(to_client, to_broker)
        server = StreamEnd(to_broker, to_client)
        self._ends.append(server)
        self._tasks.append(asyncio.create_task(self._serve(server)))
        return client, client

    def publishes(self, topic):
        return [message for message in self.messages if message.topic == topic]

    @property
    def open_connections(self):
        return len([end for end in self._ends if not end.incoming.closed])

    async def _serve(self, end):
        connect = None
        clean_exit = False
        try:
            while True:
                first, body = await read_packet(end)
                kind = first & 0xF0
                if kind == 0x10:
                    connect = parse_connect(body)
                    self.connects.append(connect)
                    end.write(b"\x20\x02\x00" + bytes([self.refuse]))
                    if self.refuse:
                        end.close()
                        return
                elif kind == 0x30:
                    message = parse_publish(first, body)
                    self.messages.append(message)
                    if message.retain:
                        self.retained[message.topic] = message.payload
                    if message.qos and self.ack:
                        end.write(b"\x40\x02" + struct.pack(">H", message.pid))
                elif kind == 0x80:
                    pid = struct.unpack(">H", body[:2])[0]
                    topic, offset = _take_string(body, 2)
                    qos = body[offset]
                    self.subscriptions.append((topic.decode(), qos))
                    if self.answer_subscribe:
                        end.write(b"\x90\x03" + struct.pack(">H", pid) + bytes([min(qos, 1)]))
                        self._subscribers.append((end, topic.decode()))
                        retained = self.retained.get(topic.decode())
                        if retained is not None:
                            self._deliver(end, topic.decode(), retained, 1, True)
                elif kind == 0x40:
                    self.client_acks.append(struct.unpack(">H", body)[0])
                elif kind == 0xC0:
                    self.pings += 1
                    if self.answer_pings:
                        end.write(b"\xd0\x00")
                elif kind == 0xE0:
                    self.disconnects += 1
                    clean_exit = True
                    end.close()
                    return
        except (EOFError, OSError):
            pass
        finally:
            if connect is not None and connect["will"] is not None and not clean_exit:
                topic, payload, _qos, retain = connect["will"]
                self.wills.append((topic, payload))
                if retain:
                    self.retained[topic] = payload

    def _deliver(self, end, topic, payload, qos, retain):
        topic_bytes = topic.encode()
        body = struct.pack(">H", len(topic_bytes)) + topic_bytes
        if qos:
            self._next_pid = self._next_pid % 65535 + 1
            body += struct.pack(">H", self._next_pid)
        body += payload
        first = 0x30 | (qos << 1) | (1 if retain else 0)
        end.write(bytes([first]) + encode_length(len(body)) + body)

    def send(self, topic, payload, qos=1, retain=False):
        """Publish to the clients subscribed to `topic` (and keep it if retained)."""
        if retain:
            self.retained[topic] = payload
        for end, subscribed in self._subscribers:
            if subscribed == topic and not end.outgoing.closed:
                self._deliver(end, topic, payload, qos, False)

    def drop_connections(self):
        """Close every open connection, as a broker that stops does."""
        for end in self._ends:
            end.close()

    async def close(self):
        self.drop_connections()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:  # noqa: SIM105 - MicroPython has no contextlib.suppress
                await task
            except asyncio.CancelledError:
                pass


class BoardOnFakes(Board):
    """A Board over the fake machine and network that connects to a FakeBroker.

    DNS: getaddrinfo() blocks for `dns_delay_ms` (servicing timers, as MicroPython's
    wait loop does) and then fails if `dns_fails`. NTP: `ntp_replies` holds what the
    time server answers, one item per request (None: no answer).
    """

    def __init__(self, broker, unique_id=b"\xe6\x61\x41\x04\x03\x2f\x5a\x2b"):
        super().__init__(FakeMachine(unique_id), FakeNetwork())
        self.broker = broker
        self.leds = []
        self.flash = FakeFlash()
        self.dns_delay_ms = 0
        self.dns_fails = False
        self.lookups = []
        self.ntp_replies = []
        self.ntp_requests = []

    def read_file(self, path):
        return self.flash.read_file(path)

    def write_file(self, path, data):
        self.flash.write_file(path, data)

    def getaddrinfo(self, host, port):
        self.lookups.append(host)
        started = ticks_ms()
        while ticks_diff(ticks_ms(), started) < self.dns_delay_ms:
            self.machine.service_timers()
            sleep_ms(5)
        if self.dns_fails:
            raise OSError(-2, "name not found")
        return f"192.0.2.{len(self.lookups)}"

    def tls_context(self, ca_file=None):
        return ("tls context", ca_file)

    async def udp_request(self, address, port, data, timeout_ms):
        self.ntp_requests.append((address, port, bytes(data)))
        reply = self.ntp_replies.pop(0) if self.ntp_replies else None
        if reply is None:
            await asyncio.sleep(timeout_ms / 1000)
        return reply

    def random_bytes(self, count):
        return b"\x12\x34\x56\x78\x9a"[:count]

    def led(self, on, pin="LED"):
        self.leds.append(on)
        super().led(on, pin)

    async def open_connection(self, host, port, ssl=None, server_hostname=None):
        if not self.network.available:
            raise OSError(113, "EHOSTUNREACH")
        return await self.broker.open_connection(host, port, ssl, server_hostname)


# A key for tests, as Home Assistant's config flow would generate one.
TEST_KEY = "3f1c0e5a9b7d2c4e6f8a1b3c5d7e9f0a2b4c6d8e0f1a3b5c7d9e1f2a4b6c8d9a"


def fast_settings(**values):
    """Settings with short times, so tests of real-time behaviour stay quick."""
    base = {
        "WIFI_SSID": "test-wifi",
        "WIFI_PASSWORD": "secret",
        "BROKER": "broker.test",
        "TOPIC": "bell",
        "LONG_PRESS_MS": 300,
        "KEEPALIVE_S": 5,
        "ACK_TIMEOUT_S": 0.4,
        "CONNECT_TIMEOUT_S": 1,
        "BACKOFF_MIN_S": 0.05,
        "BACKOFF_MAX_S": 0.2,
        "WIFI_TIMEOUT_S": 1,
    }
    base.update(values)
    return Settings(base)


async def press(machine, pin, hold=0.08, pressed_level=1):
    """Press and release a button wired to `pin`, with contact bounce."""
    up = 1 - pressed_level
    for level in (pressed_level, up, pressed_level):
        machine.drive(pin, level)
    await asyncio.sleep(hold)
    for level in (up, pressed_level, up):
        machine.drive(pin, level)


def raises(exception, function, *args, **kwargs):
    """Return the exception `function(*args)` raised (pytest.raises needs pytest)."""
    try:
        function(*args, **kwargs)
    except exception as err:
        return err
    raise AssertionError(f"{function.__name__} did not raise {exception.__name__}")


async def araises(exception, awaitable):
    """Return the exception awaiting `awaitable` raised."""
    try:
        await awaitable
    except exception as err:
        return err
    raise AssertionError(f"did not raise {exception.__name__}")


async def wait_until(condition, timeout=5.0, step=0.01):
    waited = 0.0
    while not condition():
        if waited >= timeout:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(step)
        waited += step
