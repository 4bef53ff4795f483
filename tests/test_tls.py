"""TLS to the bell broker: verified against the system CA store, never blindly trusted."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest
import trustme

from custom_components.blynk_bell.const import CONF_PORT, CONF_TLS, DOMAIN
from custom_components.blynk_bell.protocol.mqtt import system_tls_context

from .conftest import TOPIC
from .helpers import state_of, wait_for
from .mosquitto import Mosquitto


@pytest.fixture
def certificate_authority() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
async def tls_broker(
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


async def _configure(hass: HomeAssistant, user_input: dict[str, Any]) -> dict[str, Any]:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": "user"})
    return dict(await hass.config_entries.flow.async_configure(result["flow_id"], user_input))


async def test_tls_broker_with_trusted_certificate(
    hass: HomeAssistant, tls_broker: Mosquitto, trusted_ca: None, bell_data: dict[str, Any]
) -> None:
    bell_input = {k: v for k, v in bell_data.items() if k not in ("token", "blynk_server")}
    bell_input["bell_key"] = ""
    result = await _configure(hass, {**bell_input, CONF_PORT: tls_broker.port, CONF_TLS: True})
    assert result["step_id"] == "blynk"
    result = dict(await hass.config_entries.flow.async_configure(result["flow_id"], {}))
    assert result["type"] is FlowResultType.CREATE_ENTRY
    entry = result["result"]
    await wait_for(hass, lambda: entry.runtime_data.bell.available)

    assert entry.runtime_data.bell.link.current_endpoint.tls
    await tls_broker.publish(TOPIC, "button 2 is pressed")
    await wait_for(
        hass, lambda: state_of(hass, "binary_sensor.service_bell_table_2_calling") == "on"
    )
    await hass.config_entries.async_unload(entry.entry_id)


async def test_tls_broker_with_untrusted_certificate_is_refused(
    hass: HomeAssistant, tls_broker: Mosquitto, bell_data: dict[str, Any]
) -> None:
    system_tls_context.cache_clear()
    bell_input = {k: v for k, v in bell_data.items() if k not in ("token", "blynk_server")}
    bell_input["bell_key"] = ""
    result = await _configure(hass, {**bell_input, CONF_PORT: tls_broker.port, CONF_TLS: True})
    assert result["errors"] == {"base": "cannot_connect_tls_untrusted"}
    assert result["description_placeholders"]["host"] == tls_broker.host
    assert "certificate" in result["description_placeholders"]["error"]
