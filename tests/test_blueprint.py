"""The "notify the waiter" automation blueprint, run by Home Assistant on a real bell.

Presses go through a real Mosquitto; the blueprint is installed in a configuration
folder as a user would (copied, or imported from its GitHub address) and used by an
automation. The waiter's phone is a notify action recording what it is asked to send.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
import itertools
import json
import logging
from pathlib import Path
import shutil
import time
from typing import Any
from unittest.mock import patch

from homeassistant.components import persistent_notification
from homeassistant.components.automation.config import AUTOMATION_BLUEPRINT_SCHEMA
from homeassistant.components.blueprint.models import Blueprint
from homeassistant.const import ATTR_ENTITY_ID, STATE_OFF, STATE_ON, STATE_UNAVAILABLE
from homeassistant.core import Event, HomeAssistant, ServiceCall, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util, yaml as yaml_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
    async_mock_service,
)
from pytest_homeassistant_custom_component.test_util.aiohttp import AiohttpClientMocker
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from custom_components.blynk_bell.const import CONF_TOPIC, DOMAIN, EVENT_BELL

from .conftest import TOPIC
from .helpers import state_of
from .mosquitto import Mosquitto

REPO = Path(__file__).parents[1]
BLUEPRINT_IN_REPO = Path("blueprints/automation/blynk_bell/notify_waiter.yaml")
BLUEPRINT = REPO / BLUEPRINT_IN_REPO
GITHUB_URL = f"https://github.com/blynk-bell/blynk_bell/blob/main/{BLUEPRINT_IN_REPO.as_posix()}"
RAW_URL = (
    f"https://raw.githubusercontent.com/blynk-bell/blynk_bell/main/{BLUEPRINT_IN_REPO.as_posix()}"
)

AUTOMATION = "automation.notify_the_waiter"
CALLING = "binary_sensor.service_bell_table_{}_calling"
EVENT = "event.service_bell_table_{}"
ACK = "button.service_bell_acknowledge_table_{}"
ALL_TABLES = [EVENT.format(table) for table in (1, 2, 3, 4)]

PHONE_ACTION = [
    {
        "action": "notify.waiter_phone",
        "data": {
            "title": "{{ title }}",
            "message": "{{ message }}",
            "data": {"tag": "{{ notification_id }}"},
        },
    }
]
CLEAR_ON_PHONE = [
    {
        "action": "notify.waiter_phone",
        "data": {"message": "clear_notification", "data": {"tag": "{{ notification_id }}"}},
    }
]
# The Companion app's notification with the blueprint's "Acknowledge" action attached.
PHONE_WITH_ACKNOWLEDGE = [
    {
        "action": "notify.waiter_phone",
        "data": {
            "title": "{{ title }}",
            "message": "{{ message }}",
            "data": {"tag": "{{ notification_id }}", "actions": "{{ actions }}"},
        },
    }
]
ACK_ACTION = "blynk_bell_acknowledge_button.service_bell_acknowledge_table_{}"
MANAGER_ACTION = [
    {
        "action": "notify.manager_phone",
        "data": {
            "title": "{{ title }}",
            "message": "{{ message }}",
            "data": {"tag": "{{ notification_id }}", "actions": "{{ actions }}"},
        },
    }
]
# Clears the waiter's phone, and the manager's once the manager was told.
CLEAR_BOTH_PHONES = [
    *CLEAR_ON_PHONE,
    {
        "if": [{"condition": "template", "value_template": "{{ escalated }}"}],
        "then": [
            {
                "action": "notify.manager_phone",
                "data": {
                    "message": "clear_notification",
                    "data": {"tag": "{{ notification_id }}"},
                },
            }
        ],
    },
]


# Installing and using the blueprint ---------------------------------------------------


@pytest.fixture
def config_dir(hass: HomeAssistant, tmp_path: Path) -> Path:
    """A configuration folder of our own: blueprints are files in it."""
    config = tmp_path / "config"
    config.mkdir()
    hass.config.config_dir = str(config)
    return config


@pytest.fixture
def installed(config_dir: Path) -> str:
    """The blueprint copied into the configuration, as a manual install does."""
    target = config_dir / "blueprints" / "automation" / "blynk_bell" / "notify_waiter.yaml"
    target.parent.mkdir(parents=True)
    shutil.copyfile(BLUEPRINT, target)
    return "blynk_bell/notify_waiter.yaml"


@pytest.fixture
def phone(hass: HomeAssistant) -> list[ServiceCall]:
    """The waiter's phone: a notify action, as the Companion app registers one."""
    return async_mock_service(hass, "notify", "waiter_phone")


@pytest.fixture
def manager(hass: HomeAssistant) -> list[ServiceCall]:
    """The manager's phone, told when a table is left unanswered."""
    return async_mock_service(hass, "notify", "manager_phone")


@pytest.fixture
def acknowledged(hass: HomeAssistant) -> list[tuple[str, int]]:
    """The calls acknowledged, as (config entry, table), from the bell's events."""
    seen: list[tuple[str, int]] = []

    @callback
    def record(event: Event) -> None:
        if event.data["type"] == "call_acknowledged":
            seen.append((event.data["entry_id"], event.data["table"]))

    hass.bus.async_listen(EVENT_BELL, record)
    return seen


async def use_blueprint(hass: HomeAssistant, path: str, **inputs: Any) -> None:
    """Create the automation "Notify the waiter" from the blueprint with these inputs."""
    config = {
        "id": "notify_the_waiter",
        "alias": "Notify the waiter",
        "use_blueprint": {"path": path, "input": inputs},
    }
    assert await async_setup_component(hass, "automation", {"automation": [config]})
    await hass.async_block_till_done()
    # An automation whose blueprint or inputs are invalid is unavailable.
    assert state_of(hass, AUTOMATION) == STATE_ON


