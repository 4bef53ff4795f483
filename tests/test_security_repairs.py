"""The repair issue for an unkeyed bell on a public broker: raised, worded, and cleared."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.blynk_bell import security
from custom_components.blynk_bell.const import CONF_BELL_KEY, CONF_TOPIC, DOMAIN

from .conftest import TOPIC
from .helpers import wait_for
from .mosquitto import Mosquitto


@pytest.fixture
def public(monkeypatch: pytest.MonkeyPatch, mosquitto: Mosquitto) -> None:
    """Count the test broker among the public ones, as broker.hivemq.com is."""
    monkeypatch.setattr(security, "PUBLIC_BROKERS", security.PUBLIC_BROKERS | {mosquitto.host})


def issue(hass: HomeAssistant, entry: MockConfigEntry) -> ir.IssueEntry | None:
    return ir.async_get(hass).async_get_issue(DOMAIN, security.issue_id(entry))


@pytest.mark.usefixtures("public")
@pytest.mark.parametrize(
    ("topic", "translation_key", "severity"),
    [
        ("SunFounder MQTT Test", "public_broker_tutorial_topic", ir.IssueSeverity.ERROR),
        ("blynk-bell/0a1b2c3d4e", "public_broker", ir.IssueSeverity.WARNING),
    ],
)
async def test_an_unkeyed_bell_on_a_public_broker_is_a_repair_until_it_has_a_key(
    hass: HomeAssistant,
    bell_data: dict[str, Any],
    make_entry: Callable[..., MockConfigEntry],
    topic: str,
    translation_key: str,
    severity: ir.IssueSeverity,
) -> None:
    entry = make_entry({**bell_data, CONF_TOPIC: topic})
    assert await hass.config_entries.async_setup(entry.entry_id)
    await wait_for(hass, lambda: entry.runtime_data.bell.available)
    found = issue(hass, entry)
    assert found is not None
    assert found.translation_key == translation_key
    assert found.severity is severity
    assert found.translation_placeholders is not None
    assert found.translation_placeholders["topic"] == topic

    hass.config_entries.async_update_entry(entry, data={**entry.data, CONF_BELL_KEY: "3c" * 32})
    assert await hass.config_entries.async_reload(entry.entry_id)
    assert issue(hass, entry) is None


@pytest.mark.usefixtures("public")
async def test_the_repair_goes_with_the_entry(
    hass: HomeAssistant, bell_data: dict[str, Any], make_entry: Callable[..., MockConfigEntry]
) -> None:
    entry = make_entry(bell_data)
    assert await hass.config_entries.async_setup(entry.entry_id)
    assert issue(hass, entry) is not None
    assert await hass.config_entries.async_remove(entry.entry_id)
    assert issue(hass, entry) is None


async def test_a_private_broker_or_a_keyed_bell_raises_nothing(
    hass: HomeAssistant, bell_data: dict[str, Any], make_entry: Callable[..., MockConfigEntry]
) -> None:
    entry = make_entry(bell_data)
    assert await hass.config_entries.async_setup(entry.entry_id)
    assert issue(hass, entry) is None


def test_public_brokers_are_recognised_however_written() -> None:
    for host in ("broker.hivemq.com", "BROKER.HIVEMQ.COM", " test.mosquitto.org. "):
        assert security.is_public_broker(host)
    for host in ("192.168.1.10", "mosquitto.local", "hivemq.com"):
        assert not security.is_public_broker(host)


async def test_a_bell_offline_for_minutes_is_a_repair_until_it_is_back(
    hass: HomeAssistant, mosquitto: Mosquitto, bell_entry: MockConfigEntry
) -> None:
    issue_id = f"bell_offline_{bell_entry.entry_id}"
    registry = ir.async_get(hass)
    await mosquitto.publish(f"{TOPIC}/status", "offline", retain=True)
    await wait_for(hass, lambda: bell_entry.runtime_data.bell.offline_since is not None)
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(minutes=2))
    await hass.async_block_till_done()
    assert registry.async_get_issue(DOMAIN, issue_id) is None  # A reboot is not news.
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(minutes=4))
    await hass.async_block_till_done()
    found = registry.async_get_issue(DOMAIN, issue_id)
    assert found is not None
    assert found.translation_key == "bell_offline"

    await mosquitto.publish(f"{TOPIC}/status", "online", retain=True)
    await wait_for(hass, lambda: registry.async_get_issue(DOMAIN, issue_id) is None)
