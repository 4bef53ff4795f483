"""The Blynk heater in Home Assistant, against the Blynk cloud emulator over real sockets."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
import json
import logging
from pathlib import Path
import ssl
import time
from typing import Any

from homeassistant.components.climate import DOMAIN as CLIMATE_DOMAIN
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import (
    ATTR_ENTITY_ID,
    ATTR_TEMPERATURE,
    EVENT_HOMEASSISTANT_STOP,
    STATE_UNAVAILABLE,
)
from homeassistant.core import HomeAssistant, State
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    mock_restore_cache_with_extra_data,
)
import trustme

from blynk_emulator import BlynkCloud, Device
from custom_components.blynk_bell.const import (
    CONF_BLYNK_SERVER,
    CONF_BUTTONS,
    CONF_HEATER_MODE,
    CONF_HEATER_SWITCH,
    CONF_HYSTERESIS,
    CONF_TEMPERATURE_SENSOR,
    CONF_TEMPLATE_ID,
    CONF_TOKEN,
    DOMAIN,
    VERSION,
)
from custom_components.blynk_bell.diagnostics import async_get_config_entry_diagnostics
from custom_components.blynk_bell.protocol import blynk as blynk_protocol
from custom_components.blynk_bell.protocol.backoff import Backoff
from custom_components.blynk_bell.protocol.blynk import BlynkDevice, BlynkListener, DeviceInfo
from custom_components.blynk_bell.protocol.mqtt import Endpoint, system_tls_context

from .conftest import CLIMATE, TOKEN, attribute, set_up
from .helpers import state_of, wait_for
from .tcp_proxy import TcpProxy


def terminal_lines(device: Device) -> list[str]:
    return [item.payload for item in device.published if item.topic == "ds/Terminal"]


async def call(hass: HomeAssistant, service: str, **data: Any) -> None:
    await hass.services.async_call(
        CLIMATE_DOMAIN, service, {ATTR_ENTITY_ID: CLIMATE, **data}, blocking=True
    )


# After connecting -------------------------------------------------------------------


async def test_connects_as_the_device_and_adopts_blynk_values(
    hass: HomeAssistant, heater_entry: MockConfigEntry, device: Device
) -> None:
    state = hass.states.get(CLIMATE)
    assert state is not None
    assert state.state == "heat"
    assert state.attributes[ATTR_TEMPERATURE] == 25
    assert state.attributes["hvac_modes"] == ["off", "heat"]
    assert state.attributes["min_temp"] == 10
    assert state.attributes["max_temp"] == 30
    assert state.attributes["target_temp_step"] == 0.5
    assert state.attributes["friendly_name"] == "Blynk heater"
    assert "downlink/#" in device.subscriptions
    assert device.mcu_info is not None
    assert device.mcu_info["rxbuff"] == 1024
    get_ds = [item.payload for item in device.published if item.topic == "get/ds"]
    assert get_ds == ["Power,Set Temperature"]


async def test_info_mcu_carries_our_version_and_the_users_template_id(
    hass: HomeAssistant, heater_entry: MockConfigEntry, device: Device
) -> None:
    assert device.mcu_info == {
        "ver": VERSION,
        "build": VERSION,
        "type": "blynk_bell heater",
        "rxbuff": 1024,
    }

    def options(template_id: str) -> dict[str, Any]:
        return {
            "bell": {CONF_BUTTONS: 4, "clear_after": 5},
            "tables": {},
            "heater": {
                CONF_HYSTERESIS: 0.5,
                CONF_HEATER_MODE: "simulated",
                CONF_TEMPLATE_ID: template_id,
            },
        }

    result = await hass.config_entries.options.async_init(heater_entry.entry_id)
    result = await hass.config_entries.options.async_configure(result["flow_id"], options("4zGi"))
    assert result["errors"] == {CONF_TEMPLATE_ID: "invalid_template_id"}
    connections = device.connections
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], options(" TMPL4zGiS1A7l ")
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert heater_entry.options[CONF_TEMPLATE_ID] == "TMPL4zGiS1A7l"
    # The entry reloads and says who it is again, with the template.
    await device.wait_for(lambda d: d.connections > connections and d.mcu_info is not None)
    await device.wait_for(lambda d: (d.mcu_info or {}).get("tmpl") == "TMPL4zGiS1A7l")
    assert device.mcu_info is not None
    assert device.mcu_info["ver"] == VERSION


async def test_status_and_action_follow_the_heater(
    hass: HomeAssistant, heater_entry: MockConfigEntry, device: Device
) -> None:
    # The simulation starts at 15 °C with the set point at 25: heating.
    await wait_for(hass, lambda: attribute(hass, "hvac_action") == "heating")
    await device.wait_for(lambda d: d.value("Status") == "3")
    await device.wait_for(lambda d: d.prop("Status", "color") == "F7EAE4")
    await device.wait_for(lambda d: d.prop("Set Temperature", "isDisabled") == "0")
    await device.wait_for(lambda d: d.value("Current Temperature") is not None)
    assert 10 <= float(device.value("Current Temperature") or 0) <= 35
    assert attribute(hass, "current_temperature") is not None

    await call(hass, "set_hvac_mode", hvac_mode="off")
    await device.wait_for(lambda d: d.value("Status") == "1")
    await device.wait_for(lambda d: d.prop("Status", "color") == "E4F6F7")
    assert attribute(hass, "hvac_action") == "off"


# Home Assistant -> Blynk ------------------------------------------------------------


async def test_home_assistant_changes_reach_the_app(
    hass: HomeAssistant, heater_entry: MockConfigEntry, device: Device
) -> None:
    await call(hass, "set_temperature", temperature=22)
    await device.wait_for(lambda d: d.value("Set Temperature") == "22", timeout=1)
    await call(hass, "set_temperature", temperature=22.5)
    await device.wait_for(lambda d: d.value("Set Temperature") == "22.5", timeout=1)

    await call(hass, "turn_off")
    await device.wait_for(lambda d: d.value("Power") == "0", timeout=1)
    await device.wait_for(lambda d: d.prop("Set Temperature", "isDisabled") == "1", timeout=1)
    assert state_of(hass, CLIMATE) == "off"

    await call(hass, "set_hvac_mode", hvac_mode="heat")
    await device.wait_for(lambda d: d.value("Power") == "1", timeout=1)
    await device.wait_for(lambda d: d.prop("Set Temperature", "isDisabled") == "0", timeout=1)

    await call(hass, "set_temperature", temperature=19, hvac_mode="off")
    await device.wait_for(
        lambda d: d.value("Power") == "0" and d.value("Set Temperature") == "19", timeout=1
    )


async def test_set_point_outside_the_range_is_refused(
    hass: HomeAssistant, heater_entry: MockConfigEntry, device: Device
) -> None:
    with pytest.raises(ServiceValidationError):
        await call(hass, "set_temperature", temperature=31)
    assert device.value("Set Temperature") == "25"


# Blynk -> Home Assistant ------------------------------------------------------------


async def test_app_changes_reach_home_assistant(
    hass: HomeAssistant, heater_entry: MockConfigEntry, device: Device
) -> None:
    await device.write("Power", "0")
    await wait_for(hass, lambda: state_of(hass, CLIMATE) == "off", timeout=1)
    await device.write("Set Temperature", "21.5")
    await wait_for(hass, lambda: attribute(hass, ATTR_TEMPERATURE) == 21.5, timeout=1)
    await device.write("Power", "1")
    await wait_for(hass, lambda: state_of(hass, CLIMATE) == "heat", timeout=1)


@pytest.mark.parametrize(("written", "clamped"), [("45", 30), ("-5", 10), ("30.5", 30)])
async def test_app_set_point_is_clamped_and_the_truth_sent_back(
    hass: HomeAssistant, heater_entry: MockConfigEntry, device: Device, written: str, clamped: int
) -> None:
    await device.write("Set Temperature", written)
    await wait_for(hass, lambda: attribute(hass, ATTR_TEMPERATURE) == clamped)
    await device.wait_for(lambda d: d.value("Set Temperature") == str(clamped))


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("Power", "2"),
        ("Power", "on"),
        ("Power", ""),
        ("Set Temperature", "abc"),
        ("Set Temperature", ""),
        ("Set Temperature", "nan"),
        ("Set Temperature", "inf"),
        ("Set Temperature", "1e999"),
    ],
)
async def test_invalid_app_values_change_nothing(
    hass: HomeAssistant,
    heater_entry: MockConfigEntry,
    device: Device,
    name: str,
    value: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await device.write(name, value)
    await device.write("Terminal", "help")  # Handled after the bad value: a fence.
    await device.wait_for(lambda d: any("Available" in line for line in terminal_lines(d)))
    await hass.async_block_till_done()
    assert state_of(hass, CLIMATE) == "heat"
    assert attribute(hass, ATTR_TEMPERATURE) == 25
    assert "Ignored an invalid" in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


# Sync: which value wins --------------------------------------------------------------


async def test_a_late_get_ds_answer_never_undoes_a_change_made_after_asking(
    hass: HomeAssistant,
    device: Device,
    heater_data: dict[str, Any],
    make_entry: Callable[..., MockConfigEntry],
) -> None:
    device.values.update({"Power": "0", "Set Temperature": "23"})
    device.answer_delay = 0.5  # Blynk answers get/ds after it acknowledged our write.
    mock_restore_cache_with_extra_data(
        hass, [(State(CLIMATE, "heat", {ATTR_TEMPERATURE: 23}), {"pending": {}})]
    )
    entry = await set_up(hass, make_entry(heater_data))
    await device.wait_for(lambda d: any(item.topic == "get/ds" for item in d.published))
    # An automation sets 25 right after the link came back, before Blynk answered.
    await call(hass, "set_temperature", temperature=25)
    await device.wait_for(lambda d: d.value("Set Temperature") == "25", timeout=1)
    await asyncio.sleep(0.7)  # The answer (Power 0, Set Temperature 23) has come.
    await hass.async_block_till_done()
    assert attribute(hass, ATTR_TEMPERATURE) == 25
    assert device.value("Set Temperature") == "25"
    # What the user did not change is Blynk's: the heater is off, as in the app.
    assert state_of(hass, CLIMATE) == "off"
    # Later app writes are the truth again.
    await device.write("Set Temperature", "21")
    await wait_for(hass, lambda: attribute(hass, ATTR_TEMPERATURE) == 21, timeout=1)
    await hass.config_entries.async_unload(entry.entry_id)


async def test_after_a_restart_blynk_wins_except_for_what_the_user_changed(
    hass: HomeAssistant,
    device: Device,
    heater_data: dict[str, Any],
    make_entry: Callable[..., MockConfigEntry],
) -> None:
    device.values.update({"Power": "0", "Set Temperature": "25"})
    device.answer_delay = 0.3
    mock_restore_cache_with_extra_data(
        hass,
        [
            (
                State(CLIMATE, "heat", {ATTR_TEMPERATURE: 21}),
                {"pending": {"Set Temperature": "21"}},  # Changed while Blynk was away.
            )
        ],
    )
    entry = await set_up(hass, make_entry(heater_data))
    await device.wait_for(lambda d: d.value("Set Temperature") == "21")
    await wait_for(hass, lambda: state_of(hass, CLIMATE) == "off")  # Blynk's power.
    assert attribute(hass, ATTR_TEMPERATURE) == 21  # The user's set point.
    assert [item.payload for item in device.published if item.topic == "get/ds"] == ["Power"]
    await hass.config_entries.async_unload(entry.entry_id)


# Terminal ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "reply"),
    [
        ("help", "Available commands:"),
        ("?", "Available commands:"),
        ("HELP", "Available commands:"),
        ("", 'Type "help"'),
        ("   ", 'Type "help"'),
        ("dance", "Unknown command: dance"),
        ("set", "Usage: set N"),
        ("set abc", "Usage: set N"),
        ("set 2 3", "Usage: set N"),
        ("set nan", "Usage: set N"),
    ],
)
async def test_terminal_replies_and_never_crashes(
    hass: HomeAssistant,
    heater_entry: MockConfigEntry,
    device: Device,
    command: str,
    reply: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await device.write("Terminal", command)
    await device.wait_for(lambda d: any(reply in line for line in terminal_lines(d)))
    assert attribute(hass, ATTR_TEMPERATURE) == 25
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_terminal_commands_change_the_heater(
    hass: HomeAssistant, heater_entry: MockConfigEntry, device: Device
) -> None:
    await device.write("Terminal", "set 24")
    await wait_for(hass, lambda: attribute(hass, ATTR_TEMPERATURE) == 24)
    await device.wait_for(lambda d: d.value("Set Temperature") == "24")
    assert "Temperature set to 24\n" in terminal_lines(device)

    await device.write("Terminal", "off")
    await wait_for(hass, lambda: state_of(hass, CLIMATE) == "off")
    await device.wait_for(lambda d: d.value("Power") == "0")
    assert "Turned OFF\n" in terminal_lines(device)

    await device.write("Terminal", "on")
    await wait_for(hass, lambda: state_of(hass, CLIMATE) == "heat")
    await device.wait_for(lambda d: d.value("Power") == "1")

    await device.write("Terminal", "set 99")
    await wait_for(hass, lambda: attribute(hass, ATTR_TEMPERATURE) == 30)
    await device.wait_for(lambda d: any("limited" in line for line in terminal_lines(d)))


# Downlinks --------------------------------------------------------------------------


async def test_ping_is_answered(heater_entry: MockConfigEntry, device: Device) -> None:
    assert await device.ping()


async def test_reboot_restarts_the_link(
    hass: HomeAssistant, heater_entry: MockConfigEntry, device: Device
) -> None:
    before = device.connections
    assert await device.send("downlink/reboot")
    await device.wait_for(lambda d: d.connections == before + 1 and d.connected)
    await wait_for(hass, lambda: state_of(hass, CLIMATE) == "heat")


async def test_reconfigure_and_firmware_offers_are_logged_and_the_link_stays_up(
    hass: HomeAssistant,
    heater_entry: MockConfigEntry,
    device: Device,
    caplog: pytest.LogCaptureFixture,
) -> None:
    before = device.connections
    offer = {"url": "http://ota.example/fw.bin", "size": 1000, "type": "mcu", "ver": "9.9"}
    assert await device.send("downlink/reconfigure")
    assert await device.send("downlink/ota/json", json.dumps(offer))
    assert await device.send("downlink/ota/json", "{not json")
    await device.write("Terminal", "help")
    await device.wait_for(lambda d: any("Available" in line for line in terminal_lines(d)))
    assert device.connections == before
    assert device.connected
    assert "provisioning" in caplog.text
    assert "Blynk.Air firmware update (version '9.9')" in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    # The link is still ours to use.
    await call(hass, "set_temperature", temperature=24)
    await device.wait_for(lambda d: d.value("Set Temperature") == "24", timeout=1)


async def test_diag_is_logged_as_a_throttled_warning(
    hass: HomeAssistant,
    heater_entry: MockConfigEntry,
    device: Device,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await device.send("downlink/diag", "too many messages")
    await device.send("downlink/diag", "still too many messages")
    await device.write("Terminal", "help")
    await device.wait_for(lambda d: any("Available" in line for line in terminal_lines(d)))
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "Blynk says" in r.msg]
    assert len(warnings) == 1
    assert "too many messages" in warnings[0].getMessage()


async def test_unused_downlinks_are_ignored(
    hass: HomeAssistant,
    heater_entry: MockConfigEntry,
    device: Device,
    caplog: pytest.LogCaptureFixture,
) -> None:
    for topic, payload in [
        ("downlink/ota/json", '{"url": "x"}'),
        ("downlink/utc/all/json", "{}"),
        ("downlink/meta/Location", "here"),
        ("downlink/ds/Unknown Stream", "7"),
        ("downlink/ds/Power/prop/color", "FF0000"),
        ("downlink/ds/", "1"),
        ("downlink/ds/Power", b"\xff\xfe".decode("latin-1")),
    ]:
        await device.send(topic, payload)
    await device.write("Terminal", "?")
    await device.wait_for(lambda d: any("Available" in line for line in terminal_lines(d)))
    assert state_of(hass, CLIMATE) == "heat"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


# Redirect ---------------------------------------------------------------------------


@pytest.fixture
async def second_cloud(socket_enabled: None) -> AsyncIterator[BlynkCloud]:
    cloud = BlynkCloud(ws_port=0)
    await cloud.start()
    cloud.add_device(TOKEN, {"Power": "0", "Set Temperature": "18"})
    yield cloud
    await cloud.stop()


@pytest.mark.parametrize("scheme", ["mqtt", "tcp", "ws"])
async def test_redirect_is_followed_and_kept(
    hass: HomeAssistant,
    cloud: BlynkCloud,
    second_cloud: BlynkCloud,
    heater_data: dict[str, Any],
    make_entry: Callable[..., MockConfigEntry],
    scheme: str,
) -> None:
    target = second_cloud.ws_url if scheme == "ws" else f"{scheme}://127.0.0.1:{second_cloud.port}"
    cloud.redirect = target
    entry = await set_up(hass, make_entry(heater_data))
    moved = second_cloud.device(TOKEN)
    await moved.wait_for(lambda d: d.connected)
    # The second cloud's values are the truth now.
    await wait_for(hass, lambda: attribute(hass, ATTR_TEMPERATURE) == 18)
    assert state_of(hass, CLIMATE) == "off"

    # A dropped connection reconnects to the redirect target, not the configured server.
    connections = moved.connections
    first_cloud_connections = cloud.device(TOKEN).connections
    moved.disconnect()
    await moved.wait_for(lambda d: d.connections == connections + 1 and d.connected, timeout=10)
    assert cloud.device(TOKEN).connections == first_cloud_connections
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.fixture
def certificate_authority(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[trustme.CA]:
    """A throwaway CA that Home Assistant's side trusts as part of the system store."""
    ca = trustme.CA()
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(bundle)
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    system_tls_context.cache_clear()
    yield ca
    system_tls_context.cache_clear()


