"""A test CA the system trusts, TLS servers, and links that are always stopped."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
import ssl
from typing import Any

import pytest
import trustme

from custom_components.blynk_bell.protocol.mqtt import (
    Endpoint,
    Message,
    MqttLink,
    SessionOptions,
    system_tls_context,
)

from ..mosquitto import Mosquitto


@pytest.fixture
def certificate_authority() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def server_tls(certificate_authority: trustme.CA) -> ssl.SSLContext:
    """A server context with a certificate for 127.0.0.1 from the test CA."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificate_authority.issue_cert("127.0.0.1").configure_cert(context)
    return context


@pytest.fixture
def trusted_ca(
    tmp_path: Path, certificate_authority: trustme.CA, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """Make the test CA part of 'the system's CA store' (OpenSSL honours SSL_CERT_FILE)."""
    bundle = tmp_path / "ca.pem"
    certificate_authority.cert_pem.write_to_path(bundle)
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    system_tls_context.cache_clear()
    yield
    system_tls_context.cache_clear()


@pytest.fixture
async def tls_mosquitto(
    socket_enabled: None, tmp_path: Path, certificate_authority: trustme.CA
) -> AsyncIterator[Mosquitto]:
    server = certificate_authority.issue_cert("127.0.0.1")
    chain, key, ca = tmp_path / "chain.pem", tmp_path / "key.pem", tmp_path / "broker-ca.pem"
    server.private_key_pem.write_to_path(key)
    server.cert_chain_pems[0].write_to_path(chain)
    certificate_authority.cert_pem.write_to_path(ca)
    broker = Mosquitto(tmp_path, tls=(chain, key, ca))
    await broker.start()
    yield broker
    await broker.stop()


class Inbox:
    """Collects what a link hands over, and its connection events."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.events: list[tuple[str, Any]] = []

    def message(self, message: Message) -> None:
        self.messages.append(message)

    def connected(self, session_present: bool) -> None:
        self.events.append(("connected", session_present))

    def disconnected(self, reason: str) -> None:
        self.events.append(("disconnected", reason))

    def auth_failed(self) -> None:
        self.events.append(("auth_failed", None))

    @property
    def payloads(self) -> list[bytes]:
        return [message.payload for message in self.messages]


type MakeLink = Callable[..., tuple[MqttLink, Inbox]]


@pytest.fixture
async def make_link(socket_enabled: None) -> AsyncIterator[MakeLink]:
    """Create links reporting to an Inbox; every one is stopped after the test."""
    links: list[MqttLink] = []

    def make(
        endpoint: Endpoint, *, client_id: str = "link-test", **options: Any
    ) -> tuple[MqttLink, Inbox]:
        inbox = Inbox()
        backoff = options.pop("backoff", None)
        link = MqttLink(
            endpoint,
            SessionOptions(client_id=client_id, **options),
            name="Test",
            on_message=inbox.message,
            on_connected=inbox.connected,
            on_disconnected=inbox.disconnected,
            on_auth_failed=inbox.auth_failed,
            backoff=backoff,
        )
        links.append(link)
        return link, inbox

    yield make
    for link in links:
        await link.async_stop()
