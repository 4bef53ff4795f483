"""The Blynk heater of one config entry: the integration *is* the Blynk device.

Blynk allows one MQTT connection per device token, so instead of talking to a device
through the cloud, Home Assistant connects with the token itself and runs the heater:
the original demo's simulation, or a real thermometer and heater switch. A real heater
is a thermostat that runs here, with or without Blynk, and fails safe.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
import logging
import time
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import (
    ATTR_ENTITY_ID,
    ATTR_UNIT_OF_MEASUREMENT,
    EVENT_HOMEASSISTANT_STOP,
    UnitOfTemperature,
)
from homeassistant.core import CALLBACK_TYPE, Event, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.util import dt as dt_util
from homeassistant.util.unit_conversion import TemperatureConverter

from .const import (
    CONF_BLYNK_SERVER,
    CONF_HEATER_MODE,
    CONF_HEATER_SWITCH,
    CONF_HYSTERESIS,
    CONF_TEMPERATURE_SENSOR,
    CONF_TEMPLATE_ID,
    CONF_TOKEN,
    DEFAULT_BLYNK_SERVER,
    DEFAULT_HYSTERESIS,
    DOMAIN,
    HEATER_MODE_ENTITIES,
    ISSUE_TOKEN_CONFLICT,
    VERSION,
)
from .protocol.blynk import BlynkDevice, BlynkListener, DeviceInfo
from .protocol.heater import HeaterController
from .protocol.model import (
    CutOff,
    HeaterModel,
    SimulatedHeater,
    safety_cut_off,
    thermostat_wants_heat,
)
from .protocol.mqtt import Endpoint
from .protocol.sync import ReportPolicy, TemperatureReporter

_LOGGER = logging.getLogger(__name__)

TICK = timedelta(seconds=1)
# A switch that has not followed a command after this long is commanded again; sooner
# when a safety rule wants it off.
SWITCH_RETRY_SECONDS = 30.0
SAFETY_RETRY_SECONDS = 5.0
SWITCH_OFF_TIMEOUT = 10.0

# Home Assistant records every state change: the simulated noise alone would write a
# row a second for months. Twice a minute shows a thermometer; big moves show at once.
HOME_ASSISTANT_REPORTS = ReportPolicy(
    interval=30.0, min_change=0.1, big_change=1.0, big_interval=1.0
)


class DisplayPolicy:
    """When Home Assistant is told: any change at once, except the temperature's noise."""

    def __init__(self, clock: Callable[[], float]) -> None:
        """Nothing shown yet."""
        self._reporter = TemperatureReporter(HOME_ASSISTANT_REPORTS, clock)
        self._others: tuple[object, ...] | None = None
        self._current: float | None = None

    def due(self, others: tuple[object, ...], current: float | None) -> bool:
        """Tell whether to show this state: `others` is all of it but the temperature."""
        if others == self._others:
            if current == self._current:
                return False
            shown = self._current
            if current is not None and shown is not None and not self._reporter.due(current):
                return False
        self._others, self._current = others, current
        if current is None:
            self._reporter.forget()
        else:
            self._reporter.sent(current)
        return True


