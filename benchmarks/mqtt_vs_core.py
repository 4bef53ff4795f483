"""blynk_bell's MQTT link against Home Assistant's own MQTT integration, same broker, same run.

Run with `scripts/bench-mqtt` (it runs this file under pytest, which gives it a Home
Assistant). One Home Assistant hosts both: the core MQTT integration with an MQTT event
entity, and blynk_bell with a keyed bell; one Mosquitto serves both. Measured:

1. Press -> state: a press is published (QoS 1) and timed until the event entity's state
   changes: the bell's table entity for ours (a signed press, checked, paced, recorded),
   the MQTT event entity for core (a JSON `event_type`). The two alternate, one at a time
   on separate topics, so neither waits for the other, and the first of each pair swaps.
2. Message -> callback: the same at the level of the client alone: our `MqttLink`, core's
   `mqtt.async_subscribe`, and aiomqtt 2.5 (`async for message in client.messages`), the
   library the issue proposed; and, as the floor no client can go below, a bare asyncio
   protocol that notes the time its socket has bytes (broker, kernel and event loop).
3. Burst: another process publishes BURST QoS 1 messages at once; each client's rate is
   from its first message to its last. The rounds rotate through the three clients.

Mosquitto keeps its default of 20 QoS 1 messages in flight per client, so a client that
acknowledges a whole read at once gets the next messages sooner: that is part of what is
measured. Nothing may be lost.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
import contextlib
from dataclasses import dataclass, field
import json
import os
from pathlib import Path
import statistics
import sys
import time
from typing import Any
from unittest.mock import patch

import aiomqtt
from homeassistant.components import mqtt as core_mqtt
from homeassistant.const import EVENT_STATE_CHANGED, EVENT_STATE_REPORTED
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry  # type: ignore[import-untyped]

from blynk_emulator import packets
from custom_components.blynk_bell.const import (
    CONF_BELL_KEY,
    CONF_BLYNK_SERVER,
    CONF_BROKER,
    CONF_BUTTONS,
    CONF_PASSWORD,
    CONF_PORT,
    CONF_TLS,
    CONF_TOKEN,
    CONF_TOPIC,
    CONF_USERNAME,
    DEFAULT_BLYNK_SERVER,
    DOMAIN,
)
from custom_components.blynk_bell.protocol.mqtt import Endpoint, Message, MqttLink, SessionOptions
from custom_components.blynk_bell.protocol.signing import key_bytes, press_text, sign
from tests.mosquitto import Mosquitto, free_port

SAMPLES = int(os.environ.get("BENCH_SAMPLES", "300"))
BURST = int(os.environ.get("BENCH_BURST", "20000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
# Between samples, so the loop is idle when each one starts, and each table is pressed
# every 8 gaps: slower than its pace of 2 a second, which would hold presses back.
GAP = 0.08
LINK_GAP = 0.02  # The same, between messages to the clients alone.
KEY = "b7" * 32
TOPIC = "bench/bell"
TABLES = 4  # The default.
CORE_TOPIC = "bench/core"
CORE_EVENT = "event.bench_core"
PUBLISHER = Path(__file__).with_name("burst_publisher.py")


@dataclass
class Timings:
    """Delays of one contender, in seconds."""

    name: str
    delays: list[float] = field(default_factory=list)

    def quantile(self, q: float) -> float:
        """Return the `q` quantile of the delays."""
        ordered = sorted(self.delays)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def line(self) -> str:
        """Say it in one line."""
        return (
            f"  {self.name:<24} p50 {self.quantile(0.5) * 1000:6.3f} ms   "
            f"p99 {self.quantile(0.99) * 1000:6.3f} ms   ({len(self.delays)} samples)"
        )


class Publisher:
    """A plain MQTT connection on the loop that publishes and notes when it did."""

    def __init__(self, broker: Mosquitto) -> None:
        """Prepare; `start` connects."""
        self._broker = broker
        self._writer: asyncio.StreamWriter | None = None
        self._drain: asyncio.Task[None] | None = None
        self._packet_id = 0

    async def start(self) -> None:
        """Connect, and read (and forget) the PUBACKs from now on."""
        reader, self._writer = await asyncio.open_connection(self._broker.host, self._broker.port)
        self._writer.write(packets.encode_connect("bench-publisher", keepalive=600))
        await reader.readexactly(4)
        self._drain = asyncio.get_running_loop().create_task(self._read(reader))

    async def _read(self, reader: asyncio.StreamReader) -> None:
        while await reader.read(65536):
            pass

    def publish(self, topic: str, payload: bytes) -> float:
        """Write one QoS 1 PUBLISH; return the time just before it left."""
        if self._writer is None:
            raise RuntimeError("not started")
        self._packet_id = self._packet_id % 0xFFFF + 1
        data = packets.encode_publish(topic, payload, 1, self._packet_id)
        sent = time.perf_counter()
        self._writer.write(data)
        return sent

    async def stop(self) -> None:
        """Disconnect."""
        if self._writer is not None:
            self._writer.close()
        if self._drain is not None:
            self._drain.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._drain


class Arrival:
    """Resolves when a message or state is first seen; the time is taken in the callback."""

    def __init__(self) -> None:
        """Expect nothing yet."""
        self.future: asyncio.Future[float] | None = None

    def arrived(self) -> None:
        """Note the time (called from the contender's callback)."""
        now = time.perf_counter()
        if self.future is not None and not self.future.done():
            self.future.set_result(now)

    async def timed(self, send: Callable[[], float], timeout: float = 5.0) -> float | None:
        """Send, and return how long until the arrival (None: it never came)."""
        self.future = waiting = asyncio.get_running_loop().create_future()
        sent = send()
        try:
            async with asyncio.timeout(timeout):
                arrived: float = await waiting
        except TimeoutError:
            return None
        return arrived - sent


class BurstCounter:
    """Counts a burst's messages and times the first and the last."""

    def __init__(self, name: str, topic: str) -> None:
        """Count for `name`, which subscribed to `topic`."""
        self.name = name
        self.topic = topic
        self.count = 0
        self.first = self.last = 0.0
        self.done = asyncio.Event()
        self.rates: list[float] = []
        self.lost = 0

    def got(self) -> None:
        """Count one message (called from the contender's callback)."""
        now = time.perf_counter()
        if self.count == 0:
            self.first = now
        self.count += 1
        self.last = now
        if self.count >= BURST:
            self.done.set()

    async def run(self, broker: Mosquitto) -> None:
        """Have another process publish a burst; wait until all of it arrived."""
        self.count = 0
        self.done.clear()
        process = await asyncio.create_subprocess_exec(
            sys.executable, str(PUBLISHER), broker.host, str(broker.port), self.topic, str(BURST)
        )
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(120):
                await self.done.wait()
        await process.wait()
        await asyncio.sleep(0.5)  # Late or doubled messages would show up here.
        if self.count > 1:
            self.rates.append((self.count - 1) / (self.last - self.first))
        self.lost += max(0, BURST - self.count)

    @property
    def rate(self) -> float:
        """Return the median rate, in messages a second."""
        return statistics.median(self.rates) if self.rates else 0.0

    def line(self) -> str:
        """Say it in one line."""
        return f"  {self.name:<24} {self.rate:9,.0f} messages/s   lost {self.lost}"


def signed_press(table: int, seq: int) -> bytes:
    """Return a press of `table` as the keyed bell signs it."""
    press = {"button": table, "event": "press", "boot": 1, "seq": seq, "age_ms": 0}
    text = press_text(TOPIC, button=table, event="press", boot=1, seq=seq, age_ms=0)
    return json.dumps({**press, "sig": sign(key_bytes(KEY), text)}).encode()


async def until(condition: Callable[[], object], timeout: float = 10) -> None:
    """Wait until `condition` holds."""
    async with asyncio.timeout(timeout):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.02)


