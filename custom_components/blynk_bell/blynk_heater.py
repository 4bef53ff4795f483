"""The Blynk heater of one config entry: the integration *is* the Blynk device.

Blynk allows one MQTT connection per device token, so instead of talking to a device
through the cloud, Home Assistant connects with the token itself and runs the heater:
the original demo's simulation, or a real thermometer and heater switch.
"""

from __future__ import annotations

from datetime import datetime, timedelta
import logging
import time

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import ATTR_ENTITY_ID, ATTR_UNIT_OF_MEASUREMENT, UnitOfTemperature
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.util.unit_conversion import TemperatureConverter

from .const import (
    CONF_BLYNK_SERVER,
    CONF_HEATER_MODE,
    CONF_HEATER_SWITCH,
    CONF_HYSTERESIS,
    CONF_TEMPERATURE_SENSOR,
    CONF_TOKEN,
    DEFAULT_BLYNK_SERVER,
    DEFAULT_HYSTERESIS,
    DOMAIN,
    HEATER_MODE_ENTITIES,
    ISSUE_TOKEN_CONFLICT,
    VERSION,
)
from .protocol.blynk import BlynkDevice, BlynkListener, DeviceInfo
from .protocol.heater import (
    HeaterController,
    HeaterModel,
    SimulatedHeater,
    thermostat_wants_heat,
)
from .protocol.mqtt import Endpoint

_LOGGER = logging.getLogger(__name__)

TICK = timedelta(seconds=1)
# A switch that has not followed a command after this long is commanded again.
SWITCH_RETRY_SECONDS = 30.0


class EntityHeater:
    """A real heater: a Home Assistant temperature sensor and a switch that heats.

    Heating turns on below the set point minus the hysteresis and off at the set point;
    with the power off, or the thermometer unavailable, the switch is kept off.
    """

    status_follows_heating = True

    def __init__(
        self, hass: HomeAssistant, sensor_id: str, switch_id: str, hysteresis: float
    ) -> None:
        """Bind to the sensor and switch entities."""
        self._hass = hass
        self.sensor_id = sensor_id
        self.switch_id = switch_id
        self._hysteresis = hysteresis
        self._commanded: bool | None = None
        self._commanded_at = -SWITCH_RETRY_SECONDS

    def current_temperature(self) -> float | None:
        """Read the sensor in °C, or None when it has no usable value."""
        state = self._hass.states.get(self.sensor_id)
        if state is None:
            return None
        try:
            value = float(state.state)
        except ValueError:
            return None
        unit = state.attributes.get(ATTR_UNIT_OF_MEASUREMENT, UnitOfTemperature.CELSIUS)
        if unit not in TemperatureConverter.VALID_UNITS:
            return None
        return TemperatureConverter.convert(value, unit, UnitOfTemperature.CELSIUS)

    def heating(self) -> bool:
        """Tell whether the switch is on."""
        state = self._hass.states.get(self.switch_id)
        return state is not None and state.state == "on"

    def update(self, power: bool, target: float, elapsed: float) -> None:
        """Switch the heater on or off as the thermostat rule says."""
        current = self.current_temperature()
        want = (
            power
            and current is not None
            and thermostat_wants_heat(current, target, self._hysteresis, self.heating())
        )
        now = time.monotonic()
        if want == self.heating() and want == self._commanded:
            return
        if want == self._commanded and now - self._commanded_at < SWITCH_RETRY_SECONDS:
            return  # Commanded already; give the switch time to follow.
        self._commanded, self._commanded_at = want, now
        domain = self.switch_id.split(".", 1)[0]
        self._hass.async_create_task(
            self._hass.services.async_call(
                domain, "turn_on" if want else "turn_off", {ATTR_ENTITY_ID: self.switch_id}
            ),
            eager_start=True,
        )


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
        self.controller = HeaterController(heater_model(hass, entry), time.monotonic, self._notify)
        self.device = BlynkDevice(
            Endpoint.from_url(entry.data.get(CONF_BLYNK_SERVER) or DEFAULT_BLYNK_SERVER),
            entry.data[CONF_TOKEN],
            self,
            DeviceInfo(version=VERSION, build=VERSION),
            task_factory=lambda coro, name: entry.async_create_background_task(hass, coro, name),
        )
        self.controller.attach(self.device)
        self._listeners: list[CALLBACK_TYPE] = []
        self._cancel_tick: CALLBACK_TYPE | None = None
        self._lost_logged = False
        self._running = False

    @property
    def available(self) -> bool:
        """Tell whether Blynk is connected."""
        return self.device.connected

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

    async def async_stop(self) -> None:
        """Disconnect and stop the clock."""
        self._running = False
        if self._cancel_tick is not None:
            self._cancel_tick()
            self._cancel_tick = None
        await self.device.async_stop()

    @callback
    def async_add_listener(self, listener: CALLBACK_TYPE) -> CALLBACK_TYPE:
        """Call `listener` whenever the heater or its link changes."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

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
        elif self._running and not self._lost_logged:
            _LOGGER.warning("Lost the connection to Blynk; reconnecting in the background")
            self._lost_logged = True
        self._notify()

    def auth_failed(self) -> None:
        """Ask the user for a new token; the link has stopped retrying."""
        if self._running:
            self.entry.async_start_reauth(self.hass)
        self._notify()

    def token_conflict_changed(self, conflict: bool) -> None:
        """Tell the user (in Repairs) that another client is using our token."""
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