class EntityHeater:
    """A real heater: a Home Assistant temperature sensor and a switch that heats.

    Heating turns on below the set point minus the hysteresis and off at the set point.
    The safety rules (`safety_cut_off`) keep the switch off while the thermometer is
    unavailable or silent, or the room is too warm; the switch also goes off when the
    entry unloads or Home Assistant stops.
    """

    status_follows_heating = True

    def __init__(
        self,
        hass: HomeAssistant,
        sensor_id: str,
        switch_id: str,
        hysteresis: float,
        now: Callable[[], datetime] = dt_util.utcnow,
    ) -> None:
        """Bind to the sensor and switch entities."""
        self._hass = hass
        self.sensor_id = sensor_id
        self.switch_id = switch_id
        self._hysteresis = hysteresis
        self._now = now
        self._commanded: bool | None = None
        self._commanded_at = -SWITCH_RETRY_SECONDS
        self.cut_off: CutOff | None = None
        self.last_cut_off: tuple[CutOff, datetime] | None = None
        self.stopped = False

    def _reading(self) -> tuple[float | None, float]:
        """Return the sensor's value in °C (None when unusable) and its silence in seconds."""
        state = self._hass.states.get(self.sensor_id)
        if state is None:
            return None, 0.0
        silent_for = (self._now() - state.last_reported).total_seconds()
        try:
            value = float(state.state)
        except ValueError:
            return None, silent_for
        unit = state.attributes.get(ATTR_UNIT_OF_MEASUREMENT, UnitOfTemperature.CELSIUS)
        if unit not in TemperatureConverter.VALID_UNITS:
            return None, silent_for
        celsius = TemperatureConverter.convert(value, unit, UnitOfTemperature.CELSIUS)
        return (celsius if -100 < celsius < 200 else None), silent_for

    def current_temperature(self) -> float | None:
        """Read the sensor in °C, or None when it has no usable value."""
        return self._reading()[0]

    def heating(self) -> bool:
        """Tell whether the switch is on."""
        state = self._hass.states.get(self.switch_id)
        return state is not None and state.state == "on"

    def update(self, power: bool, target: float, elapsed: float) -> None:
        """Switch the heater on or off as the thermostat and the safety rules say."""
        if self.stopped:
            return
        current, silent_for = self._reading()
        cut_off = safety_cut_off(current, silent_for, target) if power else None
        if cut_off is not None and cut_off is not self.cut_off:
            self._note_cut_off(cut_off)
        self.cut_off = cut_off
        want = (
            power
            and cut_off is None
            and current is not None
            and thermostat_wants_heat(current, target, self._hysteresis, self.heating())
        )
        now = time.monotonic()
        if want == self.heating() and want == self._commanded:
            return
        retry = SWITCH_RETRY_SECONDS if cut_off is None else SAFETY_RETRY_SECONDS
        if want == self._commanded and now - self._commanded_at < retry:
            return  # Commanded already; give the switch time to follow.
        self._commanded, self._commanded_at = want, now
        self._hass.async_create_task(self._async_command(want), eager_start=True)

    async def async_switch_off(self, reason: CutOff) -> None:
        """Switch the heater off for good (the entry unloads, Home Assistant stops)."""
        self.stopped = True
        self._note_cut_off(reason)
        await self._async_command(False)

    def _note_cut_off(self, reason: CutOff) -> None:
        self.last_cut_off = (reason, self._now())
        stopping = reason in (CutOff.UNLOADED, CutOff.HOME_ASSISTANT_STOPPED)
        # A warning when it switches a running heater off; a thermometer that is not
        # loaded yet while Home Assistant starts is no news.
        log = _LOGGER.debug if stopping or not self.heating() else _LOGGER.warning
        log("Switched the heater %s off: %s", self.switch_id, reason.value)

    async def _async_command(self, on: bool) -> None:
        domain = self.switch_id.split(".", 1)[0]
        try:
            async with asyncio.timeout(SWITCH_OFF_TIMEOUT):
                await self._hass.services.async_call(
                    domain,
                    "turn_on" if on else "turn_off",
                    {ATTR_ENTITY_ID: self.switch_id},
                    blocking=True,
                )
        except (HomeAssistantError, TimeoutError) as err:
            _LOGGER.warning(
                "Could not switch %s %s: %s", self.switch_id, "on" if on else "off", err
            )

    def diagnostics(self) -> dict[str, Any]:
        """Return which safety rule holds the switch off now, and which did last."""
        last = self.last_cut_off
        return {
            "sensor": self.sensor_id,
            "switch": self.switch_id,
            "cut_off": self.cut_off.value if self.cut_off is not None else None,
            "last_cut_off": (
                {"rule": last[0].value, "at": last[1].isoformat()} if last is not None else None
            ),
        }


def heater_model(hass: HomeAssistant, entry: ConfigEntry) -> HeaterModel:
    """Build the heater the options ask for."""
    options = entry.options
    if options.get(CONF_HEATER_MODE) == HEATER_MODE_ENTITIES:
        return EntityHeater(
            hass,
            options[CONF_TEMPERATURE_SENSOR],
            options[CONF_HEATER_SWITCH],
            float(options.get(CONF_HYSTERESIS, DEFAULT_HYSTERESIS)),
        )
    return SimulatedHeater()


