from homeassistant.core import HomeAssistant

from .conftest import TOPIC
from .helpers import state_of, wait_for
from .mosquitto import Mosquitto


async def test_mosquitto_pub_press_lights_table(hass: HomeAssistant, mosquitto: Mosquitto, bell_entry) -> None:
    assert state_of(hass, "binary_sensor.service_bell_table_3_calling") == "off"
    await mosquitto.publish(TOPIC, "button 3 is pressed")
    await wait_for(hass, lambda: state_of(hass, "binary_sensor.service_bell_table_3_calling") == "on")
    state = hass.states.get("event.service_bell_table_3")
    assert state.attributes["event_type"] == "press"
