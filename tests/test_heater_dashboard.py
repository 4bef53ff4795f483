"""The heater on the dashboard and in the UI: power in one tap, and an on mode named "On"."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers.icon import async_get_icons
from homeassistant.helpers.translation import async_get_translations
from homeassistant.util.yaml import load_yaml
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.blynk_bell.const import DOMAIN

from .conftest import attribute

DASHBOARD = Path(__file__).parent.parent / "dashboards" / "restaurant.yaml"


def cards(node: Any) -> list[dict[str, Any]]:
    """Every card in a dashboard, however deeply nested."""
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if "type" in node and ("entity" in node or "cards" in node):
            found.append(node)
        for value in node.values():
            found.extend(cards(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(cards(item))
    return found


def test_the_thermostat_card_switches_power_in_one_tap() -> None:
    dashboard = load_yaml(DASHBOARD)
    (thermostat,) = [c for c in cards(dashboard) if c.get("type") == "thermostat"]
    assert thermostat["entity"] == "climate.blynk_heater"
    (modes,) = [f for f in thermostat["features"] if f["type"] == "climate-hvac-modes"]
    assert modes["style"] == "icons"  # A button per mode: one tap, not a menu.
    # "off" as a string: unquoted, YAML would read it as false and hide the Off button.
    assert modes["hvac_modes"] == ["off", "heat"]


async def test_the_on_mode_reads_as_a_heater_that_is_on(
    hass: HomeAssistant, heater_entry: MockConfigEntry
) -> None:
    # `heat`, drawn as a flame: not `heat_cool`, a sun and a snowflake named "Heat/Cool".
    assert attribute(hass, "hvac_modes") == ["off", "heat"]
    translations = await async_get_translations(hass, "en", "entity", {DOMAIN})
    state = f"component.{DOMAIN}.entity.climate.heater.state"
    assert translations[f"{state}.heat"] == "On"
    assert translations[f"{state}.off"] == "Off"
    icons = (await async_get_icons(hass, "entity", {DOMAIN}))[DOMAIN]["climate"]["heater"]
    assert icons == {"default": "mdi:radiator", "state": {"off": "mdi:radiator-off"}}