async def use_with_phone(hass: HomeAssistant, path: str, **inputs: Any) -> None:
    """Use the blueprint with the phone; reminders count instead of telling the minutes.

    The clock of the test does not move (time passing is simulated), so minutes waited
    are only told where a press was dated earlier by the firmware.
    """
    await use_blueprint(
        hass,
        path,
        **{
            "bell_events": ALL_TABLES,
            "notify_action": PHONE_ACTION,
            "ended_action": CLEAR_ON_PHONE,
            "reminder_message": "{{ table_name }}: reminder {{ reminder }}",
            **inputs,
        },
    )


def sent(phone: list[ServiceCall]) -> list[str]:
    """The messages the phone was asked to show (clear_notification included)."""
    return [call.data["message"] for call in phone]


def running(hass: HomeAssistant) -> int:
    """How many runs of the automation are going on (reminder loops among them)."""
    state = hass.states.get(AUTOMATION)
    assert state is not None
    return int(state.attributes["current"])


# Numbered like our firmware's presses: unnumbered ones within 0.5 s would be bounces.
_SEQS = itertools.count(1)


async def press(mosquitto: Mosquitto, table: int, kind: str = "press", **extra: Any) -> None:
    payload = {"button": table, "event": kind, "seq": next(_SEQS), **extra}
    await mosquitto.publish(TOPIC, json.dumps(payload))


# A run of the automation waits for its table's call to end, and Home Assistant's
# async_block_till_done waits for every run: these two take its place once the
# automation exists.


async def until(condition: Callable[[], object], timeout: float = 10.0) -> None:
    """Let real sockets and Home Assistant work until `condition` holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(0.01)


async def settle() -> None:
    """Let every run go as far as it can without time passing (a few loop turns)."""
    for _ in range(5):
        await asyncio.sleep(0.02)


async def minutes_pass(hass: HomeAssistant, minutes: float) -> None:
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(minutes=minutes))
    await settle()


async def acknowledge(hass: HomeAssistant, table: int) -> None:
    await hass.services.async_call(
        "button", "press", {ATTR_ENTITY_ID: ACK.format(table)}, blocking=True
    )
    await settle()


async def tap(hass: HomeAssistant, data: dict[str, Any]) -> None:
    """A notification action tapped on a phone, as the Companion app reports it."""
    hass.bus.async_fire("mobile_app_notification_action", data)
    await settle()


def entity_of(
    hass: HomeAssistant, entry: MockConfigEntry, domain: str, table: int, kind: str
) -> str:
    """The entity id of a table's entity of a bell, whatever Home Assistant named it."""
    entity_id = er.async_get(hass).async_get_entity_id(
        domain, DOMAIN, f"{entry.entry_id}_table_{table}_{kind}"
    )
    assert entity_id is not None
    return entity_id


def no_errors(caplog: pytest.LogCaptureFixture) -> bool:
    return not [record for record in caplog.records if record.levelno >= logging.ERROR]


async def phone_shows(phone: list[ServiceCall], count: int) -> list[str]:
    """Wait for the phone's `count`th message, give a surplus one time to come; all of them."""
    await until(lambda: len(phone) >= count)
    await settle()
    return sent(phone)


# The file -----------------------------------------------------------------------------


def load_blueprint(path: Path = BLUEPRINT) -> Blueprint:
    return Blueprint(
        yaml_util.load_yaml_dict(path),
        expected_domain="automation",
        path=str(path),
        schema=AUTOMATION_BLUEPRINT_SCHEMA,
    )


def test_blueprint_is_a_valid_automation_blueprint_for_this_home_assistant() -> None:
    blueprint = load_blueprint()
    assert blueprint.validate() is None
    with patch("homeassistant.components.blueprint.models.__version__", "2026.1.5"):
        assert blueprint.validate() == ["Requires at least Home Assistant 2026.2.0"]
    bell_events = blueprint.inputs["bell_events"]["selector"]["entity"]
    assert bell_events["multiple"] is True
    assert bell_events["filter"] == [{"integration": DOMAIN, "domain": ["event"]}]


def test_source_url_is_where_the_file_is_in_the_repository() -> None:
    assert BLUEPRINT.is_file()
    assert load_blueprint().metadata["source_url"] == GITHUB_URL


async def test_importing_from_the_source_url_gives_a_working_automation(
    hass: HomeAssistant,
    mosquitto: Mosquitto,
    bell_entry: MockConfigEntry,
    config_dir: Path,
    phone: list[ServiceCall],
    hass_ws_client: WebSocketGenerator,
    aioclient_mock: AiohttpClientMocker,
) -> None:
    """Settings → Blueprints → Import blueprint with the GitHub address, then use it."""
    aioclient_mock.get(RAW_URL, text=BLUEPRINT.read_text())
    assert await async_setup_component(hass, "automation", {})
    client = await hass_ws_client(hass)

    await client.send_json_auto_id({"type": "blueprint/import", "url": GITHUB_URL})
    imported = await client.receive_json()
    assert imported["success"], imported
    assert imported["result"]["validation_errors"] is None
    assert imported["result"]["blueprint"]["metadata"]["source_url"] == GITHUB_URL
    filename = imported["result"]["suggested_filename"]
    assert filename == "blynk-bell/notify_waiter"

    await client.send_json_auto_id(
        {
            "type": "blueprint/save",
            "domain": "automation",
            "path": filename,
            "yaml": imported["result"]["raw_data"],
            "source_url": GITHUB_URL,
        }
    )
    saved = await client.receive_json()
    assert saved["success"], saved
    assert (config_dir / "blueprints" / "automation" / f"{filename}.yaml").is_file()

    # The automation editor writes automations.yaml and reloads automations.
    automation = {
        "id": "notify_the_waiter",
        "alias": "Notify the waiter",
        "use_blueprint": {
            "path": f"{filename}.yaml",
            "input": {"bell_events": ALL_TABLES, "notify_action": PHONE_ACTION},
        },
    }
    (config_dir / "configuration.yaml").write_text("automation: !include automations.yaml\n")
    (config_dir / "automations.yaml").write_text(yaml_util.dump([automation]))
    await hass.services.async_call("automation", "reload", blocking=True)
    await hass.async_block_till_done()
    assert state_of(hass, AUTOMATION) == STATE_ON

    await press(mosquitto, 2)
    assert await phone_shows(phone, 1) == ["Table 2 is calling"]