class BlynkHeater(BlynkListener):
    """Runs the heater and keeps it in sync with the Blynk app."""

    def __init__(self, hass: HomeAssistant, entry: ConfigEntry) -> None:
        """Prepare; `start` connects once the climate entity has restored its state."""
        self.hass = hass
        self.entry = entry
        self.model = heater_model(hass, entry)
        self.controller = HeaterController(self.model, time.monotonic, self._changed)
        self.device = BlynkDevice(
            Endpoint.from_url(entry.data.get(CONF_BLYNK_SERVER) or DEFAULT_BLYNK_SERVER),
            entry.data[CONF_TOKEN],
            self,
            DeviceInfo(
                version=VERSION, build=VERSION, template_id=entry.options.get(CONF_TEMPLATE_ID)
            ),
            task_factory=lambda coro, name: entry.async_create_background_task(hass, coro, name),
        )
        self.controller.attach(self.device)
        self._display = DisplayPolicy(time.monotonic)
        self._listeners: list[CALLBACK_TYPE] = []
        self._cancel_tick: CALLBACK_TYPE | None = None
        self._cancel_stop_listener: CALLBACK_TYPE | None = None
        self._lost_logged = False
        self._running = False

    @property
    def runs_locally(self) -> bool:
        """Tell whether the heater works without Blynk (a real heater does)."""
        return isinstance(self.model, EntityHeater)

    @property
    def available(self) -> bool:
        """Tell whether the heater can be used: always for a real one, else with Blynk."""
        return self.runs_locally or self.device.connected

    @property
    def issue_id(self) -> str:
        """Return the id of this entry's token-conflict repair issue."""
        return f"{ISSUE_TOKEN_CONFLICT}_{self.entry.entry_id}"

    def start(self) -> None:
        """Connect to Blynk and start the heater's clock."""
        self._running = True
        self.device.start()
        self._cancel_tick = async_track_time_interval(
            self.hass, self._tick, TICK, name="blynk_bell heater"
        )
        if isinstance(self.model, EntityHeater):
            self._cancel_stop_listener = self.hass.bus.async_listen_once(
                EVENT_HOMEASSISTANT_STOP, self._async_home_assistant_stopping
            )

    async def async_stop(self) -> None:
        """Switch a real heater off, stop the clock and disconnect."""
        self._running = False
        self._stop_clock()
        if self._cancel_stop_listener is not None:
            self._cancel_stop_listener()
            self._cancel_stop_listener = None
        if isinstance(self.model, EntityHeater) and not self.model.stopped:
            await self.model.async_switch_off(CutOff.UNLOADED)
        await self.device.async_stop()

    async def _async_home_assistant_stopping(self, _event: Event) -> None:
        self._cancel_stop_listener = None  # Fired once: nothing to remove any more.
        self._stop_clock()
        if isinstance(self.model, EntityHeater):
            await self.model.async_switch_off(CutOff.HOME_ASSISTANT_STOPPED)

    def _stop_clock(self) -> None:
        if self._cancel_tick is not None:
            self._cancel_tick()
            self._cancel_tick = None

    def diagnostics(self) -> dict[str, Any]:
        """Return the real heater's safety state (None for the simulation)."""
        return self.model.diagnostics() if isinstance(self.model, EntityHeater) else {}

    @callback
    def async_add_listener(self, listener: CALLBACK_TYPE) -> CALLBACK_TYPE:
        """Call `listener` whenever the heater or its link changes."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    @callback
    def _changed(self) -> None:
        """Tell the entity, unless only the temperature's noise moved."""
        state = self.controller.state
        shown = (self.available, state.power, state.target, state.status)
        if self._display.due(shown, state.current):
            self._notify()

    @callback
    def _notify(self) -> None:
        for listener in list(self._listeners):
            listener()

    @callback
    def _tick(self, _now: datetime) -> None:
        self.controller.tick()

    # BlynkListener ------------------------------------------------------------------

    def datastream_changed(self, name: str, value: str) -> None:
        """Adopt a value from the Blynk app."""
        self.controller.datastream_changed(name, value)

    def connection_changed(self, connected: bool) -> None:
        """Bring Blynk up to date, and log a loss or recovery once."""
        if connected:
            if self._lost_logged:
                _LOGGER.info("Reconnected to Blynk")
                self._lost_logged = False
            self.controller.connected()
        else:
            self.controller.disconnected()
            if self._running and not self._lost_logged:
                _LOGGER.warning(
                    "Lost the connection to Blynk; reconnecting in the background%s",
                    "; the heater keeps running here" if self.runs_locally else "",
                )
                self._lost_logged = True
        self._changed()

    def auth_failed(self) -> None:
        """Ask the user for a new token; the link has stopped retrying."""
        if self._running:
            self.entry.async_start_reauth(self.hass)
        self._changed()

    def token_conflict_changed(self, conflict: bool) -> None:
        """Tell the user (in Repairs) that another client is using our token, or not."""
        if conflict:
            ir.async_create_issue(
                self.hass,
                DOMAIN,
                self.issue_id,
                is_fixable=False,
                severity=ir.IssueSeverity.WARNING,
                translation_key=ISSUE_TOKEN_CONFLICT,
                translation_placeholders={"title": self.entry.title},
            )
        else:
            ir.async_delete_issue(self.hass, DOMAIN, self.issue_id)
