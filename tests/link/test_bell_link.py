"""The bell's link in Home Assistant: its sessions, and presses that come with CONNACK."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import json
from pathlib import Path
import re
import ssl
import time
from typing import Any

from homeassistant.const import EVENT_STATE_CHANGED, STATE_UNAVAILABLE
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from blynk_emulator import packets
from custom_components.blynk_bell import config_flow
from custom_components.blynk_bell.const import (
    CONF_PASSWORD,
    CONF_PORT,
    CONF_TLS,
    CONF_TOPIC,
    CONF_USERNAME,
    DOMAIN,
)
from custom_components.blynk_bell.protocol.backoff import Backoff
from custom_components.blynk_bell.service_bell import bell_client_id

from ..conftest import TOPIC
from ..helpers import state_of, wait_for
from ..mosquitto import Mosquitto
from .tiny_broker import TinyBroker

EVENT = "event.service_bell_table_{}"


class EventChanges:
    """The state changes of one table's event entity: (old state, new event type)."""

    def __init__(self, hass: HomeAssistant, table: int) -> None:
        self.changes: list[tuple[str | None, str | None]] = []
        entity_id = EVENT.format(table)

        @callback
        def changed(event: Event[EventStateChangedData]) -> None:
            if event.data["entity_id"] != entity_id or (new := event.data["new_state"]) is None:
                return
            old = event.data["old_state"]
            self.changes.append((old.state if old else None, new.attributes.get("event_type")))

        self.close = hass.bus.async_listen(EVENT_STATE_CHANGED, changed)


async def test_a_queued_press_in_the_connacks_tls_record_fires_on_an_available_entity(
    hass: HomeAssistant,
    socket_enabled: None,
    trusted_ca: None,
    server_tls: ssl.SSLContext,
    bell_data: dict[str, Any],
    make_entry: Callable[..., MockConfigEntry],
) -> None:
    press = json.dumps({"button": 2, "event": "press", "seq": 5, "age_ms": 300}).encode()
    # The second connection finds a press queued in the persistent session, and the
    # broker sends it in the same TLS record as the CONNACK.
    broker = TinyBroker(
        server_tls,
        after_connack=lambda visit: (
            packets.encode_publish(TOPIC, press, 1, 1) if visit > 1 else b""
        ),
    )
    await broker.start()
    try:
        entry = make_entry({**bell_data, CONF_PORT: broker.port, CONF_TLS: True})
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        bell = entry.runtime_data.bell
        bell.link._backoff = Backoff(0.05, 0.2)
        changes = EventChanges(hass, 2)

        broker.session_present = True
        broker.drop_all()
        await wait_for(hass, lambda: len(broker.visits) == 2 and broker.visits[1].pubacks)
        await wait_for(hass, lambda: (STATE_UNAVAILABLE, None) in changes.changes)
        await wait_for(hass, lambda: any(kind == "press" for _old, kind in changes.changes))
        # The blueprint notifies on a change that is not from "unavailable": the press
        # must land on an entity that is already available again.
        pressed = [old for old, kind in changes.changes if kind == "press"]
        assert pressed
        assert STATE_UNAVAILABLE not in pressed
        assert state_of(hass, "binary_sensor.service_bell_table_2_calling") == "on"
        changes.close()
        await hass.config_entries.async_unload(entry.entry_id)
    finally:
        await broker.stop()


def test_the_client_id_is_stable_per_entry_and_topic() -> None:
    ids = {bell_client_id("entry-1", topic) for topic in ("SunFounder MQTT Test", "Terrace")}
    assert len(ids) == 2
    assert bell_client_id("entry-1", "Terrace") == bell_client_id("entry-1", "Terrace")
    assert bell_client_id("entry-2", "Terrace") not in ids
    assert all(len(client_id) == 23 for client_id in ids)  # The length every broker allows.


@pytest.fixture
async def persistent_mosquitto(socket_enabled: None, tmp_path: Path) -> Any:
    broker = Mosquitto(tmp_path, persistent=True)
    await broker.start()
    yield broker
    await broker.stop()