# Notify and remind --------------------------------------------------------------------


async def test_press_notifies_then_reminds_until_acknowledged(
    hass: HomeAssistant,
    mosquitto: Mosquitto,
    bell_entry: MockConfigEntry,
    installed: str,
    phone: list[ServiceCall],
) -> None:
    await use_blueprint(
        hass,
        installed,
        bell_events=ALL_TABLES,
        notify_action=PHONE_ACTION,
        ended_action=CLEAR_ON_PHONE,
        interval=2,
    )
    # Our firmware queued this press for two minutes (it dates it with age_ms).
    await press(mosquitto, 3, seq=1, age_ms=120_000)
    assert await phone_shows(phone, 1) == ["Table 3 is calling"]
    assert phone[0].data == {
        "title": "Service bell",
        "message": "Table 3 is calling",
        "data": {"tag": "blynk_bell_event_service_bell_table_3"},
    }

    await minutes_pass(hass, 1)
    assert len(phone) == 1
    await minutes_pass(hass, 2)
    assert (await phone_shows(phone, 2))[1:] == ["Table 3 is still calling (2 min)"]
    await minutes_pass(hass, 2)
    assert len(await phone_shows(phone, 3)) == 3

    await acknowledge(hass, 3)
    assert (await phone_shows(phone, 4))[3:] == ["clear_notification"]
    assert phone[3].data["data"] == {"tag": "blynk_bell_event_service_bell_table_3"}
    await until(lambda: running(hass) == 0)
    await minutes_pass(hass, 2)
    await minutes_pass(hass, 2)
    assert len(phone) == 4


async def test_default_notifies_in_the_notifications_panel(
    hass: HomeAssistant, mosquitto: Mosquitto, bell_entry: MockConfigEntry, installed: str
) -> None:
    """With only the table buttons chosen: one card per table, gone when acknowledged."""
    assert await async_setup_component(hass, "persistent_notification", {})
    panel: dict[str, persistent_notification.Notification] = {}
    updates: list[str] = []

    @callback
    def follow_panel(
        update: persistent_notification.UpdateType,
        notifications: dict[str, persistent_notification.Notification],
    ) -> None:
        updates.append(update)
        if update is persistent_notification.UpdateType.REMOVED:
            for notification_id in notifications:
                panel.pop(notification_id)
        else:
            panel.update(notifications)

    persistent_notification.async_register_callback(hass, follow_panel)
    await use_blueprint(hass, installed, bell_events=ALL_TABLES)

    await press(mosquitto, 3, seq=1, age_ms=60_000)
    card_id = "blynk_bell_event_service_bell_table_3"
    await until(lambda: card_id in panel)
    assert panel[card_id]["title"] == "Service bell"
    assert panel[card_id]["message"] == "Table 3 is calling"

    await minutes_pass(hass, 2.1)
    await until(lambda: len(updates) == 2)
    assert list(panel) == [card_id]
    assert panel[card_id]["message"] == "Table 3 is still calling (1 min)"

    await acknowledge(hass, 3)
    await until(lambda: panel == {})
    assert updates == ["added", "added", "removed"]


async def test_second_press_of_a_calling_table_keeps_one_reminder_loop(
    hass: HomeAssistant,
    mosquitto: Mosquitto,
    bell_entry: MockConfigEntry,
    installed: str,
    phone: list[ServiceCall],
) -> None:
    await use_with_phone(hass, installed, interval=2)
    await press(mosquitto, 3)
    await phone_shows(phone, 1)
    await minutes_pass(hass, 2.1)
    assert await phone_shows(phone, 2) == ["Table 3 is calling", "Table 3: reminder 1"]

    # The guest presses again: the waiter hears it at once ...
    await press(mosquitto, 3)
    assert (await phone_shows(phone, 3))[2:] == ["Table 3 is calling"]
    await until(lambda: running(hass) == 1)
    # ... and then one reminder per interval, not one per press.
    await minutes_pass(hass, 2.1)
    assert (await phone_shows(phone, 4))[3:] == ["Table 3: reminder 1"]
    await minutes_pass(hass, 2.1)
    assert (await phone_shows(phone, 5))[4:] == ["Table 3: reminder 2"]

    await acknowledge(hass, 3)
    # Cleared once: the run the second press took over from does not clear again.
    assert (await phone_shows(phone, 6))[5:] == ["clear_notification"]
    await until(lambda: running(hass) == 0)


async def test_two_tables_calling_at_once_are_reminded_independently(
    hass: HomeAssistant,
    mosquitto: Mosquitto,
    bell_entry: MockConfigEntry,
    installed: str,
    phone: list[ServiceCall],
) -> None:
    await use_with_phone(hass, installed, interval=2)
    await mosquitto.publish(TOPIC, "button 1 is pressed")
    await mosquitto.publish(TOPIC, "button 2 is pressed")
    assert sorted(await phone_shows(phone, 2)) == ["Table 1 is calling", "Table 2 is calling"]

    await minutes_pass(hass, 2.1)
    assert sorted((await phone_shows(phone, 4))[2:]) == [
        "Table 1: reminder 1",
        "Table 2: reminder 1",
    ]

    await acknowledge(hass, 1)
    assert (await phone_shows(phone, 5))[4:] == ["clear_notification"]
    assert phone[4].data["data"]["tag"] == "blynk_bell_event_service_bell_table_1"
    await minutes_pass(hass, 2.1)
    assert (await phone_shows(phone, 6))[5:] == ["Table 2: reminder 2"]
    assert running(hass) == 1


# What ends the reminders --------------------------------------------------------------


