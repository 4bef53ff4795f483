"""The asyncio MQTT client against an in-memory broker, on both Pythons."""

import asyncio

from pico_bell.mqtt import MQTTClient, MQTTError

from .support import FakeBroker, araises, wait_until


def client_for(broker, **options):
    settings = {
        "keepalive": 30,
        "will": ("bell/status", b"offline", 1, True),
        "connect_timeout": 1,
        "ack_timeout": 0.3,
        "ping_timeout": 0.3,
        "open_connection": broker.open_connection,
    }
    settings.update(options)
    return MQTTClient("bell-test", "broker.test", 1883, **settings)


async def test_connect_sends_will_and_clean_session():
    broker = FakeBroker()
    client = client_for(broker, username="u", password="p")
    try:
        await client.connect()
        assert client.connected
        connect = broker.connects[0]
        assert connect["client_id"] == "bell-test"
        assert connect["clean"]
        assert connect["keepalive"] == 30
        assert connect["will"] == ("bell/status", b"offline", 1, True)
        assert (connect["username"], connect["password"]) == ("u", "p")
    finally:
        await client.close()
        await broker.close()


async def test_refused_connection_raises_with_the_reason():
    broker = FakeBroker()
    broker.refuse = 5
    client = client_for(broker)
    try:
        err = await araises(MQTTError, client.connect())
        assert "not authorized" in str(err)
        assert not client.connected
    finally:
        await broker.close()


async def test_unreachable_broker_raises():
    broker = FakeBroker()
    broker.available = False
    client = client_for(broker)
    err = await araises(MQTTError, client.connect())
    assert "cannot connect" in str(err)


async def test_qos1_publish_is_acknowledged():
    broker = FakeBroker()
    client = client_for(broker)
    acks = []
    client.on_ack = acks.append
    try:
        await client.connect()
        pid = await client.publish("bell", b"one", qos=1)
        await wait_until(lambda: acks == [pid])
        assert client.in_flight() == 0
        assert broker.messages[0].payload == b"one"
        assert broker.messages[0].qos == 1
        assert await client.publish("bell", b"zero", qos=0) == 0
        await wait_until(lambda: len(broker.messages) == 2)
        assert broker.messages[1].qos == 0
    finally:
        await client.close()
        await broker.close()


async def test_a_late_puback_means_one_dup_resend_then_a_dead_link():
    broker = FakeBroker()
    broker.ack = False
    client = client_for(broker)
    lost = []
    client.on_lost = lost.append
    try:
        await client.connect()
        pid = await client.publish("bell", b"press", qos=1)
        await wait_until(lambda: len(broker.messages) == 2, timeout=3)
        first, second = broker.messages
        assert (first.dup, second.dup) == (False, True)
        assert first.pid == second.pid == pid
        assert second.payload == first.payload
        await wait_until(lambda: lost, timeout=3)
        assert "PUBACK" in lost[0]
        assert not client.connected
        assert client.retries == 1
        assert broker.wills == [("bell/status", b"offline")]  # No DISCONNECT was sent.
    finally:
        await client.close()
        await broker.close()


async def test_idle_connection_pings_and_a_silent_broker_is_noticed():
    broker = FakeBroker()
    client = client_for(broker, keepalive=1)  # Ping after 0.5 s of silence.
    lost = []
    client.on_lost = lost.append
    try:
        await client.connect()
        await wait_until(lambda: broker.pings >= 2, timeout=4)
        assert client.connected
        broker.answer_pings = False
        await wait_until(lambda: lost, timeout=4)
        assert "PINGRESP" in lost[0]
    finally:
        await client.close()
        await broker.close()


async def test_broker_closing_the_connection_is_reported():
    broker = FakeBroker()
    client = client_for(broker)
    lost = []
    client.on_lost = lost.append
    try:
        await client.connect()
        broker.drop_connections()
        await wait_until(lambda: lost, timeout=2)
        assert "closed by the broker" in lost[0]
        assert not client.connected
        await araises(MQTTError, client.publish("bell", b"x", qos=1))
        await client.connect()  # The same client connects again.
        assert client.connected
        assert len(broker.connects) == 2
    finally:
        await client.close()
        await broker.close()


