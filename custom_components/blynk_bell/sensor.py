"""Sensors: each table's call and how long it waits, and the bell's figures of the day.

Per table: the call's state (idle, calling, acknowledged, cancelled), the wait of the
open call, and the last response time. Per bell: calls today, and the average and
longest response time today (reset at local midnight). The figures have state classes,
so the recorder keeps their long-term statistics; the wait, which only counts up while a
table waits, has none. The bell's health from its firmware (Wi-Fi signal, uptime,
presses dropped, supply voltage) are diagnostic sensors.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import (
    SIGNAL_STRENGTH_DECIBELS_MILLIWATT,
    EntityCategory,
    UnitOfElectricPotential,
    UnitOfTime,
)
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.util import dt as dt_util

from . import BlynkBellConfigEntry
from .entity import BellEntity, TableEntity
from .protocol.bell import BellHealth
from .protocol.calls import CallState
from .service_bell import ServiceBell

PARALLEL_UPDATES = 0
# How often a waiting table's wait is written: a dashboard shows minutes.
WAIT_REFRESH = timedelta(seconds=15)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: BlynkBellConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the call sensors of every table, the day's figures and the bell's health."""
    bell = entry.runtime_data.bell
    tables = range(1, bell.tables + 1)
    async_add_entities(
        [
            *(TableCall(bell, table) for table in tables),
            *(TableWait(bell, table) for table in tables),
            *(TableLastResponse(bell, table) for table in tables),
            *(DayFigure(bell, description) for description in DAY_FIGURES),
            *(BellHealthSensor(bell, description) for description in HEALTH),
        ]
    )


def _minutes(value: timedelta | None) -> float | None:
    return None if value is None else round(value.total_seconds() / 60, 1)


class TableCall(TableEntity, SensorEntity):
    """The state of the table's call, for dashboards and automations."""

    _attr_device_class = SensorDeviceClass.ENUM
    _attr_options = [state.value for state in CallState]
    _attr_translation_key = "table_call"
    _follows_link = False  # Calls are Home Assistant's own.

    def __init__(self, bell: ServiceBell, table: int) -> None:
        """Bind to one table."""
        super().__init__(bell, table, "call")

    @property
    def native_value(self) -> str:
        """Return idle, calling, acknowledged or cancelled."""
        return self.bell.desk.state(self.table).value

    @property
    def extra_state_attributes(self) -> dict[str, str | int | None]:
        """Say when the call started, was last pressed and acknowledged."""
        call = self.bell.desk.calls[self.table]
        return {
            "called_at": _iso(call.started_at),
            "last_pressed_at": _iso(call.last_press_at),
            "acknowledged_at": _iso(call.acknowledged_at),
            "reminders": call.reminders,
        }


class TableWait(TableEntity, SensorEntity):
    """How long the table's open call has waited, in minutes; none while idle."""

    _attr_device_class = SensorDeviceClass.DURATION
    _attr_native_unit_of_measurement = UnitOfTime.MINUTES
    _attr_suggested_display_precision = 0
    _attr_translation_key = "table_wait"
    _follows_link = False

    def __init__(self, bell: ServiceBell, table: int) -> None:
        """Bind to one table."""
        super().__init__(bell, table, "wait")
        self._refresh: CALLBACK_TYPE | None = None

    @property
    def native_value(self) -> float | None:
        """Return the wait so far."""
        return _minutes(self.bell.desk.wait(self.table))

    async def async_added_to_hass(self) -> None:
        """Count up while the table waits."""
        await super().async_added_to_hass()
        self.async_on_remove(self._stop_counting)
        self._count_while_waiting()

    @callback
    def _handle_bell_update(self) -> None:
        self._count_while_waiting()
        super()._handle_bell_update()

    @callback
    def _count_while_waiting(self) -> None:
        if self.bell.desk.calls[self.table].open:
            if self._refresh is None:
                self._refresh = async_track_time_interval(
                    self.hass, self._tick, WAIT_REFRESH, name="blynk_bell wait"
                )
        else:
            self._stop_counting()

    @callback
    def _stop_counting(self) -> None:
        if self._refresh is not None:
            self._refresh()
            self._refresh = None

    @callback
    def _tick(self, _now: datetime) -> None:
        self._shown = None  # Written here, so the next change writes whatever it shows.
        self.async_write_ha_state()


