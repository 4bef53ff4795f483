"""Simulated time, and a link that stands where MqttLink does, for hours-long quota tests.

The Blynk device and the heater's controller run unchanged; only the clock, the timers
and the socket are simulated, so an hour takes milliseconds and every publish is counted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
import heapq
import itertools
import random
from typing import Any

from custom_components.blynk_bell.protocol.blynk import BlynkDevice, BlynkListener, DeviceInfo
from custom_components.blynk_bell.protocol.heater import HeaterController
from custom_components.blynk_bell.protocol.model import HeaterModel, SimulatedHeater
from custom_components.blynk_bell.protocol.mqtt import Endpoint, Message

SERVER = Endpoint.from_url("mqtts://blynk.cloud:8883")


class Timer:
    """A scheduled callback; cancelling it keeps it from running."""

    def __init__(self, at: float, callback: Callable[[], None]) -> None:
        self.at = at
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class SimulatedTime:
    """A clock and call_later whose time moves only when told."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self._timers: list[tuple[float, int, Timer]] = []
        self._order = itertools.count()

    def __call__(self) -> float:
        return self.now

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        timer = Timer(self.now + max(0.0, delay), callback)
        heapq.heappush(self._timers, (timer.at, next(self._order), timer))
        return timer

    def advance(self, seconds: float) -> None:
        """Run every timer due within `seconds`, in order, moving the clock along."""
        until = self.now + seconds
        while self._timers and self._timers[0][0] <= until:
            at, _order, timer = heapq.heappop(self._timers)
            self.now = max(self.now, at)
            if not timer.cancelled:
                timer.callback()
        self.now = until


@dataclass
class Sent:
    time: float
    server: Endpoint
    topic: str
    payload: str


@dataclass
class SimulatedBlynk:
    """Blynk's side: its stored values, a redirect to send, and everything it received."""

    time: SimulatedTime
    values: dict[str, str] = field(default_factory=lambda: {"Power": "1", "Set Temperature": "22"})
    redirect: dict[Endpoint, str] = field(default_factory=dict)
    answer_delay: float = 0.05
    received: list[Sent] = field(default_factory=list)

    def between(self, start: float, end: float, topic: str | None = None) -> list[Sent]:
        return [s for s in self.received if start <= s.time < end and topic in (None, s.topic)]


class SimulatedLink:
    """Stands where MqttLink does: same constructor and methods, no socket."""

    def __init__(
        self,
        endpoint: Endpoint,
        _options: Any,
        *,
        blynk: SimulatedBlynk,
        on_message: Callable[[Message], None],
        on_connected: Callable[[bool], None],
        on_disconnected: Callable[[str], None],
        **_ignored: Any,
    ) -> None:
        self.endpoint = endpoint
        self._blynk = blynk
        self._on_message = on_message
        self._on_connected = on_connected
        self._on_disconnected = on_disconnected
        self._redirect: Endpoint | None = None
        self.connected = False
        self.last_error: str | None = None
        self.auth_failed = False
        self.connections: list[Endpoint] = []

    @property
    def current_endpoint(self) -> Endpoint:
        return self._redirect or self.endpoint

    def start(self) -> None:
        self.connect()

    async def async_stop(self) -> None:
        self.connected = False

    def connect(self) -> None:
        """Connect to the current server; it may answer with a redirect at once."""
        self.connected = True
        self.connections.append(self.current_endpoint)
        self._on_connected(False)
        if (url := self._blynk.redirect.get(self.current_endpoint)) is not None:
            self.deliver("downlink/redirect", url)

    def drop(self, reason: str = "connection lost") -> None:
        if self.connected:
            self.connected = False
            self._on_disconnected(reason)

    def deliver(self, topic: str, payload: str) -> None:
        if self.connected:
            self._on_message(Message(topic, payload.encode(), 0, False))

    def publish(
        self,
        topic: str,
        payload: bytes | str,
        qos: int = 0,
        retain: bool = False,
        on_ack: Callable[[], None] | None = None,
    ) -> bool:
        if not self.connected:
            return False
        text = payload.decode() if isinstance(payload, bytes) else payload
        time = self._blynk.time
        self._blynk.received.append(Sent(time.now, self.current_endpoint, topic, text))
        if topic == "get/ds":
            answers = {n: self._blynk.values[n] for n in text.split(",") if n in self._blynk.values}
            time.call_later(self._blynk.answer_delay, lambda: self._answer(answers))
        elif topic.startswith("ds/") and "/prop/" not in topic:
            self._blynk.values[topic.removeprefix("ds/")] = text
        if on_ack is not None and qos:
            time.call_later(0.05, on_ack)
        return True

    def _answer(self, answers: dict[str, str]) -> None:
        for name, value in answers.items():
            self.deliver(f"downlink/ds/{name}", value)

    def redirect(self, target: Endpoint) -> None:
        """Leave for `target` at once, as the real link does."""
        if target == self.current_endpoint:
            return
        self._redirect = target
        self.drop("redirected")
        self._blynk.time.call_later(0.2, self.connect)

    def reconnect_now(self, reason: str) -> None:
        self.drop(reason)
        self._blynk.time.call_later(0.2, self.connect)

    def hold_off(self, seconds: float) -> None:
        pass


class Owner(BlynkListener):
    """Wires the device to the controller as the integration's BlynkHeater does."""

    def __init__(self, controller: HeaterController) -> None:
        self.controller = controller

    def datastream_changed(self, name: str, value: str) -> None:
        self.controller.datastream_changed(name, value)

    def connection_changed(self, connected: bool) -> None:
        if connected:
            self.controller.connected()
        else:
            self.controller.disconnected()


@dataclass
class Run:
    """A heater on simulated Blynk: tick it for hours, cut its link, count its messages."""

    time: SimulatedTime
    blynk: SimulatedBlynk
    controller: HeaterController
    device: BlynkDevice
    changes: list[float]

    @property
    def link(self) -> SimulatedLink:
        link = self.device.link
        assert isinstance(link, SimulatedLink)
        return link

    def seconds(self, count: float) -> None:
        """Let `count` seconds pass, ticking the heater once a second as Home Assistant does."""
        for _ in range(int(count)):
            self.time.advance(1.0)
            self.controller.tick()

    def sent(self, start: float, end: float, topic: str | None = None) -> list[Sent]:
        return self.blynk.between(start, end, topic)


def start(
    seed: int = 0,
    model: HeaterModel | None = None,
    values: dict[str, str] | None = None,
    answer_delay: float = 0.05,
) -> Run:
    """Connect a heater (the demo's simulation by default) and let it take Blynk's values."""
    time = SimulatedTime()
    blynk = SimulatedBlynk(time, answer_delay=answer_delay)
    if values is not None:
        blynk.values = dict(values)
    changes: list[float] = []
    controller = HeaterController(
        model or SimulatedHeater(rand=random.Random(seed).uniform),
        time,
        lambda: changes.append(time.now),
    )

    def link_factory(*args: Any, **kwargs: Any) -> SimulatedLink:
        return SimulatedLink(*args, blynk=blynk, **kwargs)

    device = BlynkDevice(
        SERVER,
        "token",
        Owner(controller),
        DeviceInfo("1", "1"),
        clock=time,
        scheduler=time.call_later,
        link_factory=link_factory,
    )
    controller.attach(device)
    device.start()
    run = Run(time, blynk, controller, device, changes)
    run.seconds(2)
    return run
