"""The Blynk heater as a climate entity: power and set point in sync with the Blynk app."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Self

from homeassistant.components.climate import ClimateEntity
from homeassistant.components.climate.const import (
    ATTR_HVAC_MODE,
    ClimateEntityFeature,
    HVACAction,
    HVACMode,
)
from homeassistant.const import ATTR_TEMPERATURE, PRECISION_TENTHS, UnitOfTemperature
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.restore_state import ExtraStoredData, RestoreEntity

from . import BlynkBellConfigEntry
from .blynk_heater import BlynkHeater
from .const import DOMAIN
from .protocol.template import MAX_SET_POINT, MIN_SET_POINT, Status

PARALLEL_UPDATES = 0

_HVAC_ACTIONS = {
    Status.OFF: HVACAction.OFF,
    Status.IDLE: HVACAction.IDLE,
    Status.HEATING: HVACAction.HEATING,
    Status.COOLING: HVACAction.COOLING,
}


async def async_setup_entry(
    hass: HomeAssistant,
    entry: BlynkBellConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the heater when the entry has a Blynk token."""
    if (heater := entry.runtime_data.heater) is not None:
        async_add_entities([BlynkHeaterClimate(heater)])


@dataclass(slots=True)
class PendingChanges(ExtraStoredData):
    """User changes Blynk had not acknowledged when Home Assistant stopped."""

    values: dict[str, str]

    def as_dict(self) -> dict[str, Any]:
        """Serialise for the restore cache."""
        return {"pending": self.values}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """Read back, tolerating anything malformed."""
        values = data.get("pending")
        if not isinstance(values, dict):
            return cls({})
        return cls({str(k): str(v) for k, v in values.items()})


class BlynkHeaterClimate(ClimateEntity, RestoreEntity):
    """Power is the hvac mode, `off` or `heat` (shown as Off and On); the set point is ours.

    `heat`, not `heat_cool`, even for the simulated "Air Cooler/Heater", which also cools
    above its set point: Home Assistant's `heat_cool` is for a range of two set points, and
    the dashboard draws it as a sun and a snowflake, which nobody reads as "the heater is
    on". What the heater does (heating, idle, cooling) is the hvac action.
    """

    _attr_has_entity_name = True
    _attr_name = None
    _attr_should_poll = False
    _attr_translation_key = "heater"
    _attr_temperature_unit = UnitOfTemperature.CELSIUS
    _attr_precision = PRECISION_TENTHS
    _attr_target_temperature_step = 0.5
    _attr_min_temp = MIN_SET_POINT
    _attr_max_temp = MAX_SET_POINT
    _attr_supported_features = (
        ClimateEntityFeature.TARGET_TEMPERATURE
        | ClimateEntityFeature.TURN_ON
        | ClimateEntityFeature.TURN_OFF
    )

    def __init__(self, heater: BlynkHeater) -> None:
        """Attach to the heater device."""
        self.heater = heater
        self._controller = heater.controller
        entry_id = heater.entry.entry_id
        self._attr_unique_id = f"{entry_id}_heater"
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, f"{entry_id}_heater")},
            translation_key="blynk_heater",
            manufacturer="Blynk",
            model="MQTT Air Cooler/Heater",
        )
        self._on_mode = HVACMode.HEAT
        self._attr_hvac_modes = [HVACMode.OFF, self._on_mode]

    @property
    def available(self) -> bool:
        """Follow the Blynk connection; a real heater works without it."""
        return self.heater.available

    @property
    def hvac_mode(self) -> HVACMode:
        """Return off or on."""
        return self._on_mode if self._controller.power else HVACMode.OFF

    @property
    def hvac_action(self) -> HVACAction:
        """Return what the heater is doing, from its Blynk status."""
        return _HVAC_ACTIONS[self._controller.state.status]

    @property
    def current_temperature(self) -> float | None:
        """Return the measured temperature."""
        return self._controller.state.current

    @property
    def target_temperature(self) -> float:
        """Return the set point."""
        return self._controller.target

    @property
    def extra_restore_state_data(self) -> PendingChanges:
        """Keep unacknowledged changes across a restart."""
        return PendingChanges(self._controller.pending)

    async def async_set_hvac_mode(self, hvac_mode: HVACMode) -> None:
        """Switch the heater on or off."""
        self._controller.set_power(hvac_mode != HVACMode.OFF)

    async def async_turn_on(self) -> None:
        """Switch the heater on."""
        self._controller.set_power(True)

    async def async_turn_off(self) -> None:
        """Switch the heater off."""
        self._controller.set_power(False)

    async def async_set_temperature(self, **kwargs: Any) -> None:
        """Move the set point (and switch on or off when a mode is given too)."""
        hvac_mode = kwargs.get(ATTR_HVAC_MODE)
        temperature = kwargs.get(ATTR_TEMPERATURE)
        self._controller.change(
            power=None if hvac_mode is None else hvac_mode != HVACMode.OFF,
            target=None if temperature is None else float(temperature),
        )

    async def async_added_to_hass(self) -> None:
        """Show the last known state until Blynk answers, and listen for changes."""
        await super().async_added_to_hass()
        last_state = await self.async_get_last_state()
        extra = await self.async_get_last_extra_data()
        power: bool | None = None
        target: float | None = None
        if last_state is not None and last_state.state not in ("unavailable", "unknown"):
            power = last_state.state != HVACMode.OFF
            raw_target = last_state.attributes.get(ATTR_TEMPERATURE)
            target = float(raw_target) if isinstance(raw_target, int | float) else None
        pending = PendingChanges.from_dict(extra.as_dict()).values if extra else None
        self._controller.restore(power, target, pending)
        self.async_on_remove(self.heater.async_add_listener(self._handle_update))

    @callback
    def _handle_update(self) -> None:
        self.async_write_ha_state()