class TableLastResponse(TableEntity, SensorEntity):
    """How long the table's last call waited for a waiter (to acknowledged or served)."""

    _attr_device_class = SensorDeviceClass.DURATION
    _attr_native_unit_of_measurement = UnitOfTime.MINUTES
    _attr_state_class = SensorStateClass.MEASUREMENT
    _attr_suggested_display_precision = 1
    _attr_translation_key = "table_last_response"
    _follows_link = False

    def __init__(self, bell: ServiceBell, table: int) -> None:
        """Bind to one table."""
        super().__init__(bell, table, "last_response")

    @property
    def native_value(self) -> float | None:
        """Return the last response time."""
        return _minutes(self.bell.desk.last_response.get(self.table))


@dataclass(frozen=True, kw_only=True)
class DayFigureDescription(SensorEntityDescription):
    """A figure of the bell's day."""

    value: Callable[[ServiceBell], float | int | None]


DAY_FIGURES: tuple[DayFigureDescription, ...] = (
    DayFigureDescription(
        key="calls_today",
        translation_key="calls_today",
        state_class=SensorStateClass.TOTAL_INCREASING,
        value=lambda bell: bell.desk.figures.calls,
    ),
    DayFigureDescription(
        key="average_response_today",
        translation_key="average_response_today",
        device_class=SensorDeviceClass.DURATION,
        native_unit_of_measurement=UnitOfTime.MINUTES,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        value=lambda bell: _minutes(bell.desk.figures.average_response),
    ),
    DayFigureDescription(
        key="longest_response_today",
        translation_key="longest_response_today",
        device_class=SensorDeviceClass.DURATION,
        native_unit_of_measurement=UnitOfTime.MINUTES,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        value=lambda bell: _minutes(bell.desk.figures.longest_response),
    ),
)


class DayFigure(BellEntity, SensorEntity):
    """One of the bell's figures of the day (from local midnight)."""

    entity_description: DayFigureDescription
    _follows_link = False

    def __init__(self, bell: ServiceBell, description: DayFigureDescription) -> None:
        """Describe one figure."""
        super().__init__(bell, f"{bell.entry.entry_id}_{description.key}")
        self.entity_description = description

    @property
    def native_value(self) -> float | int | None:
        """Return the figure."""
        return self.entity_description.value(self.bell)


@dataclass(frozen=True, kw_only=True)
class HealthDescription(SensorEntityDescription):
    """A piece of the bell's health report."""

    value: Callable[[BellHealth], float | int | datetime | None]


HEALTH: tuple[HealthDescription, ...] = (
    HealthDescription(
        key="wifi_signal",
        translation_key="wifi_signal",
        device_class=SensorDeviceClass.SIGNAL_STRENGTH,
        native_unit_of_measurement=SIGNAL_STRENGTH_DECIBELS_MILLIWATT,
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,  # Changes with every report.
        value=lambda health: health.rssi,
    ),
    HealthDescription(
        key="started",
        translation_key="started",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        value=lambda health: health.started_at,
    ),
    HealthDescription(
        key="dropped_presses",
        translation_key="dropped_presses",
        state_class=SensorStateClass.TOTAL_INCREASING,
        entity_category=EntityCategory.DIAGNOSTIC,
        value=lambda health: health.dropped,
    ),
    HealthDescription(
        key="supply_voltage",
        translation_key="supply_voltage",
        device_class=SensorDeviceClass.VOLTAGE,
        native_unit_of_measurement=UnitOfElectricPotential.VOLT,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=2,
        entity_category=EntityCategory.DIAGNOSTIC,
        value=lambda health: None if health.vsys_mv is None else health.vsys_mv / 1000,
    ),
)


class BellHealthSensor(BellEntity, SensorEntity):
    """A diagnostic sensor from the bell's health report; unknown until one arrives."""

    entity_description: HealthDescription

    def __init__(self, bell: ServiceBell, description: HealthDescription) -> None:
        """Describe one piece of the report."""
        super().__init__(bell, f"{bell.entry.entry_id}_{description.key}")
        self.entity_description = description

    @property
    def native_value(self) -> float | int | datetime | None:
        """Return the reported value."""
        health = self.bell.health
        return None if health is None else self.entity_description.value(health)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else dt_util.as_utc(value).isoformat()