async def session_present(broker: Mosquitto, client_id: str) -> bool:
    """Log in with `client_id` and a persistent session: does the broker hold one?"""
    reader, writer = await asyncio.open_connection(broker.host, broker.port)
    try:
        writer.write(packets.encode_connect(client_id, clean_session=False))
        connack = await reader.readexactly(4)
        writer.write(packets.encode_disconnect())
        await writer.drain()
    finally:
        writer.close()
        await writer.wait_closed()
    return bool(connack[2] & 0x01)


async def test_after_a_topic_change_the_old_topic_neither_arrives_nor_queues(
    hass: HomeAssistant,
    persistent_mosquitto: Mosquitto,
    bell_data: dict[str, Any],
    make_entry: Callable[..., MockConfigEntry],
) -> None:
    broker = persistent_mosquitto
    data = {**bell_data, CONF_PORT: broker.port}
    entry = make_entry(data)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    await wait_for(hass, lambda: entry.runtime_data.bell.available)
    old_client_id = bell_client_id(entry.entry_id, TOPIC)

    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {
            "broker": broker.host,
            "port": broker.port,
            "username": "",
            "password": "",
            "tls": False,
            "topic": "Terrace bell",
        },
    )
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.ABORT
    await hass.async_block_till_done()
    assert entry.data[CONF_TOPIC] == "Terrace bell"
    await wait_for(hass, lambda: entry.runtime_data.bell.available)

    await broker.publish(TOPIC, json.dumps({"button": 1, "event": "press", "seq": 1}))
    await broker.publish("Terrace bell", json.dumps({"button": 3, "event": "press", "seq": 1}))
    await wait_for(
        hass, lambda: state_of(hass, "binary_sensor.service_bell_table_3_calling") == "on"
    )
    assert state_of(hass, "binary_sensor.service_bell_table_1_calling") == "off"
    log = await hass.async_add_executor_job(broker.log_text)
    # No client is subscribed to the old topic any more: Mosquitto sent its press to nobody...
    assert not re.search(rf"Sending PUBLISH to \S+ \(.*'{TOPIC}'", log)
    # ...and the old session, which would queue it, is gone.
    assert not await session_present(broker, old_client_id)
    await hass.config_entries.async_unload(entry.entry_id)


async def test_diagnostics_tell_the_links_story_without_its_secrets(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    mosquitto: Mosquitto,
    bell_data: dict[str, Any],
    make_entry: Callable[..., MockConfigEntry],
) -> None:
    assert await async_setup_component(hass, "diagnostics", {})
    entry = make_entry({**bell_data, CONF_USERNAME: "waiter", CONF_PASSWORD: "broker-s3cret"})
    assert await hass.config_entries.async_setup(entry.entry_id)
    bell = entry.runtime_data.bell
    await wait_for(hass, lambda: bell.available)
    bell.link._backoff = Backoff(0.05, 0.2)
    await mosquitto.restart()
    await wait_for(hass, lambda: bell.available and bell.link.stats.connections == 2)

    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    link = diagnostics["bell"]["link"]
    assert link["state"] == "connected"
    assert link["connections"] == 2
    assert link["attempts"] >= 2
    assert link["last_disconnect"] == "the broker closed the connection"
    assert link["connected_for_s"] >= 0
    assert link["current_endpoint"] == f"mqtt://127.0.0.1:{mosquitto.port}"
    assert "broker-s3cret" not in json.dumps(diagnostics)
    await hass.config_entries.async_unload(entry.entry_id)


async def test_the_config_flow_answers_in_time_on_a_tls_port_that_never_speaks(
    hass: HomeAssistant,
    socket_enabled: None,
    bell_data: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(config_flow, "CHECK_TIMEOUT", 1.0)  # 10 s in real life.
    held: list[asyncio.StreamWriter] = []

    async def hold(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    bell_input = {k: v for k, v in bell_data.items() if k not in ("token", "blynk_server")}
    try:
        result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": "user"})
        started = time.monotonic()
        async with asyncio.timeout(10):  # Before: paho's keepalive, about 60 s.
            result = await hass.config_entries.flow.async_configure(
                result["flow_id"], {**bell_input, "bell_key": "", CONF_PORT: port, CONF_TLS: True}
            )
        assert time.monotonic() - started < 3
        assert result["errors"] == {"base": "cannot_connect_timed_out"}
        assert "TLS handshake" in result["description_placeholders"]["error"]
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()