async def test_long_press_cancels_the_reminders(
    hass: HomeAssistant,
    mosquitto: Mosquitto,
    bell_entry: MockConfigEntry,
    installed: str,
    phone: list[ServiceCall],
) -> None:
    await use_with_phone(hass, installed, interval=2)
    await press(mosquitto, 2, seq=1)
    await phone_shows(phone, 1)
    await press(mosquitto, 2, "long_press", seq=2)
    assert await phone_shows(phone, 2) == ["Table 2 is calling", "clear_notification"]
    assert state_of(hass, CALLING.format(2)) == STATE_OFF
    await until(lambda: running(hass) == 0)
    await minutes_pass(hass, 2.1)
    assert len(phone) == 2


async def test_call_cleared_by_reset_after_ends_the_reminders(
    hass: HomeAssistant,
    mosquitto: Mosquitto,
    bell_entry: MockConfigEntry,
    installed: str,
    phone: list[ServiceCall],
) -> None:
    await use_with_phone(hass, installed, interval=2)
    await press(mosquitto, 4)
    await phone_shows(phone, 1)
    called_at = dt_util.parse_datetime(hass.states.get(CALLING.format(4)).attributes["called_at"])
    assert called_at is not None
    await minutes_pass(hass, 2.1)
    await phone_shows(phone, 2)
    await minutes_pass(hass, 2.1)
    assert len(await phone_shows(phone, 3)) == 3

    # The bell's "Clear a call after" (300 s by default) passes.
    async_fire_time_changed(hass, called_at + timedelta(seconds=301))
    assert (await phone_shows(phone, 4))[3:] == ["clear_notification"]
    assert state_of(hass, CALLING.format(4)) == STATE_OFF
    await until(lambda: running(hass) == 0)
    await minutes_pass(hass, 2.1)
    assert len(phone) == 4


async def test_reminders_at_most_stops_reminding_but_still_clears(
    hass: HomeAssistant,
    mosquitto: Mosquitto,
    bell_entry: MockConfigEntry,
    installed: str,
    phone: list[ServiceCall],
) -> None:
    await use_with_phone(hass, installed, interval=1, max_reminders=2)
    await press(mosquitto, 1)
    await phone_shows(phone, 1)
    for count in (2, 3):
        await minutes_pass(hass, 1.1)
        await phone_shows(phone, count)
    for _ in range(2):
        await minutes_pass(hass, 1.1)
    assert sent(phone) == ["Table 1 is calling", "Table 1: reminder 1", "Table 1: reminder 2"]
    assert running(hass) == 1

    await acknowledge(hass, 1)
    assert (await phone_shows(phone, 4))[3:] == ["clear_notification"]
    await until(lambda: running(hass) == 0)


async def test_interval_zero_notifies_once(
    hass: HomeAssistant,
    mosquitto: Mosquitto,
    bell_entry: MockConfigEntry,
    installed: str,
    phone: list[ServiceCall],
) -> None:
    await use_with_phone(hass, installed, interval=0)
    await press(mosquitto, 1)
    await phone_shows(phone, 1)
    for _ in range(4):
        await minutes_pass(hass, 1)
    assert state_of(hass, CALLING.format(1)) == STATE_ON
    assert sent(phone) == ["Table 1 is calling"]

    await acknowledge(hass, 1)
    assert await phone_shows(phone, 2) == ["Table 1 is calling", "clear_notification"]


# Acknowledge from the phone -----------------------------------------------------------


