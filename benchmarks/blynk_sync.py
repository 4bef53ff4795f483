"""How fast a change crosses between Home Assistant and the Blynk app, over real sockets.

Runs the heater's controller and Blynk device link (the code Home Assistant runs, without
Home Assistant around it) against the Blynk cloud emulator on loopback, and alternates
changes: one made on the Home Assistant side (set point or power, as the climate entity
would), then one made in the Blynk app (a write the emulator sends as `downlink/ds/...`).

- Home Assistant -> Blynk: from the controller call to the emulator receiving the value.
- Blynk -> Home Assistant: from the app's write to the controller showing the value.

Each power change also makes the device publish its status, the status colour and the set
point's lock, so user changes compete with paced messages, as they do in real use. The
emulator enforces Blynk's 50 messages a second: the run fails if it complains.

Usage: .venv/bin/python -m benchmarks.blynk_sync [--changes 80] [--gap 0.02]
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
import contextlib
from dataclasses import dataclass, field
import logging
import math
import statistics
import sys
import time

from blynk_emulator import BlynkCloud, Device
from custom_components.blynk_bell.const import VERSION
from custom_components.blynk_bell.protocol.blynk import BlynkDevice, BlynkListener, DeviceInfo
from custom_components.blynk_bell.protocol.heater import HeaterController
from custom_components.blynk_bell.protocol.model import SimulatedHeater
from custom_components.blynk_bell.protocol.mqtt import Endpoint

TOKEN = "benchmark-token-0123456789abcdef"
POWER = "Power"
SET_TEMPERATURE = "Set Temperature"


class Bridge(BlynkListener):
    """Wires the Blynk device to the controller, as the integration's BlynkHeater does."""

    def __init__(self, controller: HeaterController) -> None:
        """Forward to `controller`."""
        self.controller = controller
        self.ready = asyncio.Event()

    def datastream_changed(self, name: str, value: str) -> None:
        """Hand an app write to the controller."""
        self.controller.datastream_changed(name, value)

    def connection_changed(self, connected: bool) -> None:
        """Bring Blynk up to date, as after every connect."""
        if connected:
            self.controller.connected()
            self.ready.set()
        else:
            self.controller.disconnected()


class Watch:
    """Records when the controller first satisfies a condition (called on every change)."""

    def __init__(self) -> None:
        """Expect nothing yet."""
        self.condition: Callable[[], bool] = lambda: False
        self.met_at = 0.0
        self.met = asyncio.Event()

    def expect(self, condition: Callable[[], bool]) -> None:
        """Wait for `condition` from now on."""
        self.condition = condition
        self.met.clear()

    def changed(self) -> None:
        """Note the time the condition became true (the controller's on_change)."""
        if not self.met.is_set() and self.condition():
            self.met_at = time.monotonic()
            self.met.set()


@dataclass
class Bench:
    """The emulated cloud, its device, and the heater's controller linked to it."""

    cloud: BlynkCloud
    device: Device
    controller: HeaterController
    blynk: BlynkDevice
    watch: Watch
    to_blynk: list[float] = field(default_factory=list)
    to_home_assistant: list[float] = field(default_factory=list)

    async def from_home_assistant(self, name: str, value: str) -> None:
        """Change a value as the climate entity would; time it until Blynk has it."""
        seen = len(self.device.published)
        started = time.monotonic()
        if name == POWER:
            self.controller.set_power(value == "1")
        else:
            self.controller.set_target(float(value))
        await self.device.wait_for(lambda d: _arrived(d, seen, name, value))
        arrived = next(
            p.time for p in self.device.published[seen:] if _carries(p.topic, p.payload, name)
        )
        self.to_blynk.append(arrived - started)

    async def from_the_app(self, name: str, value: str) -> None:
        """Write a value in the "app"; time it until the controller shows it."""
        controller = self.controller
        if name == POWER:
            self.watch.expect(lambda: controller.power == (value == "1"))
        else:
            self.watch.expect(lambda: controller.target == float(value))
        started = time.monotonic()
        await self.device.write(name, value)
        async with asyncio.timeout(5):
            await self.watch.met.wait()
        self.to_home_assistant.append(self.watch.met_at - started)


