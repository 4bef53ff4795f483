"""The MQTT link against real servers: each fault the network can bring, and our own bugs."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
import logging
from pathlib import Path
import re
import ssl
import time
from typing import Any

import pytest

from blynk_emulator import BlynkCloud, Device, packets
from custom_components.blynk_bell.protocol import mqtt
from custom_components.blynk_bell.protocol.backoff import Backoff
from custom_components.blynk_bell.protocol.blynk import BlynkDevice, BlynkListener, DeviceInfo
from custom_components.blynk_bell.protocol.mqtt import (
    CannotConnect,
    ConnectFailure,
    Endpoint,
    InvalidAuth,
    LinkState,
    MqttLink,
    SessionOptions,
    async_check_connection,
)

from ..mosquitto import Mosquitto
from ..tcp_proxy import TcpProxy
from .conftest import MakeLink
from .tiny_broker import TinyBroker

TOKEN = "link-test-token-0123456789abcdef"
FAST = {"initial": 0.05, "maximum": 0.2}


async def until(condition: Callable[[], object], timeout: float = 10) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)


def endpoint_of(broker: Mosquitto | TinyBroker | TcpProxy, *, tls: bool = False) -> Endpoint:
    return Endpoint("127.0.0.1", broker.port, tls=tls)


@pytest.fixture
async def mosquitto(socket_enabled: None, tmp_path: Path) -> Any:
    broker = Mosquitto(tmp_path, persistent=True)
    await broker.start()
    yield broker
    await broker.stop()


async def serving(broker: TinyBroker) -> TinyBroker:
    await broker.start()
    return broker


@pytest.fixture
async def tiny() -> Any:
    """Start TinyBrokers; all are stopped after the test."""
    started: list[TinyBroker] = []

    async def start(**options: Any) -> TinyBroker:
        broker = TinyBroker(**options)
        await broker.start()
        started.append(broker)
        return broker

    yield start
    for broker in started:
        await broker.stop()


type StartTiny = Callable[..., Awaitable[TinyBroker]]


# Nothing is handled before the connection exists ------------------------------------


async def test_a_message_in_the_connacks_tls_record_waits_until_the_link_is_connected(
    socket_enabled: None,
    trusted_ca: None,
    server_tls: ssl.SSLContext,
    tiny: StartTiny,
    make_link: MakeLink,
) -> None:
    broker = await tiny(
        ssl_context=server_tls,
        after_connack=lambda _visit: packets.encode_publish("bell", b"queued", 1, 7),
    )
    seen: list[tuple[bytes, bool, list[tuple[str, Any]]]] = []
    link, inbox = make_link(endpoint_of(broker, tls=True), subscriptions=(("bell", 1),))
    link._on_message = lambda message: seen.append(
        (message.payload, link.connected, list(inbox.events))
    )
    link.start()
    await broker.wait_for(lambda: bool(broker.visits and broker.visits[0].pubacks))
    # Handled once the link counted as connected and had told its owner so...
    assert seen == [(b"queued", True, [("connected", False)])]
    # ...and acknowledged only after it was handled.
    assert broker.visits[0].pubacks == [7]


async def test_a_redirect_in_the_connacks_tls_record_is_followed(
    socket_enabled: None, trusted_ca: None, server_tls: ssl.SSLContext, tiny: StartTiny
) -> None:
    target = BlynkCloud(ssl_context=server_tls)
    await target.start()
    target.add_device(TOKEN)
    first = await tiny(
        ssl_context=server_tls,
        after_connack=lambda _visit: packets.encode_publish(
            "downlink/redirect", target.url.encode()
        ),
    )
    device = BlynkDevice(Endpoint.from_url(first.url), TOKEN, BlynkListener(), DeviceInfo("1", "1"))
    device.start()
    try:
        await target.device(TOKEN).wait_for(lambda d: d.connected, timeout=10)
        await until(lambda: device.link.connected)
        assert device.link.current_endpoint == Endpoint.from_url(target.url)
        await first.wait_for(lambda: first.visits[0].disconnected)  # A polite goodbye.
        assert len(first.visits) == 1
    finally:
        await device.async_stop()
        await target.stop()


# Backoff --------------------------------------------------------------------------


def test_backoff_forgets_failures_only_after_a_connection_that_stayed_up() -> None:
    backoff = Backoff(initial=1, maximum=60, rand=lambda low, high: 1.0)
    assert [backoff.next_delay() for _ in range(3)] == [1, 2, 4]
    backoff.connection_ended(uptime=29.0)  # Dropped soon after CONNACK: still failing.
    assert backoff.next_delay() == 8
    backoff.connection_ended(uptime=30.0)
    assert backoff.next_delay() == 1


async def test_two_clients_with_one_client_id_cost_the_broker_a_few_attempts_a_minute(
    mosquitto: Mosquitto, make_link: MakeLink
) -> None:
    # Two Home Assistants restored from one backup: same entry, same client id. Each
    # connection kicks the other off right after its CONNACK.
    links = [make_link(endpoint_of(mosquitto), client_id="restored-twice")[0] for _ in range(2)]
    started = time.monotonic()
    for link in links:
        link.start()
    await asyncio.sleep(15)
    elapsed = time.monotonic() - started
    log = await asyncio.get_running_loop().run_in_executor(None, mosquitto.log_text)
    connections = len(re.findall(r"New client connected from .* as restored-twice", log))
    # Resetting the backoff at every CONNACK made this about one a second per client.
    assert connections <= 10, f"{connections} connections in {elapsed:.0f} s"
    assert sum(link.stats.attempts for link in links) <= 10


# Refused credentials --------------------------------------------------------------


async def test_refused_credentials_ask_once_and_a_transient_refusal_recovers(
    socket_enabled: None,
    tiny: StartTiny,
    make_link: MakeLink,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(mqtt, "AUTH_RETRY_DELAY", 1.0)  # 15 minutes in real life.
    broker = await tiny(connack_code=lambda visit: 5 if visit <= 2 else 0)
    link, inbox = make_link(
        endpoint_of(broker), username="device", password="s3cret-token", backoff=Backoff(**FAST)
    )
    link.start()
    started = time.monotonic()
    assert not await link.async_wait_connected(10)  # Returns at the refusal, not after 10 s.
    assert time.monotonic() - started < 2
    assert link.auth_failed
    assert inbox.events == [("auth_failed", None)]

    await until(lambda: link.connected)
    assert len(broker.visits) == 3  # Retried on the long delay, not the short backoff.
    assert time.monotonic() - started >= 1.5
    assert not link.auth_failed
    assert inbox.events == [("auth_failed", None), ("connected", False)]
    assert "refused the credentials" in caplog.text
    assert "s3cret-token" not in caplog.text


def test_the_long_delay_after_refused_credentials_is_blynks_15_minutes() -> None:
    assert mqtt.AUTH_RETRY_DELAY == 15 * 60


# The link never dies silently ------------------------------------------------------


class BrokenOnce(Backoff):
    """A backoff with a bug that shows once."""

    def __init__(self) -> None:
        super().__init__(**FAST)
        self.broken = True

    def next_delay(self) -> float:
        if self.broken:
            self.broken = False
            raise RuntimeError("a bug in the backoff")
        return super().next_delay()


async def test_an_unexpected_error_is_logged_and_the_link_goes_on(
    mosquitto: Mosquitto,
    make_link: MakeLink,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(mqtt, "RETRY_AFTER_ERROR", 0.2)
    link, inbox = make_link(endpoint_of(mosquitto), backoff=BrokenOnce())
    link.start()
    assert await link.async_wait_connected(5)
    await mosquitto.stop()
    await until(lambda: "a bug in the backoff" in caplog.text)
    await mosquitto.start()
    await until(lambda: link.connected)
    assert [kind for kind, _ in inbox.events] == ["connected", "disconnected", "connected"]
    assert any(r.exc_info and r.levelno == logging.ERROR for r in caplog.records)


async def test_a_bug_in_a_message_handler_keeps_the_connection(
    mosquitto: Mosquitto, make_link: MakeLink, caplog: pytest.LogCaptureFixture
) -> None:
    link, inbox = make_link(endpoint_of(mosquitto), subscriptions=(("t", 1),))

    def handler(message: mqtt.Message) -> None:
        inbox.message(message)
        if message.payload == b"boom":
            raise ValueError("a handler bug")

    link._on_message = handler
    link.start()
    assert await link.async_wait_connected(5)
    await mosquitto.publish("t", "boom")
    await mosquitto.publish("t", "after")
    await until(lambda: inbox.payloads == [b"boom", b"after"])
    assert link.connected
    assert inbox.events == [("connected", False)]
    assert "a handler bug" in caplog.text


# Losing the broker -----------------------------------------------------------------


async def test_loss_and_recovery_are_logged_once_each(
    mosquitto: Mosquitto, make_link: MakeLink, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=mqtt.__name__)
    link, _inbox = make_link(endpoint_of(mosquitto), backoff=Backoff(**FAST))
    link.start()
    assert await link.async_wait_connected(5)
    await mosquitto.stop()
    attempts = link.stats.attempts
    await until(lambda: link.stats.attempts >= attempts + 4)  # Several failed attempts.
    await mosquitto.start()
    await until(lambda: link.connected)
    lines = [r.getMessage() for r in caplog.records if r.name == mqtt.__name__]
    assert len([line for line in lines if "reconnecting in the background" in line]) == 1
    assert len([line for line in lines if "connected again" in line]) == 1
    assert "connection lost (the broker closed the connection)" in lines[0]


async def test_a_cut_connection_is_noticed_and_rebuilt(
    mosquitto: Mosquitto, make_link: MakeLink
) -> None:
    proxy = TcpProxy(mosquitto.port)
    await proxy.start()
    try:
        link, inbox = make_link(
            endpoint_of(proxy), subscriptions=(("t", 1),), backoff=Backoff(**FAST)
        )
        link.start()
        assert await link.async_wait_connected(5)
        for round_ in range(3):
            proxy.cut()
            await until(
                lambda round_=round_: inbox.events.count(("connected", False)) == round_ + 2
            )
        await mosquitto.publish("t", "still here")
        await until(lambda: inbox.payloads == [b"still here"])
    finally:
        await proxy.stop()


async def test_a_frozen_connection_is_noticed_by_the_keepalive(
    mosquitto: Mosquitto, make_link: MakeLink
) -> None:
    proxy = TcpProxy(mosquitto.port)
    await proxy.start()
    try:
        link, inbox = make_link(endpoint_of(proxy), keepalive=1, backoff=Backoff(**FAST))
        link.start()
        assert await link.async_wait_connected(5)
        proxy.freeze()  # Both ends think the connection is alive; nothing gets through.
        started = time.monotonic()
        lost = ("disconnected", "the broker stopped answering")
        await until(lambda: lost in inbox.events, timeout=5)
        assert time.monotonic() - started < 3.5  # Keepalive (1 s) plus the ping wait (1 s).
        proxy.thaw()
        await until(lambda: link.connected, timeout=10)
    finally:
        await proxy.stop()


async def test_a_closing_reason_reaches_the_owner_and_the_broker_hears_goodbye(
    mosquitto: Mosquitto, make_link: MakeLink
) -> None:
    link, inbox = make_link(endpoint_of(mosquitto), client_id="polite")
    link.start()
    assert await link.async_wait_connected(5)
    link.reconnect_now("restart requested by Blynk")
    await until(lambda: inbox.events.count(("connected", False)) == 2, timeout=3)
    assert ("disconnected", "restart requested by Blynk") in inbox.events
    await until(lambda: "Received DISCONNECT from polite" in mosquitto.log_text())


async def test_an_oversized_message_is_skipped_acknowledged_and_counted(
    mosquitto: Mosquitto, make_link: MakeLink
) -> None:
    link, inbox = make_link(
        endpoint_of(mosquitto), client_id="big", clean_session=False, subscriptions=(("t", 1),)
    )
    link.start()
    assert await link.async_wait_connected(5)
    await mosquitto.publish("t", b"x" * (mqtt.MAX_PACKET_SIZE + 1000))
    await mosquitto.publish("t", "small")
    await until(lambda: inbox.payloads == [b"small"])
    assert link.stats.dropped == 1
    assert link.connected
    # Acknowledged: the persistent session does not send it again after a reconnect.
    link.reconnect_now("test")
    await until(lambda: inbox.events.count(("connected", True)) == 1)
    await mosquitto.publish("t", "marker")
    await until(lambda: inbox.payloads[-1:] == [b"marker"])
    assert inbox.payloads == [b"small", b"marker"]


async def test_stop_says_goodbye_and_leaves_nothing_running(
    mosquitto: Mosquitto, make_link: MakeLink
) -> None:
    link, _inbox = make_link(endpoint_of(mosquitto), client_id="leaving")
    link.start()
    assert await link.async_wait_connected(5)
    await link.async_stop()
    assert link.state is LinkState.STOPPED
    assert not link.connected
    assert not link.publish("t", "late")
    await until(lambda: "Received DISCONNECT from leaving" in mosquitto.log_text())


# TLS and WebSocket -----------------------------------------------------------------


async def exchange_with_the_emulator(url: str, device: Device) -> None:
    got: list[bytes] = []
    link = MqttLink(
        Endpoint.from_url(url),
        SessionOptions(
            client_id="", username="device", password=TOKEN, subscriptions=(("downlink/#", 0),)
        ),
        name="Blynk",
        on_message=lambda message: got.append(message.payload),
    )
    link.start()
    try:
        assert await link.async_wait_connected(5)
        await device.wait_for(lambda d: d.subscriptions == {"downlink/#"})
        assert await link.async_publish_acked("ds/Status", "2")
        await device.wait_for(lambda d: d.value("Status") == "2")
        assert await device.write("Power", "1")
        await until(lambda: b"1" in got)
    finally:
        await link.async_stop()
    await device.wait_for(lambda d: not d.connected)


async def test_tls_and_wss_to_the_emulator(
    socket_enabled: None, trusted_ca: None, server_tls: ssl.SSLContext
) -> None:
    cloud = BlynkCloud(ssl_context=server_tls, ws_port=0)
    await cloud.start()
    device = cloud.add_device(TOKEN)
    try:
        assert cloud.url.startswith("mqtts://")
        await exchange_with_the_emulator(cloud.url, device)
        assert cloud.ws_url.startswith("wss://")
        await exchange_with_the_emulator(cloud.ws_url, device)
    finally:
        await cloud.stop()


async def test_an_untrusted_certificate_is_refused(
    tls_mosquitto: Mosquitto, make_link: MakeLink
) -> None:
    mqtt.system_tls_context.cache_clear()
    with pytest.raises(CannotConnect) as caught:
        await async_check_connection(
            endpoint_of(tls_mosquitto, tls=True), SessionOptions(client_id="probe")
        )
    assert caught.value.kind is ConnectFailure.TLS_UNTRUSTED


# The probe -------------------------------------------------------------------------


@pytest.fixture
async def silent_port(socket_enabled: None) -> Any:
    """A port that accepts connections and never says a word."""
    held: list[asyncio.StreamWriter] = []

    async def hold(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    for writer in held:
        writer.close()
    server.close()
    await server.wait_closed()


@pytest.mark.parametrize(
    ("tls", "step"), [(False, "waiting for CONNACK"), (True, "in the TLS handshake")]
)
async def test_the_probe_answers_within_its_timeout_on_a_port_that_never_speaks(
    silent_port: int, tls: bool, step: str
) -> None:
    started = time.monotonic()
    with pytest.raises(CannotConnect) as caught:
        async with asyncio.timeout(5):  # Before: about 70 s on TLS (paho's keepalive).
            await async_check_connection(
                Endpoint("127.0.0.1", silent_port, tls=tls),
                SessionOptions(client_id="probe"),
                timeout=1,
            )
    assert time.monotonic() - started < 2
    assert caught.value.kind is ConnectFailure.TIMED_OUT
    assert step in str(caught.value)


async def test_the_probe_timeout_covers_a_dns_lookup_that_hangs(
    socket_enabled: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    loop = asyncio.get_running_loop()

    async def never(*_args: Any, **_kwargs: Any) -> Any:
        await asyncio.Event().wait()

    monkeypatch.setattr(loop, "getaddrinfo", never)
    with pytest.raises(CannotConnect) as caught:
        async with asyncio.timeout(5):
            await async_check_connection(
                Endpoint("broker.example", 1883), SessionOptions(client_id="probe"), timeout=0.5
            )
    assert caught.value.kind is ConnectFailure.TIMED_OUT
    assert "resolving the host name" in str(caught.value)


async def test_the_probe_tells_refused_credentials_from_unreachable(
    socket_enabled: None, tiny: StartTiny, tmp_path: Path
) -> None:
    refusing = await tiny(connack_code=lambda _visit: 4)
    with pytest.raises(InvalidAuth):
        await async_check_connection(endpoint_of(refusing), SessionOptions(client_id="probe"))
    unavailable = await tiny(connack_code=lambda _visit: 3)
    with pytest.raises(CannotConnect) as caught:
        await async_check_connection(endpoint_of(unavailable), SessionOptions(client_id="probe"))
    assert caught.value.kind is ConnectFailure.REFUSED
    closed_port = Mosquitto(tmp_path).port  # Nobody listens there.
    with pytest.raises(CannotConnect) as caught:
        await async_check_connection(
            Endpoint("127.0.0.1", closed_port), SessionOptions(client_id="probe")
        )
    assert caught.value.kind is ConnectFailure.REFUSED
