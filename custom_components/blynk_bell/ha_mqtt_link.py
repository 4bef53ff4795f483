"""The bell's link through Home Assistant's own MQTT integration: no second connection.

When the bell publishes to the broker Home Assistant already uses, a second client of
ours would be one more login to type and one more connection to keep. This link has the
members `ServiceBell` uses of `MqttLink` and rides on the MQTT integration's public API
instead: its subscriptions, its publishes and its connection-state signal.

The difference the user lives with: Home Assistant's client connects with a clean
session, so the broker keeps nothing for us while Home Assistant restarts. Presses made
meanwhile reach us only if the bell queues them itself (our firmware does, the tutorial's
does not), and `on_connected` always says no session was present.

This is Home Assistant glue, so it lives beside the entities, not in `protocol/`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import contextlib
import logging
from typing import Any

from homeassistant.components import mqtt
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError

from .protocol.mqtt import Endpoint, Message, MessageHandler, TaskFactory

_LOGGER = logging.getLogger(__name__)

LOST = "Home Assistant's MQTT client lost its broker"


def ha_mqtt_loaded(hass: HomeAssistant) -> bool:
    """Tell whether Home Assistant's MQTT integration has a loaded entry."""
    return bool(hass.config_entries.async_loaded_entries(mqtt.DOMAIN))


def ha_mqtt_connected(hass: HomeAssistant) -> bool:
    """Tell whether Home Assistant's MQTT client is connected to its broker now."""
    return ha_mqtt_loaded(hass) and mqtt.is_connected(hass)


def ha_broker_endpoint(hass: HomeAssistant) -> Endpoint:
    """Return where Home Assistant's MQTT client connects: host, port, scheme, no login.

    For logs, diagnostics and the public-broker check; an empty host while the MQTT
    integration has no entry.
    """
    entries = hass.config_entries.async_entries(mqtt.DOMAIN)
    data: dict[str, Any] = dict(entries[0].data) if entries else {}
    websocket = data.get(mqtt.CONF_TRANSPORT) == "websockets"
    port = data.get("port", 1883)
    return Endpoint(
        host=str(data.get(mqtt.CONF_BROKER, "")),
        port=port if isinstance(port, int) else 1883,
        tls=bool(data.get(mqtt.CONF_CERTIFICATE)),
        websocket=websocket,
        path=str(data.get(mqtt.CONF_WS_PATH) or "/") if websocket else "/mqtt",
    )