async def set_up_core(hass: HomeAssistant, broker: Mosquitto) -> None:
    """Home Assistant's MQTT integration with an MQTT event entity on CORE_TOPIC."""
    assert await async_setup_component(
        hass, "http", {"http": {"server_host": "127.0.0.1", "server_port": free_port()}}
    )
    yaml = {
        "mqtt": {
            "event": [
                {
                    "name": "Bench core",
                    "unique_id": "bench_core",
                    "state_topic": CORE_TOPIC,
                    "event_types": ["press"],
                    "qos": 1,
                }
            ]
        }
    }
    MockConfigEntry(
        domain=core_mqtt.DOMAIN, data={"broker": broker.host, "port": broker.port}
    ).add_to_hass(hass)
    # The YAML a user would write, without writing a configuration.yaml.
    with patch("homeassistant.config.load_yaml_config_file", return_value=yaml):
        assert await async_setup_component(hass, core_mqtt.DOMAIN, yaml)
        await hass.async_block_till_done()


async def set_up_ours(hass: HomeAssistant, broker: Mosquitto) -> MockConfigEntry:
    """blynk_bell with a keyed bell of TABLES tables on TOPIC."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="bench",
        data={
            CONF_BROKER: broker.host,
            CONF_PORT: broker.port,
            CONF_USERNAME: "",
            CONF_PASSWORD: "",
            CONF_TLS: False,
            CONF_TOPIC: TOPIC,
            CONF_TOKEN: "",
            CONF_BLYNK_SERVER: DEFAULT_BLYNK_SERVER,
            CONF_BELL_KEY: KEY,
        },
        options={CONF_BUTTONS: TABLES},
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    await until(lambda: entry.runtime_data.bell.available)
    return entry


class Bench:
    """The three measurements, in one Home Assistant, on one Mosquitto."""

    def __init__(self, hass: HomeAssistant, broker: Mosquitto, publisher: Publisher) -> None:
        """Measure on `broker`, publishing with `publisher`."""
        self.hass = hass
        self.broker = broker
        self.publisher = publisher
        self.seq = 0
        self.ours = Timings("blynk_bell event entity")
        self.core = Timings("core MQTT event entity")
        self.clients = [
            Timings("blynk_bell MqttLink"),
            Timings("core MQTT client"),
            Timings("aiomqtt 2.5"),
        ]
        self.bursts = [
            BurstCounter("blynk_bell MqttLink", "bench/burst/link"),
            BurstCounter("core MQTT client", "bench/burst/core"),
            BurstCounter("aiomqtt 2.5", "bench/burst/aiomqtt"),
        ]
        self.arrivals = [Arrival(), Arrival(), Arrival(), Arrival()]
        self.floor = Timings("bare socket (the floor)")
        self.writes = {"ours": 0, "core": 0, "ours_unchanged": 0}

    def _press(self) -> float:
        self.seq += 1
        return self.publisher.publish(TOPIC, signed_press(self.seq % TABLES + 1, self.seq))

    def _core_press(self) -> float:
        return self.publisher.publish(CORE_TOPIC, json.dumps({"event_type": "press"}).encode())

    async def press_to_state(self) -> None:
        """Time presses until the event entities' states change, alternating."""
        ours, core = Arrival(), Arrival()

        @callback
        def state_changed(event: Event[EventStateChangedData]) -> None:
            entity_id = event.data["entity_id"]
            if entity_id == CORE_EVENT:
                core.arrived()
                self.writes["core"] += 1
            elif entity_id.startswith("event.service_bell_table_"):
                ours.arrived()
            if "service_bell" in entity_id:
                self.writes["ours"] += 1

        @callback
        def ours_only(data: Any) -> bool:
            return "service_bell" in data["entity_id"]

        @callback
        def state_reported(_event: Event[Any]) -> None:
            self.writes["ours_unchanged"] += 1

        unsubscribe = self.hass.bus.async_listen(EVENT_STATE_CHANGED, state_changed)
        unreported = self.hass.bus.async_listen(
            EVENT_STATE_REPORTED, state_reported, event_filter=ours_only
        )
        await until(lambda: self.hass.states.get(CORE_EVENT) is not None)
        pair = [(self.ours, ours, self._press), (self.core, core, self._core_press)]
        for sample in range(-3, SAMPLES):  # Three rounds to warm up.
            for timings, arrival, send in pair if sample % 2 else pair[::-1]:
                delay = await arrival.timed(send)
                if delay is not None and sample >= 0:
                    timings.delays.append(delay)
                await asyncio.sleep(GAP)
            if sample == -1:  # Count the measured presses only.
                self.writes = dict.fromkeys(self.writes, 0)
        unsubscribe()
        unreported()

    def on_link_message(self, message: Message) -> None:
        """Our link's callback."""
        if message.topic == "bench/burst/link":
            self.bursts[0].got()
        else:
            self.arrivals[0].arrived()

    @callback
    def on_core_latency(self, _message: Any) -> None:
        """Core's callback for the latency topic."""
        self.arrivals[1].arrived()

    @callback
    def on_core_burst(self, _message: Any) -> None:
        """Core's callback for the burst topic."""
        self.bursts[1].got()

    async def aiomqtt_client(self, ready: asyncio.Event) -> None:
        """aiomqtt, as its documentation shows it (its queue unbounded: nothing dropped)."""
        async with aiomqtt.Client(
            self.broker.host, self.broker.port, identifier="bench-aiomqtt"
        ) as client:
            await client.subscribe("bench/latency/aiomqtt", 1)
            await client.subscribe("bench/burst/aiomqtt", 1)
            ready.set()
            async for message in client.messages:
                if message.topic.value == "bench/burst/aiomqtt":
                    self.bursts[2].got()
                else:
                    self.arrivals[2].arrived()

    async def clients_alone(self) -> None:
        """Message -> callback and bursts, for our link, core's client and aiomqtt."""
        broker = self.broker
        link = MqttLink(
            Endpoint(broker.host, broker.port),
            SessionOptions(
                client_id="bench-link",
                subscriptions=(("bench/latency/link", 1), ("bench/burst/link", 1)),
            ),
            name="bench",
            on_message=self.on_link_message,
        )
        link.start()
        assert await link.async_wait_connected(5)
        await core_mqtt.async_subscribe(self.hass, "bench/latency/core", self.on_core_latency, 1)
        await core_mqtt.async_subscribe(self.hass, "bench/burst/core", self.on_core_burst, 1)
        floor, _protocol = await self._bare_subscriber()
        ready = asyncio.Event()
        task = asyncio.get_running_loop().create_task(self.aiomqtt_client(ready))
        await ready.wait()
        await asyncio.sleep(1)  # Core subscribes after a short cool-down.
        try:
            await self._message_to_callback()
            for round_ in range(ROUNDS):
                for counter in self.bursts[round_ % 3 :] + self.bursts[: round_ % 3]:
                    await counter.run(broker)
        finally:
            floor.close()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await link.async_stop()

    async def _bare_subscriber(self) -> tuple[asyncio.BaseTransport, asyncio.BaseProtocol]:
        """Subscribe a bare socket to the floor's topic (QoS 0: it never acknowledges)."""
        arrival = self.arrivals[3]

        class Bare(asyncio.Protocol):
            def data_received(self, data: bytes) -> None:
                arrival.arrived()

        loop = asyncio.get_running_loop()
        transport, protocol = await loop.create_connection(Bare, self.broker.host, self.broker.port)
        transport.write(packets.encode_connect("bench-floor", keepalive=600))
        transport.write(packets.encode_subscribe(1, [("bench/latency/floor", 0)]))
        await asyncio.sleep(0.2)
        return transport, protocol

    async def _message_to_callback(self) -> None:
        topics = [
            "bench/latency/link",
            "bench/latency/core",
            "bench/latency/aiomqtt",
            "bench/latency/floor",
        ]
        contenders = list(zip([*self.clients, self.floor], self.arrivals, topics, strict=True))
        for sample in range(-3, SAMPLES):
            turn = contenders[sample % 4 :] + contenders[: sample % 4]
            for contender, arrival, topic in turn:

                def send(topic: str = topic) -> float:
                    return self.publisher.publish(topic, b"ping")

                delay = await arrival.timed(send)
                if delay is not None and sample >= 0:
                    contender.delays.append(delay)
                await asyncio.sleep(LINK_GAP)

    def report(self) -> str:
        """Return the figures, with the ratios against core."""
        p50 = self.ours.quantile(0.5) / self.core.quantile(0.5)
        p99 = self.ours.quantile(0.99) / self.core.quantile(0.99)
        link, core, aio = self.bursts
        per_press = {kind: count / SAMPLES for kind, count in self.writes.items()}
        writes = (
            f"  state changes per press: ours {per_press['ours']:.1f} (and "
            f"{per_press['ours_unchanged']:.1f} states written unchanged), "
            f"core {per_press['core']:.1f}"
        )
        ours_link, core_link = self.clients[0], self.clients[1]
        link_p50 = ours_link.quantile(0.5) / core_link.quantile(0.5)
        link_p99 = ours_link.quantile(0.99) / core_link.quantile(0.99)
        ratios = f"ours / core: {link.rate / core.rate:.2f} x"
        ratios += f", aiomqtt / core: {aio.rate / core.rate:.2f} x"
        return "\n".join(
            [
                "",
                f"bench: press -> state, {SAMPLES} presses each, interleaved",
                self.ours.line(),
                self.core.line(),
                f"  ours / core: p50 {p50:.2f} x, p99 {p99:.2f} x",
                writes,
                f"bench: message -> callback, {SAMPLES} messages each, interleaved",
                *(timings.line() for timings in self.clients),
                self.floor.line(),
                f"  ours / core: p50 {link_p50:.2f} x, p99 {link_p99:.2f} x",
                f"bench: burst of {BURST:,} QoS 1 messages, median of {ROUNDS} rounds",
                *(counter.line() for counter in self.bursts),
                f"  {ratios}",
            ]
        )


@pytest.fixture
async def broker(socket_enabled: None, tmp_path: Path) -> AsyncIterator[Mosquitto]:
    """Mosquitto, with room to queue a whole burst for a slow subscriber."""
    mosquitto = Mosquitto(tmp_path, ["max_queued_messages 1000000"])
    await mosquitto.start()
    yield mosquitto
    await mosquitto.stop()


async def test_benchmark(
    hass: HomeAssistant,
    enable_custom_integrations: None,
    broker: Mosquitto,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Measure, print, and check that nothing was lost."""
    await set_up_core(hass, broker)
    entry = await set_up_ours(hass, broker)
    publisher = Publisher(broker)
    await publisher.start()
    bench = Bench(hass, broker, publisher)
    try:
        await bench.press_to_state()
        await bench.clients_alone()
    finally:
        await publisher.stop()
        await hass.config_entries.async_unload(entry.entry_id)
    with capsys.disabled():
        print(bench.report())
    assert all(counter.lost == 0 for counter in bench.bursts)
    assert len(bench.ours.delays) == len(bench.core.delays) == SAMPLES