async def test_acknowledge_on_the_phone_acknowledges_that_table(
    hass: HomeAssistant,
    mosquitto: Mosquitto,
    bell_entry: MockConfigEntry,
    installed: str,
    phone: list[ServiceCall],
    acknowledged: list[tuple[str, int]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    await use_with_phone(hass, installed, notify_action=PHONE_WITH_ACKNOWLEDGE, interval=2)
    await press(mosquitto, 3)
    await phone_shows(phone, 1)
    await press(mosquitto, 2)
    assert await phone_shows(phone, 2) == ["Table 3 is calling", "Table 2 is calling"]
    assert phone[0].data["data"] == {
        "tag": "blynk_bell_event_service_bell_table_3",
        "actions": [{"action": ACK_ACTION.format(3), "title": "Acknowledge"}],
    }
    assert phone[1].data["data"]["actions"] == [
        {"action": ACK_ACTION.format(2), "title": "Acknowledge"}
    ]
    await minutes_pass(hass, 2.1)
    await phone_shows(phone, 4)
    # Every reminder carries it too.
    assert sorted(call.data["data"]["actions"][0]["action"] for call in phone[2:]) == [
        ACK_ACTION.format(2),
        ACK_ACTION.format(3),
    ]

    # Android reports the tap with the notification's own data.
    await tap(
        hass,
        {
            "action": ACK_ACTION.format(3),
            "message": "Table 3: reminder 1",
            "tag": "blynk_bell_event_service_bell_table_3",
        },
    )
    await until(lambda: state_of(hass, CALLING.format(3)) == STATE_OFF)
    assert acknowledged == [(bell_entry.entry_id, 3)]
    # The reminders stop as for "Acknowledge table 3" on the dashboard.
    assert (await phone_shows(phone, 5))[4:] == ["clear_notification"]
    assert phone[4].data["data"]["tag"] == "blynk_bell_event_service_bell_table_3"
    await until(lambda: running(hass) == 1)
    assert state_of(hass, CALLING.format(2)) == STATE_ON
    await minutes_pass(hass, 2.1)
    assert (await phone_shows(phone, 6))[5:] == ["Table 2: reminder 2"]
    assert no_errors(caplog)


async def test_acknowledge_reaches_that_bells_table_not_another_bells(
    hass: HomeAssistant,
    mosquitto: Mosquitto,
    bell_data: dict[str, Any],
    bell_entry: MockConfigEntry,
    make_entry: Callable[..., MockConfigEntry],
    installed: str,
    phone: list[ServiceCall],
    acknowledged: list[tuple[str, int]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Two bells, both with a table 3: the action names one button of one bell."""
    terrace = make_entry({**bell_data, CONF_TOPIC: "Terrace bell"})
    assert await hass.config_entries.async_setup(terrace.entry_id)
    await until(lambda: terrace.runtime_data.bell.available)
    terrace_event = entity_of(hass, terrace, "event", 3, "event")
    terrace_calling = entity_of(hass, terrace, "binary_sensor", 3, "calling")
    terrace_button = entity_of(hass, terrace, "button", 3, "acknowledge")
    assert terrace_button != ACK.format(3)

    await use_with_phone(
        hass,
        installed,
        bell_events=[EVENT.format(3), terrace_event],
        notify_action=PHONE_WITH_ACKNOWLEDGE,
    )
    await mosquitto.publish("Terrace bell", "button 3 is pressed")
    await phone_shows(phone, 1)
    await mosquitto.publish(TOPIC, "button 3 is pressed")
    await phone_shows(phone, 2)
    terrace_action = f"blynk_bell_acknowledge_{terrace_button}"
    assert [call.data["data"]["actions"][0]["action"] for call in phone] == [
        terrace_action,
        ACK_ACTION.format(3),
    ]

    # iOS reports the tap with the phone's name and ids.
    await tap(hass, {"action": terrace_action, "sourceDeviceName": "Waiter's iPhone"})
    await until(lambda: state_of(hass, terrace_calling) == STATE_OFF)
    assert state_of(hass, CALLING.format(3)) == STATE_ON
    assert acknowledged == [(terrace.entry_id, 3)]

    await tap(hass, {"action": ACK_ACTION.format(3), "sourceDeviceName": "Waiter's iPhone"})
    await until(lambda: state_of(hass, CALLING.format(3)) == STATE_OFF)
    assert acknowledged == [(terrace.entry_id, 3), (bell_entry.entry_id, 3)]
    assert no_errors(caplog)


async def test_unknown_or_foreign_actions_acknowledge_nothing(
    hass: HomeAssistant,
    mosquitto: Mosquitto,
    bell_data: dict[str, Any],
    bell_entry: MockConfigEntry,
    make_entry: Callable[..., MockConfigEntry],
    installed: str,
    phone: list[ServiceCall],
    acknowledged: list[tuple[str, int]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    terrace = make_entry({**bell_data, CONF_TOPIC: "Terrace bell"})
    assert await hass.config_entries.async_setup(terrace.entry_id)
    await until(lambda: terrace.runtime_data.bell.available)
    terrace_button = entity_of(hass, terrace, "button", 1, "acknowledge")
    terrace_calling = entity_of(hass, terrace, "binary_sensor", 1, "calling")

    # This automation watches tables 1 and 2 of the indoor bell only.
    await use_with_phone(
        hass,
        installed,
        bell_events=[EVENT.format(1), EVENT.format(2)],
        notify_action=PHONE_WITH_ACKNOWLEDGE,
    )
    await mosquitto.publish("Terrace bell", "button 1 is pressed")
    await until(lambda: state_of(hass, terrace_calling) == STATE_ON)
    await press(mosquitto, 3)
    await until(lambda: state_of(hass, CALLING.format(3)) == STATE_ON)
    await press(mosquitto, 1)
    assert await phone_shows(phone, 1) == ["Table 1 is calling"]

    for data in [
        {"action": ACK_ACTION.format(3)},  # a table of this bell that it does not watch
        {"action": f"blynk_bell_acknowledge_{terrace_button}"},  # another bell's
        {"action": "blynk_bell_acknowledge_button.no_such_button"},
        {"action": f"blynk_bell_acknowledge_{CALLING.format(1)}"},  # not a button
        {"action": "blynk_bell_acknowledge_"},
        {"action": ACK_ACTION.format(1).upper()},
        {"action": "button.service_bell_acknowledge_table_1"},  # the entity id alone
        {"action": "ALARM"},  # another automation's notification
        {"action": 1},
        {"sourceDeviceName": "Waiter's iPhone"},
    ]:
        await tap(hass, data)
    await until(lambda: running(hass) == 1)

    assert acknowledged == []
    for calling in (CALLING.format(1), CALLING.format(3), terrace_calling):
        assert state_of(hass, calling) == STATE_ON
    # No button was pressed at all (a button's state is its last press).
    for button in (ACK.format(1), ACK.format(3), terrace_button):
        assert state_of(hass, button) == "unknown"
    assert sent(phone) == ["Table 1 is calling"]
    assert no_errors(caplog)


async def test_acknowledge_needs_no_reminder_loop(
    hass: HomeAssistant,
    mosquitto: Mosquitto,
    bell_entry: MockConfigEntry,
    installed: str,
    phone: list[ServiceCall],
    acknowledged: list[tuple[str, int]],
) -> None:
    """A tap is handled by the automation itself: after a reload or restart too."""
    await use_with_phone(hass, installed, notify_action=PHONE_WITH_ACKNOWLEDGE)
    await press(mosquitto, 1)
    await phone_shows(phone, 1)
    for action in ("turn_off", "turn_on"):  # Stops the run, as a reload does.
        await hass.services.async_call(
            "automation", action, {ATTR_ENTITY_ID: AUTOMATION}, blocking=True
        )
    assert running(hass) == 0
    await tap(hass, {"action": ACK_ACTION.format(1)})
    await until(lambda: state_of(hass, CALLING.format(1)) == STATE_OFF)
    assert acknowledged == [(bell_entry.entry_id, 1)]


async def test_acknowledge_option_off_offers_no_action_and_ignores_taps(
    hass: HomeAssistant,
    mosquitto: Mosquitto,
    bell_entry: MockConfigEntry,
    installed: str,
    phone: list[ServiceCall],
    acknowledged: list[tuple[str, int]],
) -> None:
    await use_with_phone(hass, installed, notify_action=PHONE_WITH_ACKNOWLEDGE, acknowledge=False)
    await press(mosquitto, 2)
    await phone_shows(phone, 1)
    assert phone[0].data["data"]["actions"] == []
    await tap(hass, {"action": ACK_ACTION.format(2)})
    assert acknowledged == []
    assert state_of(hass, CALLING.format(2)) == STATE_ON


async def test_acknowledge_action_title_is_an_input(
    hass: HomeAssistant,
    mosquitto: Mosquitto,
    bell_entry: MockConfigEntry,
    installed: str,
    phone: list[ServiceCall],
) -> None:
    await use_with_phone(
        hass, installed, notify_action=PHONE_WITH_ACKNOWLEDGE, acknowledge_title="On my way"
    )
    await press(mosquitto, 4)
    await phone_shows(phone, 1)
    assert phone[0].data["data"]["actions"] == [
        {"action": ACK_ACTION.format(4), "title": "On my way"}
    ]


async def test_acknowledge_button_is_found_by_its_entity_id_on_the_same_device(
    hass: HomeAssistant,
    mosquitto: Mosquitto,
    bell_entry: MockConfigEntry,
    installed: str,
    phone: list[ServiceCall],
    acknowledged: list[tuple[str, int]],
) -> None:
    """Renamed alike (as renaming the device "Terrace" offers), the pair is found; apart, not."""
    entities = er.async_get(hass)
    event_3, button_3 = "event.terrace_table_3", "button.terrace_acknowledge_table_3"
    entities.async_update_entity(
        entity_of(hass, bell_entry, "event", 3, "event"), new_entity_id=event_3
    )
    entities.async_update_entity(
        entity_of(hass, bell_entry, "button", 3, "acknowledge"), new_entity_id=button_3
    )
    entities.async_update_entity(
        entity_of(hass, bell_entry, "button", 4, "acknowledge"),
        new_entity_id="button.table_4_seen",
    )
    await hass.async_block_till_done()

    await use_with_phone(
        hass,
        installed,
        bell_events=[event_3, EVENT.format(4)],
        notify_action=PHONE_WITH_ACKNOWLEDGE,
    )
    await press(mosquitto, 3)
    await phone_shows(phone, 1)
    await press(mosquitto, 4)
    await phone_shows(phone, 2)
    assert phone[0].data["data"]["actions"] == [
        {"action": f"blynk_bell_acknowledge_{button_3}", "title": "Acknowledge"}
    ]
    # No "Acknowledge" rather than a guess: a wrong guess would acknowledge another table.
    assert phone[1].data["data"]["actions"] == []
    await tap(hass, {"action": "blynk_bell_acknowledge_button.table_4_seen"})
    await tap(hass, {"action": f"blynk_bell_acknowledge_{button_3}"})
    await until(lambda: state_of(hass, CALLING.format(3)) == STATE_OFF)
    assert acknowledged == [(bell_entry.entry_id, 3)]
    assert state_of(hass, CALLING.format(4)) == STATE_ON


# Escalation ---------------------------------------------------------------------------


async def test_escalation_tells_the_manager_once_with_the_nth_reminder(
    hass: HomeAssistant,
    mosquitto: Mosquitto,
    bell_entry: MockConfigEntry,
    installed: str,
    phone: list[ServiceCall],
    manager: list[ServiceCall],
    acknowledged: list[tuple[str, int]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    await use_with_phone(
        hass,
        installed,
        notify_action=PHONE_WITH_ACKNOWLEDGE,
        interval=1,
        escalate_after=2,
        manager_action=MANAGER_ACTION,
        ended_action=CLEAR_BOTH_PHONES,
    )
    # Dated three minutes back by the firmware, so the manager reads a wait.
    await press(mosquitto, 1, age_ms=180_000)
    await phone_shows(phone, 1)
    await minutes_pass(hass, 1.1)
    assert await phone_shows(phone, 2) == ["Table 1 is calling", "Table 1: reminder 1"]
    assert manager == []

    await minutes_pass(hass, 1.1)
    assert (await phone_shows(phone, 3))[2:] == ["Table 1: reminder 2"]
    await until(lambda: len(manager) == 1)
    assert manager[0].data == {
        "title": "Service bell",
        "message": "Nobody answers Table 1: calling for 3 min",
        "data": {
            "tag": "blynk_bell_event_service_bell_table_1",
            "actions": [{"action": ACK_ACTION.format(1), "title": "Acknowledge"}],
        },
    }

    # Further reminders go to the waiter alone.
    for count in (4, 5):
        await minutes_pass(hass, 1.1)
        await phone_shows(phone, count)
    assert sent(phone)[3:] == ["Table 1: reminder 3", "Table 1: reminder 4"]
    assert len(manager) == 1

    # The manager acknowledges from the escalation; both phones are cleared.
    await tap(hass, {"action": ACK_ACTION.format(1)})
    assert acknowledged == [(bell_entry.entry_id, 1)]
    assert (await phone_shows(phone, 6))[5:] == ["clear_notification"]
    await until(lambda: len(manager) == 2)
    assert manager[1].data == {
        "message": "clear_notification",
        "data": {"tag": "blynk_bell_event_service_bell_table_1"},
    }
    await until(lambda: running(hass) == 0)
    assert no_errors(caplog)


async def test_no_escalation_before_the_nth_reminder(
    hass: HomeAssistant,
    mosquitto: Mosquitto,
    bell_entry: MockConfigEntry,
    installed: str,
    phone: list[ServiceCall],
    manager: list[ServiceCall],
) -> None:
    await use_with_phone(
        hass,
        installed,
        interval=1,
        escalate_after=3,
        manager_action=MANAGER_ACTION,
        ended_action=CLEAR_BOTH_PHONES,
    )
    await press(mosquitto, 2)
    await phone_shows(phone, 1)
    for count in (2, 3):
        await minutes_pass(hass, 1.1)
        await phone_shows(phone, count)
    await acknowledge(hass, 2)
    assert (await phone_shows(phone, 4))[3:] == ["clear_notification"]
    await until(lambda: running(hass) == 0)
    # Neither told nor cleared: the manager never heard of table 2.
    assert manager == []


async def test_repeat_press_starts_the_escalation_count_over(
    hass: HomeAssistant,
    mosquitto: Mosquitto,
    bell_entry: MockConfigEntry,
    installed: str,
    phone: list[ServiceCall],
    manager: list[ServiceCall],
) -> None:
    """A guest's repeat press tells the waiter at once: N more reminders before escalating."""
    await use_with_phone(
        hass, installed, interval=1, escalate_after=2, manager_action=MANAGER_ACTION
    )
    await press(mosquitto, 3)
    await phone_shows(phone, 1)
    await minutes_pass(hass, 1.1)
    await phone_shows(phone, 2)
    await press(mosquitto, 3)
    await phone_shows(phone, 3)
    await until(lambda: running(hass) == 1)
    await minutes_pass(hass, 1.1)
    assert await phone_shows(phone, 4) == [
        "Table 3 is calling",
        "Table 3: reminder 1",
        "Table 3 is calling",
        "Table 3: reminder 1",
    ]
    assert manager == []
    await minutes_pass(hass, 1.1)
    assert (await phone_shows(phone, 5))[4:] == ["Table 3: reminder 2"]
    await until(lambda: len(manager) == 1)
    await minutes_pass(hass, 1.1)
    await phone_shows(phone, 6)
    assert len(manager) == 1


async def test_escalate_after_zero_never_escalates(
    hass: HomeAssistant,
    mosquitto: Mosquitto,
    bell_entry: MockConfigEntry,
    installed: str,
    phone: list[ServiceCall],
    manager: list[ServiceCall],
) -> None:
    await use_with_phone(
        hass, installed, interval=1, escalate_after=0, manager_action=MANAGER_ACTION
    )
    await press(mosquitto, 1)
    await phone_shows(phone, 1)
    for count in (2, 3, 4):
        await minutes_pass(hass, 1.1)
        await phone_shows(phone, count)
    assert manager == []


async def test_readme_example_with_the_companion_app(
    hass: HomeAssistant,
    mosquitto: Mosquitto,
    bell_entry: MockConfigEntry,
    installed: str,
    phone: list[ServiceCall],
    manager: list[ServiceCall],
    acknowledged: list[tuple[str, int]],
) -> None:
    """The README's example, with our recording phones for the Companion app's."""
    readme = (REPO / "README.md").read_text()
    example = readme[readme.index("Example with the Companion app.") :]
    example = example[example.index("```yaml\n") + 8 : example.index("```\n", 1)]
    example = example.replace("notify.mobile_app_waiter_phone", "notify.waiter_phone")
    example = example.replace("notify.mobile_app_manager_phone", "notify.manager_phone")
    inputs = yaml_util.parse_yaml(example)["automation"][0]["use_blueprint"]["input"]
    await use_blueprint(hass, installed, **inputs)

    await press(mosquitto, 2)
    await phone_shows(phone, 1)
    for count in (2, 3, 4):
        await minutes_pass(hass, 2.1)
        await phone_shows(phone, count)
    await until(lambda: len(manager) == 1)
    assert manager[0].data["data"]["actions"] == [
        {"action": ACK_ACTION.format(2), "title": "Acknowledge"}
    ]
    await tap(hass, {"action": ACK_ACTION.format(2)})
    assert acknowledged == [(bell_entry.entry_id, 2)]
    assert (await phone_shows(phone, 5))[4:] == ["clear_notification"]
    await until(lambda: len(manager) == 2)
    assert manager[1].data["message"] == "clear_notification"


# What does not notify -----------------------------------------------------------------


async def test_long_press_and_double_press_do_not_notify_by_default(
    hass: HomeAssistant,
    mosquitto: Mosquitto,
    bell_entry: MockConfigEntry,
    installed: str,
    phone: list[ServiceCall],
) -> None:
    await use_with_phone(hass, installed, interval=2)
    await press(mosquitto, 3)
    await phone_shows(phone, 1)
    await press(mosquitto, 2, "long_press")
    await press(mosquitto, 1, "double_press")
    await press(mosquitto, 3, "double_press")  # Table 3 is calling already.
    await press(mosquitto, 4)  # A press after them: once it is notified, they were handled.
    assert await phone_shows(phone, 2) == ["Table 3 is calling", "Table 4 is calling"]
    assert state_of(hass, CALLING.format(1)) == STATE_ON  # A double press does call ...
    await minutes_pass(hass, 2.1)
    # ... but only the chosen press types notify, and table 3 goes on being reminded.
    assert sorted((await phone_shows(phone, 4))[2:]) == [
        "Table 3: reminder 1",
        "Table 4: reminder 1",
    ]


async def test_double_press_notifies_when_chosen(
    hass: HomeAssistant,
    mosquitto: Mosquitto,
    bell_entry: MockConfigEntry,
    installed: str,
    phone: list[ServiceCall],
) -> None:
    await use_with_phone(hass, installed, press_types=["press", "double_press"])
    await press(mosquitto, 3, "double_press")
    await phone_shows(phone, 1)
    await press(mosquitto, 2, "long_press")
    await press(mosquitto, 4)
    assert await phone_shows(phone, 2) == ["Table 3 is calling", "Table 4 is calling"]


async def test_press_too_old_to_start_a_call_is_not_notified(
    hass: HomeAssistant,
    mosquitto: Mosquitto,
    bell_entry: MockConfigEntry,
    installed: str,
    phone: list[ServiceCall],
) -> None:
    await use_with_phone(hass, installed)
    # Delivered 301 s after it was made: the bell fires the event but starts no call.
    await press(mosquitto, 3, seq=9, age_ms=301_000)
    await until(lambda: hass.states.get(EVENT.format(3)).attributes.get("seq") == 9)
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=6))
    await settle()
    await press(mosquitto, 4)
    assert await phone_shows(phone, 1) == ["Table 4 is calling"]
    assert state_of(hass, CALLING.format(3)) == STATE_OFF


async def test_press_too_old_to_start_a_call_does_not_end_a_calling_tables_reminders(
    hass: HomeAssistant,
    mosquitto: Mosquitto,
    bell_entry: MockConfigEntry,
    installed: str,
    phone: list[ServiceCall],
) -> None:
    await use_with_phone(hass, installed, interval=2)
    await press(mosquitto, 3, seq=1)
    await phone_shows(phone, 1)
    # A press the firmware kept 301 s arrives while table 3 is calling: it starts no
    # call, so it neither notifies nor takes the reminders over.
    await press(mosquitto, 3, seq=2, age_ms=301_000)
    await until(lambda: hass.states.get(EVENT.format(3)).attributes.get("seq") == 2)
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=6))
    await settle()
    assert sent(phone) == ["Table 3 is calling"]
    await minutes_pass(hass, 2.1)
    assert await phone_shows(phone, 2) == ["Table 3 is calling", "Table 3: reminder 1"]