class HaMqttLink:
    """Subscriptions and publishes through Home Assistant's MQTT client.

    Connected means Home Assistant's client is, and the broker has acknowledged the
    bell topic's subscription since it connected; its losses and recoveries reach the
    owner through the same callbacks as `MqttLink`'s. Credentials are the MQTT
    integration's business, so nothing here can be refused (`auth_failed` stays False).
    """

    def __init__(
        self,
        hass: HomeAssistant,
        subscriptions: tuple[tuple[str, int], ...],
        *,
        name: str,
        on_message: MessageHandler,
        on_connected: Callable[[bool], None],
        on_disconnected: Callable[[str], None],
        task_factory: TaskFactory,
    ) -> None:
        """Prepare the link; nothing is subscribed before `start`."""
        if not subscriptions:
            raise ValueError("the bell topic is the first subscription")
        self._hass = hass
        self._subscriptions = subscriptions
        self._name = name
        self._on_message = on_message
        self._on_connected = on_connected
        self._on_disconnected = on_disconnected
        self._task_factory = task_factory
        self._unsubscribes: list[CALLBACK_TYPE] = []
        self._starter: asyncio.Task[None] | None = None
        self._running = False
        self._connected = False
        self._connected_event = asyncio.Event()
        self._outage_logged = False
        self.endpoint = ha_broker_endpoint(hass)
        self.current_endpoint = self.endpoint
        self.last_error: str | None = None
        self.last_disconnect: str | None = None
        self.auth_failed = False
        self.connections = 0
        self.received = 0

    @property
    def connected(self) -> bool:
        """Tell whether Home Assistant's client is connected (and this link started)."""
        return self._connected

    def start(self) -> None:
        """Subscribe in the background; `async_wait_connected` tells when it is up."""
        if self._starter is None or self._starter.done():
            self._running = True
            self._starter = self._task_factory(self._async_start(), f"{self._name} MQTT link")

    async def async_wait_connected(self, timeout: float) -> bool:
        """Wait until Home Assistant's client is connected, at most `timeout` seconds."""
        if self._starter is not None and not self._connected:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    # Shielded: running out of time must not cancel the subscribing.
                    await asyncio.shield(self._starter)
                    if self._unsubscribes:  # Subscribed: the client may be reconnecting.
                        await self._connected_event.wait()
        if not self._connected and self.last_error is None:
            self.last_error = "Home Assistant's MQTT client is not connected"
        return self._connected

    async def async_stop(self) -> None:
        """Unsubscribe and stop following the connection; the MQTT client stays up."""
        self._running = False
        starter, self._starter = self._starter, None
        if starter is not None and not starter.done():
            starter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await starter
        while self._unsubscribes:
            unsubscribe = self._unsubscribes.pop()
            with contextlib.suppress(HomeAssistantError):
                unsubscribe()
        self._connected = False
        self._connected_event.clear()

    def publish(self, topic: str, payload: bytes | str, qos: int = 0, retain: bool = False) -> bool:
        """Hand a message to Home Assistant's client; False when it is not connected.

        Publishes start in the order they are made, so a later calls feedback never
        overtakes an earlier one.
        """
        if not self._connected:
            return False
        self._task_factory(
            self._async_publish(topic, payload, qos, retain), f"{self._name} publish"
        )
        return True

    async def _async_publish(
        self, topic: str, payload: bytes | str, qos: int, retain: bool
    ) -> None:
        try:
            await mqtt.async_publish(self._hass, topic, payload, qos, retain)
        except HomeAssistantError as err:
            _LOGGER.debug("%s: could not publish on %s: %s", self._name, topic, err)

    async def _async_start(self) -> None:
        if not await mqtt.async_wait_for_mqtt_client(self._hass):
            self.last_error = "Home Assistant's MQTT integration is not set up"
            return
        try:
            for topic, qos in self._subscriptions:
                # encoding=None: the payload stays bytes, as the bell's parser expects.
                self._unsubscribes.append(
                    await mqtt.async_subscribe(
                        self._hass, topic, self._receive, qos=qos, encoding=None
                    )
                )
        except HomeAssistantError as err:
            self.last_error = str(err)
            return
        self._unsubscribes.append(
            mqtt.async_subscribe_connection_status(self._hass, self._client_changed)
        )
        # Up once the broker has acknowledged the bell topic, after every (re)connect:
        # with a clean session, a press before that would be lost, not late.
        topic, qos = self._subscriptions[0]
        self._unsubscribes.append(
            mqtt.async_on_subscribe_done(self._hass, topic, qos, self._subscribed)
        )

    @callback
    def _client_changed(self, connected: bool) -> None:
        if not connected:  # Connected again, it subscribes again: `_subscribed` follows.
            self._set_connected(False)

    @callback
    def _subscribed(self) -> None:
        if ha_mqtt_connected(self._hass):
            self._set_connected(True)

    def _set_connected(self, connected: bool) -> None:
        if not self._running or connected == self._connected:
            return
        self._connected = connected
        if connected:
            self.connections += 1
            self.last_error = None
            self._connected_event.set()
            if self._outage_logged:
                _LOGGER.info("%s: connected again through Home Assistant's MQTT", self._name)
                self._outage_logged = False
            self._call(self._on_connected, False)  # A clean session: nothing was kept.
            return
        self._connected_event.clear()
        self.last_disconnect = self.last_error = LOST
        if not self._outage_logged:
            _LOGGER.info("%s: %s; waiting for it to reconnect", self._name, LOST)
            self._outage_logged = True
        self._call(self._on_disconnected, LOST)

    @callback
    def _receive(self, message: mqtt.ReceiveMessage) -> None:
        if not self._running:  # A subscription that outlived us (the MQTT entry reloaded).
            return
        payload = message.payload
        if isinstance(payload, str):  # Not with encoding=None; kept for safety.
            payload = payload.encode()
        self.received += 1
        self._call(
            self._on_message,
            Message(
                topic=message.topic,
                payload=bytes(payload),
                qos=message.qos,
                retain=message.retain,
            ),
        )

    def _call(self, handler: Callable[..., None], *args: Any) -> None:
        """Run an owner's callback; its bug must not break Home Assistant's client."""
        try:
            handler(*args)
        except Exception:
            _LOGGER.exception("%s: error in a callback", self._name)