def percentile(samples: list[float], fraction: float) -> float:
    """Nearest-rank percentile: the smallest sample with `fraction` of samples at or below."""
    ordered = sorted(samples)
    rank = math.ceil(fraction * len(ordered))
    return ordered[max(rank, 1) - 1]


def busiest_second(device: Device) -> int:
    """Return the most messages the device published within any one second."""
    times = [item.time for item in device.published]
    most, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] >= 1.0:
            start += 1
        most = max(most, end - start + 1)
    return most


def change(number: int) -> tuple[str, str]:
    """Return the datastream and value of change `number`, each one a real change.

    In fours: Home Assistant moves the set point, the app moves it again, Home Assistant
    switches the heater off, the app switches it back on.
    """
    if number % 4 < 2:
        return SET_TEMPERATURE, str(18 + number % 7)
    return POWER, "0" if number % 4 == 2 else "1"


async def tick(controller: HeaterController) -> None:
    """Advance the heater once a second, as Home Assistant does."""
    while True:
        await asyncio.sleep(1.0)
        controller.tick()


async def run(changes: int, gap: float) -> int:
    """Run the benchmark; return a process exit code."""
    cloud = BlynkCloud()
    await cloud.start()
    device = cloud.add_device(TOKEN, {POWER: "1", SET_TEMPERATURE: "22"})
    watch = Watch()
    controller = HeaterController(SimulatedHeater(), time.monotonic, watch.changed)
    bridge = Bridge(controller)
    blynk = BlynkDevice(Endpoint.from_url(cloud.url), TOKEN, bridge, DeviceInfo(VERSION, VERSION))
    controller.attach(blynk)
    bench = Bench(cloud, device, controller, blynk, watch)
    ticker = asyncio.create_task(tick(controller))
    blynk.start()
    try:
        async with asyncio.timeout(10):
            await bridge.ready.wait()
        await asyncio.sleep(2.0)  # Past the connect's own messages and a first tick.
        for number in range(changes):
            name, value = change(number)
            if number % 2 == 0:
                await bench.from_home_assistant(name, value)
            else:
                await bench.from_the_app(name, value)
            await asyncio.sleep(gap)
        await asyncio.sleep(1.5)  # Let paced messages go out before counting.
    finally:
        ticker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticker
        await blynk.async_stop()
        await cloud.stop()
    _report("Home Assistant -> Blynk", bench.to_blynk)
    _report("Blynk -> Home Assistant", bench.to_home_assistant)
    users = sum(p.topic in (f"ds/{POWER}", f"ds/{SET_TEMPERATURE}") for p in device.published)
    own = sum(p.topic in ("info/mcu", "get/ds") for p in device.published)
    print(
        f"device messages: {device.messages} ({users} user changes, {own} the connection's "
        f"own, {device.messages - users - own} reports), busiest second: "
        f"{busiest_second(device)} (Blynk allows 50), diag complaints: {len(device.diags)}, "
        f"kicks: {device.kicks}"
    )
    return 1 if device.diags or device.kicks else 0


def _carries(topic: str, payload: str, name: str) -> bool:
    return topic == f"ds/{name}" or (topic == "batch_ds" and f'"{name}"' in payload)


def _arrived(device: Device, seen: int, name: str, value: str) -> bool:
    return device.value(name) == value and any(
        _carries(p.topic, p.payload, name) for p in device.published[seen:]
    )


def _report(direction: str, samples: list[float]) -> None:
    ms = [sample * 1000 for sample in samples]
    print(
        f"{direction}: {len(ms)} changes, p50 {statistics.median(ms):.2f} ms, "
        f"p99 {percentile(ms, 0.99):.2f} ms, max {max(ms):.2f} ms"
    )


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments and run."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.blynk_sync", description=__doc__)
    parser.add_argument("--changes", type=int, default=80, help="changes, alternating sides")
    parser.add_argument("--gap", type=float, default=0.02, help="seconds between changes")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    return asyncio.run(run(max(2, args.changes), max(0.0, args.gap)))


if __name__ == "__main__":
    sys.exit(main())
