"""Fixtures for testing the Blynk cloud emulator on its own, without Home Assistant."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from blynk_emulator import BlynkCloud, Device

from .clients import PahoClient, RawClient

TOKEN = "tok-heater-1"
OTHER_TOKEN = "tok-heater-2"

type MakeCloud = Callable[..., Awaitable[BlynkCloud]]
type MakePaho = Callable[..., PahoClient]
type MakeRaw = Callable[..., Awaitable[RawClient]]


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations() -> None:
    """Override the suite-wide fixture: these tests need no Home Assistant instance."""


@pytest.fixture
async def make_cloud(socket_enabled: None) -> AsyncIterator[MakeCloud]:
    """Start emulators with any options; every one is stopped after the test."""
    clouds: list[BlynkCloud] = []

    async def make(**options: Any) -> BlynkCloud:
        cloud = BlynkCloud(**options)
        clouds.append(cloud)
        await cloud.start()
        return cloud

    yield make
    for cloud in clouds:
        await cloud.stop()


@pytest.fixture
async def cloud(make_cloud: MakeCloud) -> BlynkCloud:
    """An emulator with a WebSocket listener and one registered device."""
    started = await make_cloud(ws_port=0, linger=0.5)
    started.add_device(TOKEN)
    return started


@pytest.fixture
def device(cloud: BlynkCloud) -> Device:
    return cloud.device(TOKEN)


@pytest.fixture
async def make_paho(socket_enabled: None) -> AsyncIterator[MakePaho]:
    """Create paho clients whose threads are always joined after the test."""
    clients: list[PahoClient] = []

    def make(token: str | None = TOKEN, **options: Any) -> PahoClient:
        client = PahoClient(token, **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


@pytest.fixture
async def make_raw(socket_enabled: None) -> AsyncIterator[MakeRaw]:
    """Open raw MQTT connections that are always closed after the test."""
    clients: list[RawClient] = []

    async def make(host: str, port: int, **options: Any) -> RawClient:
        client = await RawClient.open(host, port, **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


@pytest.fixture
async def connected(cloud: BlynkCloud, make_paho: MakePaho) -> PahoClient:
    """A paho device connected with TOKEN and subscribed to downlink/#."""
    client = make_paho()
    assert await client.connect(cloud.host, cloud.port) == 0
    assert await client.subscribe("downlink/#") == [0]
    return client