async def test_bell_broker_outage_neither_notifies_again_nor_ends_the_reminders(
    hass: HomeAssistant,
    mosquitto: Mosquitto,
    bell_entry: MockConfigEntry,
    installed: str,
    phone: list[ServiceCall],
) -> None:
    await use_with_phone(hass, installed, interval=2)
    await press(mosquitto, 1)
    await phone_shows(phone, 1)

    await mosquitto.stop()
    await until(lambda: state_of(hass, EVENT.format(1)) == STATE_UNAVAILABLE)
    assert state_of(hass, CALLING.format(1)) == STATE_ON  # The call goes on meanwhile.
    await mosquitto.start()
    await until(lambda: state_of(hass, EVENT.format(1)) != STATE_UNAVAILABLE, timeout=15)
    await press(mosquitto, 4)
    assert await phone_shows(phone, 2) == ["Table 1 is calling", "Table 4 is calling"]

    await minutes_pass(hass, 2.1)
    assert sorted((await phone_shows(phone, 4))[2:]) == [
        "Table 1: reminder 1",
        "Table 4: reminder 1",
    ]


async def test_running_the_actions_by_hand_does_nothing(
    hass: HomeAssistant,
    mosquitto: Mosquitto,
    bell_entry: MockConfigEntry,
    installed: str,
    phone: list[ServiceCall],
    caplog: pytest.LogCaptureFixture,
) -> None:
    await use_with_phone(hass, installed)
    await hass.services.async_call(
        "automation", "trigger", {ATTR_ENTITY_ID: AUTOMATION}, blocking=True
    )
    await settle()
    await press(mosquitto, 4)
    assert await phone_shows(phone, 1) == ["Table 4 is calling"]
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]


