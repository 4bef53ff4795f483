"""A small asyncio MQTT 3.1.1 client for publishers, for MicroPython and CPython.

Why not umqtt.simple (the tutorial's client): its socket calls block, so while it
waits for a slow broker, a TLS handshake or a PUBACK, nothing else runs - no button
scanning, no LED, no watchdog. This client runs on asyncio streams
(asyncio.open_connection), so waiting for the network never stops the main loop.

What it does: CONNECT with a will and a timeout; PUBLISH at QoS 0 or 1, tracking
each QoS 1 message until its PUBACK and re-sending it once with DUP if the PUBACK
is late; SUBSCRIBE (waiting for the SUBACK) and incoming PUBLISH at QoS 0 or 1,
acknowledged with PUBACK; PINGREQ whenever nothing was received for half the
keepalive, so a dead link is noticed within keepalive/2 + ping_timeout seconds;
DISCONNECT. It never reconnects by itself: the caller decides when (with backoff)
and re-sends what was not acknowledged, because only the caller knows which messages
still matter.

Incoming packets are bounded: at most `max_incoming` bytes of one are kept, the rest
is read and thrown away in small pieces, so a huge message (anyone can publish one
on a public broker) costs no memory; a truncated PUBLISH is still acknowledged, or
the broker would send it again at every connect, and reported as oversized. An
exception in on_message is logged and the connection goes on.

Two tasks per connection: a reader (the only one reading the stream, as MicroPython
requires) and a keepalive/retry ticker. Writes go through one lock, because
MicroPython allows a single task waiting to write on a stream.
"""

import asyncio

from . import mqtt_packets as packets
from .ticks import ticks_diff, ticks_ms


class MQTTError(Exception):
    """The connection failed, was refused, or is gone."""