@pytest.fixture
async def tls_cloud(
    socket_enabled: None, certificate_authority: trustme.CA
) -> AsyncIterator[BlynkCloud]:
    """The Blynk emulator behind TLS (mqtts and wss), with the heater's device."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificate_authority.issue_cert("127.0.0.1").configure_cert(context)
    cloud = BlynkCloud(ssl_context=context, ws_port=0)
    await cloud.start()
    cloud.add_device(TOKEN, {"Power": "1", "Set Temperature": "24"})
    yield cloud
    await cloud.stop()


@pytest.mark.parametrize("scheme", ["mqtt", "tcp", "ws"])
async def test_a_redirect_from_tls_to_plain_text_is_not_followed(
    hass: HomeAssistant,
    tls_cloud: BlynkCloud,
    second_cloud: BlynkCloud,
    heater_data: dict[str, Any],
    make_entry: Callable[..., MockConfigEntry],
    caplog: pytest.LogCaptureFixture,
    scheme: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    plain = second_cloud.ws_url if scheme == "ws" else f"{scheme}://127.0.0.1:{second_cloud.port}"
    tls_cloud.redirect = plain
    entry = await set_up(hass, make_entry({**heater_data, CONF_BLYNK_SERVER: tls_cloud.url}))
    secure = tls_cloud.device(TOKEN)
    await wait_for(hass, lambda: attribute(hass, ATTR_TEMPERATURE) == 24)
    # The connection is redirected again after a drop, and again refused.
    secure.disconnect()
    await secure.wait_for(lambda d: d.connections == 2 and d.connected, timeout=10)
    await wait_for(hass, lambda: state_of(hass, CLIMATE) != STATE_UNAVAILABLE)
    await call(hass, "set_temperature", temperature=22)
    await secure.wait_for(lambda d: d.value("Set Temperature") == "22")
    # The plain-text server never saw a connection, let alone the token.
    assert second_cloud.device(TOKEN).connections == 0
    assert second_cloud.refused_logins == 0
    assert entry.runtime_data.heater.device.link.current_endpoint.tls
    refusals = [r for r in caplog.records if "not encrypted" in r.getMessage()]
    assert [r.levelno for r in refusals][:2] == [logging.WARNING, logging.DEBUG]  # Once.
    assert TOKEN not in caplog.text
    await hass.config_entries.async_unload(entry.entry_id)


async def test_a_redirect_from_tls_to_tls_is_followed(
    hass: HomeAssistant,
    tls_cloud: BlynkCloud,
    heater_data: dict[str, Any],
    make_entry: Callable[..., MockConfigEntry],
) -> None:
    tls_cloud.redirect = tls_cloud.ws_url  # wss: another region, still encrypted.
    entry = await set_up(hass, make_entry({**heater_data, CONF_BLYNK_SERVER: tls_cloud.url}))
    link = entry.runtime_data.heater.device.link
    await wait_for(hass, lambda: link.current_endpoint.websocket and link.connected)
    assert link.current_endpoint.tls
    await hass.config_entries.async_unload(entry.entry_id)


async def test_redirect_target_that_stops_answering_falls_back(
    hass: HomeAssistant,
    cloud: BlynkCloud,
    second_cloud: BlynkCloud,
    heater_data: dict[str, Any],
    make_entry: Callable[..., MockConfigEntry],
) -> None:
    cloud.redirect = second_cloud.url
    entry = await set_up(hass, make_entry(heater_data))
    await second_cloud.device(TOKEN).wait_for(lambda d: d.connected)

    cloud.redirect = None
    await second_cloud.stop()
    await cloud.device(TOKEN).wait_for(lambda d: d.connected, timeout=20)
    await wait_for(hass, lambda: attribute(hass, ATTR_TEMPERATURE) == 25)
    await hass.config_entries.async_unload(entry.entry_id)


async def test_invalid_redirect_is_ignored(
    hass: HomeAssistant,
    heater_entry: MockConfigEntry,
    device: Device,
    caplog: pytest.LogCaptureFixture,
) -> None:
    connections = device.connections
    assert await device.send("downlink/redirect", "gopher://nowhere:70")
    await device.write("Terminal", "help")
    await device.wait_for(lambda d: any("Available" in line for line in terminal_lines(d)))
    assert device.connections == connections
    assert device.connected
    assert "Ignored a Blynk redirect" in caplog.text


# Faults -----------------------------------------------------------------------------


async def test_unavailable_while_blynk_is_down(
    hass: HomeAssistant,
    cloud: BlynkCloud,
    heater_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    port = cloud.port
    await cloud.stop()
    await wait_for(hass, lambda: state_of(hass, CLIMATE) == STATE_UNAVAILABLE)
    # The bell does not depend on Blynk.
    assert heater_entry.runtime_data.bell.available

    revived = BlynkCloud(port=port)
    await revived.start()
    try:
        revived.add_device(TOKEN, {"Power": "0", "Set Temperature": "20"})
        await wait_for(hass, lambda: state_of(hass, CLIMATE) == "off", timeout=20)
        assert attribute(hass, ATTR_TEMPERATURE) == 20
    finally:
        await hass.config_entries.async_unload(heater_entry.entry_id)
        await revived.stop()
    assert caplog.text.count("Lost the connection to Blynk") == 1
    assert caplog.text.count("Reconnected to Blynk") == 1


async def test_change_on_a_dead_link_is_sent_after_reconnecting(
    hass: HomeAssistant,
    cloud: BlynkCloud,
    device: Device,
    heater_data: dict[str, Any],
    make_entry: Callable[..., MockConfigEntry],
) -> None:
    proxy = TcpProxy(cloud.port)
    await proxy.start()
    try:
        entry = await set_up(hass, make_entry({**heater_data, CONF_BLYNK_SERVER: proxy.url}))
        await wait_for(hass, lambda: attribute(hass, ATTR_TEMPERATURE) == 25)

        proxy.freeze()  # The link looks alive but carries nothing.
        await call(hass, "set_temperature", temperature=21)
        await call(hass, "set_temperature", temperature=20.5)  # The last value wins.
        assert device.value("Set Temperature") == "25"
        assert entry.runtime_data.heater.controller.pending == {"Set Temperature": "20.5"}

        proxy.cut()  # Now the loss is noticed, and the link reconnects.
        await device.wait_for(lambda d: d.value("Set Temperature") == "20.5", timeout=15)
        assert attribute(hass, ATTR_TEMPERATURE) == 20.5
        await wait_for(hass, lambda: not entry.runtime_data.heater.controller.pending)
        await hass.config_entries.async_unload(entry.entry_id)
    finally:
        await proxy.stop()


async def test_unsent_change_survives_a_restart(
    hass: HomeAssistant,
    device: Device,
    heater_data: dict[str, Any],
    make_entry: Callable[..., MockConfigEntry],
) -> None:
    mock_restore_cache_with_extra_data(
        hass,
        [
            (
                State(CLIMATE, "heat", {ATTR_TEMPERATURE: 21}),
                {"pending": {"Set Temperature": "21"}},
            )
        ],
    )
    entry = await set_up(hass, make_entry(heater_data))
    await device.wait_for(lambda d: d.value("Set Temperature") == "21")
    assert attribute(hass, ATTR_TEMPERATURE) == 21
    await hass.config_entries.async_unload(entry.entry_id)


async def test_last_known_state_stays_until_blynk_has_a_value(
    hass: HomeAssistant,
    cloud: BlynkCloud,
    heater_data: dict[str, Any],
    make_entry: Callable[..., MockConfigEntry],
) -> None:
    cloud.remove_device(TOKEN)
    fresh = cloud.add_device(TOKEN)
    fresh.values.pop("Set Temperature", None)
    mock_restore_cache_with_extra_data(
        hass, [(State(CLIMATE, "off", {ATTR_TEMPERATURE: 26}), {"pending": {}})]
    )
    entry = await set_up(hass, make_entry(heater_data))
    await fresh.wait_for(lambda d: any(item.topic == "get/ds" for item in d.published))
    await hass.async_block_till_done()
    assert attribute(hass, ATTR_TEMPERATURE) == 26
    assert state_of(hass, CLIMATE) == "off"
    await hass.config_entries.async_unload(entry.entry_id)


async def test_wrong_token_asks_for_a_new_one_and_stops_trying(
    hass: HomeAssistant,
    cloud: BlynkCloud,
    heater_data: dict[str, Any],
    make_entry: Callable[..., MockConfigEntry],
    caplog: pytest.LogCaptureFixture,
) -> None:
    entry = await set_up(
        hass, make_entry({**heater_data, CONF_TOKEN: "revoked-token"}), wait_available=False
    )
    await wait_for(hass, lambda: cloud.refused_logins == 1)
    await wait_for(hass, lambda: hass.config_entries.flow.async_progress_by_handler(DOMAIN))
    flow = hass.config_entries.flow.async_progress_by_handler(DOMAIN)[0]
    assert flow["context"]["source"] == "reauth"
    assert flow["step_id"] == "reauth_confirm"
    assert state_of(hass, CLIMATE) == STATE_UNAVAILABLE
    # The bell keeps working; Blynk is not asked again with the bad token.
    assert entry.runtime_data.bell.available
    await hass.async_block_till_done()
    assert cloud.refused_logins == 1
    assert "revoked-token" not in caplog.text
    await hass.config_entries.async_unload(entry.entry_id)


async def test_another_client_on_the_token_raises_a_repair_issue(
    hass: HomeAssistant,
    cloud: BlynkCloud,
    device: Device,
    heater_entry: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(blynk_protocol, "CONFLICT_HOLD_OFF", 0.5)
    monkeypatch.setattr(blynk_protocol, "STABLE_AFTER", 2.0)
    issue_id = f"token_conflict_{heater_entry.entry_id}"

    class Quiet(BlynkListener):
        pass

    # The sample script someone forgot to stop: it reconnects whenever it is kicked. Both
    # retry within half a second, so the fight is quicker than STABLE_AFTER above.
    sample = BlynkDevice(Endpoint.from_url(cloud.url), TOKEN, Quiet(), DeviceInfo("1", "1"))
    for link in (sample.link, heater_entry.runtime_data.heater.device.link):
        link._backoff = Backoff(0.1, 0.5)
    sample.start()
    try:
        await wait_for(
            hass,
            lambda: ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is not None,
            timeout=30,
        )
        issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
        assert issue is not None
        assert issue.translation_key == "token_conflict"
    finally:
        await sample.async_stop()
    # With the other client gone, the connection stays up and the issue goes away.
    await wait_for(
        hass,
        lambda: ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None,
        timeout=30,
    )
    assert device.connected


@pytest.fixture
def quick_conflicts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(blynk_protocol, "CONFLICT_HOLD_OFF", 0.5)
    monkeypatch.setattr(blynk_protocol, "STABLE_AFTER", 2.0)


def sample_script(cloud: BlynkCloud, heater_entry: MockConfigEntry) -> BlynkDevice:
    """The sample script someone forgot to stop, on the heater's token.

    Both it and the heater retry within half a second, as the sample script does once
    kicked, so the fight shows within the tests' waits.
    """
    sample = BlynkDevice(Endpoint.from_url(cloud.url), TOKEN, Quiet(), DeviceInfo("1", "1"))
    for link in (sample.link, heater_entry.runtime_data.heater.device.link):
        link._backoff = Backoff(0.1, 0.5)
    return sample


def conflict_issue(hass: HomeAssistant, entry: MockConfigEntry) -> ir.IssueEntry | None:
    return ir.async_get(hass).async_get_issue(DOMAIN, f"token_conflict_{entry.entry_id}")


class Quiet(BlynkListener):
    pass


@pytest.mark.usefixtures("quick_conflicts")
async def test_the_conflict_notice_outlives_a_reload_and_clears_once_the_conflict_ends(
    hass: HomeAssistant, cloud: BlynkCloud, device: Device, heater_entry: MockConfigEntry
) -> None:
    sample = sample_script(cloud, heater_entry)
    sample.start()
    try:
        await wait_for(hass, lambda: conflict_issue(hass, heater_entry) is not None, timeout=30)
        # Reloading does not hide a conflict that goes on.
        await hass.config_entries.async_reload(heater_entry.entry_id)
        await hass.async_block_till_done()
        assert conflict_issue(hass, heater_entry) is not None
    finally:
        await sample.async_stop()
    # The other client is gone: the next connection stays up and the notice goes.
    await wait_for(hass, lambda: conflict_issue(hass, heater_entry) is None, timeout=30)
    assert device.connected


@pytest.mark.usefixtures("quick_conflicts")
async def test_the_conflict_notice_clears_with_a_new_token(
    hass: HomeAssistant, cloud: BlynkCloud, heater_entry: MockConfigEntry
) -> None:
    sample = sample_script(cloud, heater_entry)
    sample.start()
    try:
        await wait_for(hass, lambda: conflict_issue(hass, heater_entry) is not None, timeout=30)
        own = cloud.add_device("a-token-of-its-own", {"Power": "1", "Set Temperature": "25"})
        hass.config_entries.async_update_entry(
            heater_entry, data={**heater_entry.data, CONF_TOKEN: "a-token-of-its-own"}
        )
        await hass.config_entries.async_reload(heater_entry.entry_id)
        await own.wait_for(lambda d: d.connected, timeout=10)
        # The sample script still runs, on the old token: no conflict for us any more.
        await wait_for(hass, lambda: conflict_issue(hass, heater_entry) is None, timeout=30)
    finally:
        await sample.async_stop()


# Real heater ------------------------------------------------------------------------


async def test_real_heater_mode_drives_a_switch_from_a_sensor(
    hass: HomeAssistant,
    cloud: BlynkCloud,
    device: Device,
    heater_data: dict[str, Any],
    make_entry: Callable[..., MockConfigEntry],
) -> None:
    assert await async_setup_component(hass, "input_boolean", {"input_boolean": {"plug": {}}})
    hass.states.async_set(
        "sensor.dining_room", "18.0", {"unit_of_measurement": "°C", "device_class": "temperature"}
    )
    entry = make_entry(
        heater_data,
        {
            CONF_HEATER_MODE: "entities",
            CONF_TEMPERATURE_SENSOR: "sensor.dining_room",
            CONF_HEATER_SWITCH: "input_boolean.plug",
            CONF_HYSTERESIS: 0.5,
        },
    )
    await set_up(hass, entry)
    await wait_for(hass, lambda: state_of(hass, CLIMATE) == "heat")

    await call(hass, "set_temperature", temperature=21)
    await wait_for(hass, lambda: state_of(hass, "input_boolean.plug") == "on")
    await wait_for(hass, lambda: attribute(hass, "hvac_action") == "heating")
    await device.wait_for(lambda d: d.value("Status") == "3")
    await device.wait_for(lambda d: d.value("Current Temperature") == "18.0")
    assert attribute(hass, "current_temperature") == 18.0

    # Between set point - hysteresis and the set point: keep heating.
    hass.states.async_set("sensor.dining_room", "20.7", {"unit_of_measurement": "°C"})
    await hass.async_block_till_done()
    await wait_for(hass, lambda: attribute(hass, "current_temperature") == 20.7)
    assert state_of(hass, "input_boolean.plug") == "on"

    hass.states.async_set("sensor.dining_room", "21.1", {"unit_of_measurement": "°C"})
    await wait_for(hass, lambda: state_of(hass, "input_boolean.plug") == "off")
    await wait_for(hass, lambda: attribute(hass, "hvac_action") == "idle")
    await device.wait_for(lambda d: d.value("Status") == "2")

    hass.states.async_set("sensor.dining_room", "66", {"unit_of_measurement": "°F"})
    await wait_for(hass, lambda: state_of(hass, "input_boolean.plug") == "on")  # 18.9 °C

    await device.write("Power", "0")
    await wait_for(hass, lambda: state_of(hass, "input_boolean.plug") == "off")
    await device.wait_for(lambda d: d.value("Status") == "1")

    # A thermometer that goes away never leaves the heater running.
    await device.write("Power", "1")
    await wait_for(hass, lambda: state_of(hass, "input_boolean.plug") == "on")
    hass.states.async_set("sensor.dining_room", "unavailable")
    await wait_for(hass, lambda: state_of(hass, "input_boolean.plug") == "off")
    await hass.config_entries.async_unload(entry.entry_id)


PLUG = "input_boolean.plug"
THERMOMETER = "sensor.dining_room"
REAL_HEATER = {
    CONF_HEATER_MODE: "entities",
    CONF_TEMPERATURE_SENSOR: THERMOMETER,
    CONF_HEATER_SWITCH: PLUG,
    CONF_HYSTERESIS: 0.5,
}


def thermometer(hass: HomeAssistant, value: str, *, age: float = 0.0) -> None:
    """The sensor reports `value`, `age` seconds ago."""
    hass.states.async_set(
        THERMOMETER,
        value,
        {"unit_of_measurement": "°C", "device_class": "temperature"},
        timestamp=time.time() - age,
    )


@pytest.fixture
async def real_heater(
    hass: HomeAssistant,
    device: Device,
    heater_data: dict[str, Any],
    make_entry: Callable[..., MockConfigEntry],
) -> AsyncIterator[MockConfigEntry]:
    """A real heater at 18 °C, on, set to 21 in Blynk: its plug is on."""
    assert await async_setup_component(hass, "input_boolean", {"input_boolean": {"plug": {}}})
    device.values.update({"Power": "1", "Set Temperature": "21"})
    thermometer(hass, "18.0")
    entry = await set_up(hass, make_entry(heater_data, REAL_HEATER))
    await wait_for(hass, lambda: state_of(hass, PLUG) == "on")
    yield entry
    if entry.state is ConfigEntryState.LOADED:
        await hass.config_entries.async_unload(entry.entry_id)


async def safety(hass: HomeAssistant, entry: MockConfigEntry) -> dict[str, Any]:
    diagnostics = await async_get_config_entry_diagnostics(hass, entry)
    real: dict[str, Any] = diagnostics["heater"]["real_heater"]
    return real


async def test_a_real_heater_runs_without_blynk_and_blynk_catches_up(
    hass: HomeAssistant, cloud: BlynkCloud, real_heater: MockConfigEntry
) -> None:
    port = cloud.port
    await cloud.stop()  # Blynk is out of reach: the thermostat carries on here.
    await wait_for(hass, lambda: not real_heater.runtime_data.heater.device.connected)
    assert state_of(hass, CLIMATE) == "heat"
    await call(hass, "set_temperature", temperature=19)
    thermometer(hass, "19.2")
    await wait_for(hass, lambda: state_of(hass, PLUG) == "off")
    await wait_for(hass, lambda: attribute(hass, "hvac_action") == "idle")
    assert state_of(hass, CLIMATE) == "heat"

    revived = BlynkCloud(port=port)
    await revived.start()
    try:
        back = revived.add_device(TOKEN, {"Power": "1", "Set Temperature": "21"})
        await back.wait_for(lambda d: d.value("Set Temperature") == "19", timeout=20)
        await back.wait_for(lambda d: d.value("Status") == "2")  # Idle, as here.
        assert attribute(hass, ATTR_TEMPERATURE) == 19
        assert state_of(hass, PLUG) == "off"
    finally:
        await hass.config_entries.async_unload(real_heater.entry_id)
        await revived.stop()


async def test_a_real_heater_is_switched_off_when_the_entry_unloads(
    hass: HomeAssistant, real_heater: MockConfigEntry
) -> None:
    assert await hass.config_entries.async_unload(real_heater.entry_id)
    assert state_of(hass, PLUG) == "off"


async def test_a_real_heater_is_switched_off_when_home_assistant_stops(
    hass: HomeAssistant, real_heater: MockConfigEntry
) -> None:
    hass.bus.async_fire(EVENT_HOMEASSISTANT_STOP)
    await hass.async_block_till_done()
    assert state_of(hass, PLUG) == "off"
    thermometer(hass, "15.0")  # Cold, but nothing may switch it on again.
    await asyncio.sleep(1.5)
    await hass.async_block_till_done()
    assert state_of(hass, PLUG) == "off"
    assert (await safety(hass, real_heater))["last_cut_off"]["rule"] == "home_assistant_stopped"


async def test_a_real_heater_is_switched_off_when_the_thermometer_is_unavailable(
    hass: HomeAssistant, real_heater: MockConfigEntry
) -> None:
    hass.states.async_set(THERMOMETER, "unavailable")
    await wait_for(hass, lambda: state_of(hass, PLUG) == "off")
    assert state_of(hass, CLIMATE) == "heat"  # Still on: it heats again once it can.
    rules = await safety(hass, real_heater)
    assert rules["cut_off"] == "thermometer_unavailable"
    assert rules["last_cut_off"]["rule"] == "thermometer_unavailable"
    thermometer(hass, "18.0")
    await wait_for(hass, lambda: state_of(hass, PLUG) == "on")
    assert (await safety(hass, real_heater))["cut_off"] is None


async def test_a_real_heater_is_switched_off_when_the_thermometer_is_silent(
    hass: HomeAssistant, real_heater: MockConfigEntry, caplog: pytest.LogCaptureFixture
) -> None:
    thermometer(hass, "18.2", age=9 * 60)  # Nine minutes without a report: fine.
    await asyncio.sleep(1.5)
    await hass.async_block_till_done()
    assert state_of(hass, PLUG) == "on"
    thermometer(hass, "18.3", age=10 * 60 + 1)  # Ten: its last value cannot be trusted.
    await wait_for(hass, lambda: state_of(hass, PLUG) == "off")
    assert (await safety(hass, real_heater))["cut_off"] == "thermometer_silent"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "Switched the heater input_boolean.plug off: thermometer_silent" in warnings
    thermometer(hass, "18.3")
    await wait_for(hass, lambda: state_of(hass, PLUG) == "on")


@pytest.mark.parametrize(
    ("target", "reading", "rule"),
    [(21, "26.5", "above_set_point"), (30, "35.5", "above_absolute_limit")],
)
async def test_a_real_heater_is_kept_off_above_its_limits(
    hass: HomeAssistant,
    real_heater: MockConfigEntry,
    target: float,
    reading: str,
    rule: str,
) -> None:
    await call(hass, "set_temperature", temperature=target)
    thermometer(hass, reading)
    await wait_for(hass, lambda: state_of(hass, PLUG) == "off")
    assert (await safety(hass, real_heater))["cut_off"] == rule
    # Someone switches the plug on by hand: it goes off again within seconds.
    await hass.services.async_call("input_boolean", "turn_on", {ATTR_ENTITY_ID: PLUG})
    await wait_for(hass, lambda: state_of(hass, PLUG) == "on")
    await wait_for(hass, lambda: state_of(hass, PLUG) == "off", timeout=10)


async def test_token_never_appears_in_logs(
    hass: HomeAssistant,
    heater_entry: MockConfigEntry,
    device: Device,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    await device.send("downlink/reboot")
    await device.wait_for(lambda d: d.connected and d.connections >= 2)
    await hass.config_entries.async_reload(heater_entry.entry_id)
    await hass.async_block_till_done()
    assert TOKEN not in caplog.text