# Robustness ---------------------------------------------------------------------------


async def test_failed_notification_does_not_end_the_reminders(
    hass: HomeAssistant, mosquitto: Mosquitto, bell_entry: MockConfigEntry, installed: str
) -> None:
    attempts: list[str] = []

    async def flaky_phone(call: ServiceCall) -> None:
        attempts.append(call.data["message"])
        if len(attempts) == 1:
            raise HomeAssistantError("push service unreachable")

    hass.services.async_register("notify", "flaky_phone", flaky_phone)
    await use_blueprint(
        hass,
        installed,
        bell_events=ALL_TABLES,
        notify_action=[{"action": "notify.flaky_phone", "data": {"message": "{{ message }}"}}],
        ended_action=[],
    )
    await press(mosquitto, 2)
    await until(lambda: len(attempts) == 1)
    await minutes_pass(hass, 2.1)
    await until(lambda: len(attempts) == 2)
    assert attempts == ["Table 2 is calling", "Table 2 is still calling (0 min)"]


async def test_renamed_entities_and_a_second_bell(
    hass: HomeAssistant,
    mosquitto: Mosquitto,
    bell_data: dict[str, Any],
    bell_entry: MockConfigEntry,
    make_entry: Callable[..., MockConfigEntry],
    installed: str,
    phone: list[ServiceCall],
) -> None:
    """The calling sensor is found on the event's own device, whatever the entity ids."""
    terrace = make_entry({**bell_data, CONF_TOPIC: "Terrace bell"})
    assert await hass.config_entries.async_setup(terrace.entry_id)
    await until(lambda: terrace.runtime_data.bell.available)

    entities = er.async_get(hass)
    devices = dr.async_get(hass)
    terrace_event = "event.terrace_3"
    entities.async_update_entity(
        entities.async_get_entity_id("event", DOMAIN, f"{terrace.entry_id}_table_3_event"),
        new_entity_id=terrace_event,
    )
    terrace_calling = "binary_sensor.terrace_3_waiting"
    entities.async_update_entity(
        entities.async_get_entity_id(
            "binary_sensor", DOMAIN, f"{terrace.entry_id}_table_3_calling"
        ),
        new_entity_id=terrace_calling,
    )
    device = devices.async_get_device({(DOMAIN, f"{terrace.entry_id}_bell")})
    assert device is not None
    devices.async_update_device(device.id, name_by_user="Terrace")
    await hass.async_block_till_done()

    await use_with_phone(
        hass,
        installed,
        bell_events=[EVENT.format(3), terrace_event],
        message="{{ bell_name }}: {{ table_name }} is calling",
        reminder_message="{{ bell_name }}: {{ table_name }} is still calling",
        interval=2,
    )
    await mosquitto.publish("Terrace bell", "button 3 is pressed")
    await phone_shows(phone, 1)
    await mosquitto.publish(TOPIC, "button 3 is pressed")
    assert await phone_shows(phone, 2) == [
        "Terrace: Table 3 is calling",
        "Service bell: Table 3 is calling",
    ]
    assert phone[0].data["data"]["tag"] == "blynk_bell_event_terrace_3"

    await acknowledge(hass, 3)  # The indoor bell's table 3.
    assert state_of(hass, terrace_calling) == STATE_ON
    await minutes_pass(hass, 2.1)
    assert (await phone_shows(phone, 4))[2:] == [
        "clear_notification",
        "Terrace: Table 3 is still calling",
    ]
    assert phone[2].data["data"]["tag"] == "blynk_bell_event_service_bell_table_3"