class MQTTClient:
    """One MQTT session at a time; connect() again after it is lost.

    on_ack(pid) is called for every PUBACK of a message this client tracked;
    on_lost(reason) when an established connection ends for any reason but close();
    on_message(topic, payload, retain) for each PUBLISH received (payload None if it
    was larger than max_incoming).
    """

    def __init__(
        self,
        client_id,
        host,
        port=1883,
        username=None,
        password=None,
        keepalive=30,
        ssl=None,
        server_hostname=None,
        will=None,
        connect_timeout=10,
        ack_timeout=10,
        ping_timeout=10,
        open_connection=None,
        log=None,
        max_incoming=2048,
    ):
        self.client_id = client_id
        self.host = host
        self.port = port
        self._username = username
        self._password = password
        self.keepalive = keepalive
        self._ssl = ssl
        self._server_hostname = server_hostname
        # (topic, payload, qos, retain) or None; may be replaced before each connect().
        self.will = will
        self.connect_timeout = connect_timeout
        self.ack_timeout_ms = int(ack_timeout * 1000)
        self.ping_timeout_ms = int(ping_timeout * 1000)
        self._open_connection = open_connection
        self._log = log or (lambda message: None)
        self.on_ack = None
        self.on_lost = None
        self.on_message = None
        self.max_incoming = max_incoming
        self._subscribing = {}  # pid -> [asyncio.Event, granted QoS list or None]
        self.connected = False
        self.lost_reason = None
        self._reader = None
        self._writer = None
        self._tasks = []
        self._lock = asyncio.Lock()
        self._inflight = {}  # pid -> [packet, sent_at_ticks, retries]
        self._next_pid = 0
        self._last_rx = 0
        self._last_tx = 0
        self._ping_sent_at = None
        self.pings = 0
        self.retries = 0

    # Connection ----------------------------------------------------------------------

    async def connect(self, clean_session=True):
        """Open the connection and wait for CONNACK; raise MQTTError on any failure.

        `host` may be replaced by the caller between connects (for a cached address).
        """
        if self.connected:
            raise MQTTError("already connected")
        self.lost_reason = None
        try:
            await asyncio.wait_for(self._open(clean_session), self.connect_timeout)
        except asyncio.TimeoutError:
            await self._drop_stream()
            raise MQTTError("no CONNACK within %s s" % self.connect_timeout) from None
        except MQTTError:
            await self._drop_stream()
            raise
        except (OSError, EOFError, ValueError) as err:
            await self._drop_stream()
            raise MQTTError("cannot connect: %s" % describe(err)) from err
        self.connected = True
        now = ticks_ms()
        self._last_rx = now
        self._last_tx = now
        self._ping_sent_at = None
        self._inflight = {}
        self._tasks = [
            asyncio.create_task(self._read_loop()),
            asyncio.create_task(self._tick_loop()),
        ]

    async def _open(self, clean_session):
        opener = self._open_connection or asyncio.open_connection
        if self._ssl:
            self._reader, self._writer = await opener(
                self.host,
                self.port,
                ssl=self._ssl,
                server_hostname=self._server_hostname or self.host,
            )
        else:
            self._reader, self._writer = await opener(self.host, self.port)
        will_topic = will_payload = None
        will_qos = 0
        will_retain = False
        if self.will is not None:
            will_topic, will_payload, will_qos, will_retain = self.will
        packet = packets.connect(
            self.client_id,
            keepalive=self.keepalive,
            clean_session=clean_session,
            will_topic=will_topic,
            will_payload=will_payload or b"",
            will_qos=will_qos,
            will_retain=will_retain,
            username=self._username,
            password=self._password,
        )
        self._writer.write(packet)
        await self._writer.drain()
        first, body, _whole = await read_packet(self._reader, 16)
        if first & 0xF0 != packets.CONNACK:
            raise MQTTError("expected CONNACK, got packet type 0x%02x" % first)
        _session_present, code = packets.parse_connack(body)
        if code:
            raise MQTTError("broker refused the connection: %s" % packets.connack_reason(code))

    async def disconnect(self):
        """Say goodbye (the broker then discards the will) and close."""
        if self.connected:
            try:
                await self._send(packets.DISCONNECT_PACKET)
            except (OSError, MQTTError, asyncio.TimeoutError):
                pass
        await self.close("disconnected")

    async def close(self, reason="closed"):
        """Drop the connection without DISCONNECT (the broker publishes the will)."""
        if not self.connected and self._writer is None:
            return
        await self._shutdown(reason, notify=False)

    async def _shutdown(self, reason, notify=True):
        was_connected = self.connected
        self.connected = False
        if self.lost_reason is None:
            self.lost_reason = reason
        current = asyncio.current_task()
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            if task is not current:
                task.cancel()
        await self._drop_stream()
        self._inflight = {}
        for waiter in self._subscribing.values():
            waiter[0].set()  # subscribe() sees no SUBACK and gives up.
        self._subscribing = {}
        if was_connected and notify and self.on_lost is not None:
            self.on_lost(reason)

    async def _drop_stream(self):
        writer, self._writer, self._reader = self._writer, None, None
        if writer is None:
            return
        try:
            writer.close()
            await writer.wait_closed()
        except Exception:  # Closing a broken stream may fail; it is closed either way.
            pass

    # Publishing ----------------------------------------------------------------------

    async def publish(self, topic, payload, qos=0, retain=False, pid=None):
        """Send a PUBLISH; return its packet id (0 for QoS 0).

        For QoS 1 the message counts as delivered only when on_ack(pid) is called. Pass
        a `pid` from new_pid() to know it before the PUBACK can possibly arrive.
        """
        if not self.connected:
            raise MQTTError("not connected")
        if not qos:
            pid = 0
        elif pid is None:
            pid = self.new_pid()
        packet = packets.publish(topic, payload, qos=qos, retain=retain, pid=pid)
        if qos:
            self._inflight[pid] = [packet, ticks_ms(), 0]
        await self._send(packet)
        return pid

    def in_flight(self):
        return len(self._inflight)

    async def subscribe(self, topic, qos=1, timeout=None):
        """Subscribe to one topic and wait for the SUBACK; return the granted QoS.

        Raises MQTTError if the broker refuses (0x80), the link drops or no SUBACK
        comes within `timeout` seconds (default: the ack timeout).
        """
        if not self.connected:
            raise MQTTError("not connected")
        pid = self.new_pid()
        waiter = [asyncio.Event(), None]
        self._subscribing[pid] = waiter
        try:
            await self._send(packets.subscribe(pid, topic, qos))
            try:
                await asyncio.wait_for(waiter[0].wait(), timeout or self.ack_timeout_ms / 1000)
            except asyncio.TimeoutError:
                raise MQTTError("no SUBACK for %r" % topic) from None
        finally:
            self._subscribing.pop(pid, None)
        granted = waiter[1]
        if not granted:
            raise MQTTError("subscription to %r ended with the connection" % topic)
        if granted[0] == 0x80:
            raise MQTTError("the broker refused the subscription to %r" % topic)
        return granted[0]

    def new_pid(self):
        """Reserve the next free packet id (1..65535) for a QoS 1 publish or a SUBSCRIBE."""
        for _ in range(65535):
            self._next_pid = self._next_pid % 65535 + 1
            if self._next_pid not in self._inflight and self._next_pid not in self._subscribing:
                return self._next_pid
        raise MQTTError("no free packet id")

    async def _send(self, data):
        if self._writer is None:
            raise MQTTError("not connected")
        async with self._lock:
            writer = self._writer
            if writer is None:
                raise MQTTError("not connected")
            writer.write(data)
            try:
                await asyncio.wait_for(_drain(writer), self.ack_timeout_ms / 1000)
            except asyncio.TimeoutError:
                raise MQTTError("write timed out") from None
            self._last_tx = ticks_ms()

    # Background tasks ----------------------------------------------------------------

    async def _read_loop(self):
        try:
            while True:
                first, body, whole = await read_packet(self._reader, self.max_incoming)
                self._last_rx = ticks_ms()
                kind = first & 0xF0
                if kind == packets.PUBACK:
                    self._handle_puback(packets.parse_puback(body))
                elif kind == packets.PINGRESP:
                    self._ping_sent_at = None
                elif kind == packets.PUBLISH:
                    await self._handle_publish(first, body, whole)
                elif kind == packets.SUBACK:
                    self._handle_suback(body)
                # Anything else is not for a client like this one, and ignored.
        except asyncio.CancelledError:
            raise
        except EOFError:
            await self._shutdown("connection closed by the broker")
        except (OSError, ValueError, MQTTError) as err:
            await self._shutdown("read failed: %s" % describe(err))

    async def _handle_publish(self, first, body, whole):
        try:
            topic, payload, qos, retain, _dup, pid = packets.parse_publish(first, body)
        except ValueError as err:
            self._log("MQTT: ignored a malformed PUBLISH: %s" % describe(err))
            return
        if qos == 2:
            return  # Never subscribed for QoS 2: a broker that sends it is broken.
        if self.on_message is not None:
            try:
                self.on_message(topic, payload if whole else None, retain)
            except Exception as err:  # Hostile input must not end the connection.
                self._log("MQTT: message handler failed: %s" % describe(err))
        if qos == 1:
            await self._send(packets.puback(pid))

    def _handle_suback(self, body):
        pid, granted = packets.parse_suback(body)
        waiter = self._subscribing.get(pid)
        if waiter is not None:
            waiter[1] = granted
            waiter[0].set()

    def _handle_puback(self, pid):
        if self._inflight.pop(pid, None) is None:
            return  # A late PUBACK for a message already given up on.
        if self.on_ack is not None:
            self.on_ack(pid)

    async def _tick_loop(self):
        try:
            while self.connected:
                await asyncio.sleep(0.5)
                reason = await self._tick(ticks_ms())
                if reason is not None:
                    await self._shutdown(reason)
                    return
        except asyncio.CancelledError:
            raise
        except (OSError, MQTTError, asyncio.TimeoutError) as err:
            await self._shutdown("write failed: %s" % describe(err))

    async def _tick(self, now):
        """Ping and retry; return why the link is dead, or None."""
        if self._ping_sent_at is not None:
            if ticks_diff(now, self._ping_sent_at) > self.ping_timeout_ms:
                return "no PINGRESP within %d ms" % self.ping_timeout_ms
        elif self.keepalive and (
            ticks_diff(now, self._last_rx) >= self.keepalive * 500
            or ticks_diff(now, self._last_tx) >= self.keepalive * 500
        ):
            self._ping_sent_at = now
            self.pings += 1
            await self._send(packets.PINGREQ_PACKET)
        for pid in list(self._inflight):
            entry = self._inflight.get(pid)
            if entry is None or ticks_diff(now, entry[1]) < self.ack_timeout_ms:
                continue
            if entry[2] >= 1:
                return "no PUBACK for packet %d after a retry" % pid
            # A broker never drops a QoS 1 message on a live connection, so a late PUBACK
            # means a slow or dead link: re-send once with DUP, then give up on the link.
            entry[0] = packets.with_dup(entry[0])
            entry[1] = now
            entry[2] += 1
            self.retries += 1
            self._log("no PUBACK for packet %d yet: re-sending it with DUP" % pid)
            await self._send(entry[0])
        return None


async def _drain(writer):
    await writer.drain()


async def read_packet(reader, limit=None):
    """Read one packet; return (first byte, body bytes, whole).

    With `limit`, at most that many bytes of the body are kept and `whole` is False
    when there were more; the rest is read and dropped in small pieces.
    """
    header = await reader.readexactly(1)
    length = 0
    shift = 0
    for _ in range(4):
        byte = (await reader.readexactly(1))[0]
        length |= (byte & 0x7F) << shift
        if not byte & 0x80:
            break
        shift += 7
    else:
        raise packets.PacketError("remaining length longer than 4 bytes")
    if limit is None or length <= limit:
        body = await reader.readexactly(length) if length else b""
        return header[0], body, True
    body = await reader.readexactly(limit)
    left = length - limit
    while left:
        piece = min(left, 256)
        await reader.readexactly(piece)
        left -= piece
    return header[0], body, False


def describe(err):
    """A short text for an exception, on both Pythons."""
    text = str(err)
    name = type(err).__name__
    if isinstance(err, OSError) and err.args and isinstance(err.args[0], int) and not text:
        text = "errno %d" % err.args[0]
    return "%s: %s" % (name, text) if text else name