async def test_disconnect_is_clean_so_no_will():
    broker = FakeBroker()
    client = client_for(broker)
    try:
        await client.connect()
        await client.disconnect()
        await wait_until(lambda: broker.disconnects == 1)
        await asyncio.sleep(0.05)
        assert broker.wills == []
        assert not client.connected
    finally:
        await broker.close()


async def test_packet_ids_skip_those_in_flight_and_wrap():
    broker = FakeBroker()
    broker.ack = False
    client = client_for(broker, ack_timeout=10)
    try:
        await client.connect()
        client._next_pid = 65534
        pids = []
        for _ in range(3):  # MicroPython has no await in comprehensions.
            pids.append(await client.publish("bell", b"x", qos=1))  # noqa: PERF401
        assert pids == [65535, 1, 2]
        client._next_pid = 0
        assert client.new_pid() == 3  # 1 and 2 are still waiting for their PUBACK.
    finally:
        await client.close()
        await broker.close()


async def test_subscribe_waits_for_the_suback_and_incoming_qos1_is_acknowledged():
    broker = FakeBroker()
    broker.retained["bell/calls"] = b"retained state"
    client = client_for(broker)
    received = []
    client.on_message = lambda topic, payload, retain: received.append((topic, payload, retain))
    try:
        await client.connect()
        assert await client.subscribe("bell/calls", 1) == 1
        assert broker.subscriptions == [("bell/calls", 1)]
        await wait_until(lambda: received, timeout=2)
        assert received == [("bell/calls", b"retained state", True)]
        broker.send("bell/calls", b"new state", qos=1)
        await wait_until(lambda: len(received) == 2, timeout=2)
        assert received[1] == ("bell/calls", b"new state", False)
        await wait_until(lambda: len(broker.client_acks) == 2, timeout=2)  # Both PUBACKed.
        broker.send("bell/calls", b"at most once", qos=0)
        await wait_until(lambda: len(received) == 3, timeout=2)
        await asyncio.sleep(0.05)
        assert len(broker.client_acks) == 2  # Nothing to acknowledge at QoS 0.
    finally:
        await client.close()
        await broker.close()


async def test_a_huge_message_costs_no_memory_and_is_still_acknowledged():
    broker = FakeBroker()
    client = client_for(broker, max_incoming=64)
    received = []
    client.on_message = lambda topic, payload, retain: received.append((topic, payload))
    try:
        await client.connect()
        await client.subscribe("bell/calls", 1)
        broker.send("bell/calls", b"x" * 100000, qos=1)
        broker.send("bell/calls", b"small", qos=1)
        await wait_until(lambda: len(received) == 2, timeout=3)
        assert received == [("bell/calls", None), ("bell/calls", b"small")]
        await wait_until(lambda: len(broker.client_acks) == 2, timeout=2)
        assert client.connected
    finally:
        await client.close()
        await broker.close()


async def test_a_failing_message_handler_does_not_end_the_connection():
    broker = FakeBroker()
    lines = []
    client = client_for(broker, log=lines.append)

    def handler(topic, payload, retain):
        raise ValueError("bad input")

    client.on_message = handler
    try:
        await client.connect()
        await client.subscribe("bell/calls", 1)
        broker.send("bell/calls", b"boom", qos=1)
        await wait_until(lambda: broker.client_acks, timeout=2)
        assert client.connected
        assert any("handler failed" in line for line in lines)
        pid = await client.publish("bell", b"still works", qos=1)
        assert pid
    finally:
        await client.close()
        await broker.close()


async def test_no_suback_or_a_refused_subscription_is_an_error():
    broker = FakeBroker()
    broker.answer_subscribe = False
    client = client_for(broker, ack_timeout=0.2)
    try:
        await client.connect()
        err = await araises(MQTTError, client.subscribe("bell/calls", 1))
        assert "SUBACK" in str(err)
    finally:
        await client.close()
        await broker.close()
