"""The fault bench: the firmware presses while the network fails in every way it can.

The bell (the unchanged firmware on the host runner, keyed) presses about every 200 ms,
round the four tables, against a real Mosquitto that keeps sessions across restarts.
Home Assistant reaches the broker through a TCP proxy. Meanwhile faults of four kinds
come one after another, in random order, a fraction of a second apart:

- `broker`: Mosquitto restarts (both links drop; queued messages survive on disk);
- `cut`: the proxy cuts Home Assistant's TCP connection;
- `wifi`: the bell's Wi-Fi goes away for 0.3 to 1.5 s (it queues its presses);
- `reload`: the config entry reloads, as in a Home Assistant restart.

Every press the firmware queued must show up exactly once as an event of its table's
event entity. Printed: presses made, delivered, lost, duplicated, and the delivery delay
(from the button's release to the event entity's state), median and worst. A lost press
is one of two kinds: one the link never handed to the bell's message handler (the
network, the broker or the link lost it), and one the handler got but that never became
an event (lost inside the integration, after the link's PUBACK).

Home Assistant's link retries after 0.1 to 1 s here and counts a connection stable after
3 s (instead of 1 to 60 s and 30 s): with a fault every second, the real backoff would sit
at its one-minute ceiling, which is what it is for, but not what this bench measures.
"""

from __future__ import annotations

import asyncio
from collections import Counter
import contextlib
from dataclasses import dataclass, field
import json
import random
import statistics
import time
from typing import Any

from homeassistant.const import EVENT_STATE_CHANGED, STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from pytest_homeassistant_custom_component.common import MockConfigEntry

from ..helpers import wait_for
from ..mosquitto import Mosquitto
from ..tcp_proxy import TcpProxy

KINDS = ("broker", "cut", "wifi", "reload")
PRESS_INTERVAL = 0.2
TABLES = 4
EVENT_PREFIX = "event.service_bell_table_"


@dataclass
class Figures:
    """What the bench measured."""

    transport: str
    faults: Counter[str] = field(default_factory=Counter)
    made: int = 0
    delivered: int = 0
    lost: int = 0
    lost_after_handover: int = 0
    duplicated: int = 0
    dropped_by_bell: int = 0
    median_delay: float = 0.0
    worst_delay: float = 0.0
    seconds: float = 0.0

    def __str__(self) -> str:
        kinds = ", ".join(f"{self.faults[kind]} {kind}" for kind in KINDS)
        return (
            f"{self.transport}: {sum(self.faults.values())} faults ({kinds}) in "
            f"{self.seconds:.0f} s; presses made {self.made}, delivered {self.delivered}, "
            f"lost {self.lost} ({self.lost_after_handover} of them after the link handed "
            f"them over), duplicated {self.duplicated}, dropped by the bell "
            f"{self.dropped_by_bell}; delay median {self.median_delay:.2f} s, "
            f"worst {self.worst_delay:.2f} s"
        )


class Arrivals:
    """When each press (by seq) became an event in Home Assistant's state machine."""

    def __init__(self, hass: HomeAssistant) -> None:
        self.seen: dict[int, list[float]] = {}
        self._last: dict[str, str] = {}
        self.close = hass.bus.async_listen(EVENT_STATE_CHANGED, self._changed)

    @callback
    def _changed(self, event: Event[EventStateChangedData]) -> None:
        entity_id = event.data["entity_id"]
        state = event.data["new_state"]
        if not entity_id.startswith(EVENT_PREFIX) or state is None:
            return
        if state.state in (STATE_UNKNOWN, STATE_UNAVAILABLE):
            return  # The link going and coming is not a press.
        if self._last.get(entity_id) == state.state:
            return  # Back from unavailable (or restored after a reload): the same event.
        self._last[entity_id] = state.state
        if (seq := state.attributes.get("seq")) is not None:
            self.seen.setdefault(seq, []).append(time.monotonic())

    @property
    def count(self) -> int:
        return sum(len(times) for times in self.seen.values())


class Handover:
    """The seqs of the presses the link handed to the bell's message handler."""

    def __init__(self) -> None:
        self.seqs: set[int] = set()

    def saw(self, payload: bytes) -> None:
        with contextlib.suppress(ValueError, AttributeError):
            if isinstance(seq := json.loads(payload).get("seq"), int):
                self.seqs.add(seq)


class FaultBench:
    """Runs presses and faults together; `run` returns the figures."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: MockConfigEntry,
        bell: Any,
        broker: Mosquitto,
        proxy: TcpProxy,
        *,
        transport: str,
        seed: int = 1,
        handover: Handover | None = None,
    ) -> None:
        self.hass = hass
        self.entry = entry
        self.bell = bell
        self.broker = broker
        self.proxy = proxy
        self.rng = random.Random(seed)
        self.figures = Figures(transport)
        self.handover = handover or Handover()
        self.made: dict[int, float] = {}
        self._pressing = True

    async def run(self, faults: int) -> Figures:
        arrivals = Arrivals(self.hass)
        started = time.monotonic()
        presser = asyncio.create_task(self._press())
        try:
            for _ in range(faults):
                kind = self.rng.choice(KINDS)
                await self._inject(kind)
                self.figures.faults[kind] += 1
                await asyncio.sleep(self.rng.uniform(0.2, 0.6))
        finally:
            self._pressing = False
            await presser
        await self._settle(arrivals)
        arrivals.close()
        self.figures.seconds = time.monotonic() - started
        self._count(arrivals)
        return self.figures

    async def _press(self) -> None:
        table = 0
        while self._pressing:
            began = time.monotonic()
            press = await self.bell.press(table % TABLES + 1, hold=0.05)
            self.made[press.seq] = time.monotonic()
            table += 1
            await asyncio.sleep(max(0.0, PRESS_INTERVAL - (time.monotonic() - began)))

    async def _inject(self, kind: str) -> None:
        if kind == "broker":
            await self.broker.restart()
        elif kind == "cut":
            self.proxy.cut()
        elif kind == "wifi":
            self.bell.set_wifi(False)
            await asyncio.sleep(self.rng.uniform(0.3, 1.5))
            self.bell.set_wifi(True)
        else:
            await self.hass.config_entries.async_reload(self.entry.entry_id)

    async def _settle(self, arrivals: Arrivals) -> None:
        """Let every queued press reach Home Assistant (or time out: those are lost)."""
        queued = list(self.bell.queued)
        try:
            await self.bell.wait_delivered(queued, timeout=60)
            await wait_for(self.hass, lambda: set(self.made) <= set(arrivals.seen), timeout=60)
        except (AssertionError, TimeoutError):
            pass  # Counted below.
        await asyncio.sleep(2)  # Room for a late duplicate to show up.
        await self.hass.async_block_till_done()

    def _count(self, arrivals: Arrivals) -> None:
        figures = self.figures
        figures.made = len(self.made)
        delivered = set(self.made) & set(arrivals.seen)
        figures.delivered = len(delivered)
        figures.lost = figures.made - figures.delivered
        figures.lost_after_handover = len((set(self.made) - delivered) & self.handover.seqs)
        figures.duplicated = arrivals.count - len(arrivals.seen)
        figures.dropped_by_bell = len(self.bell.dropped)
        delays = [arrivals.seen[seq][0] - self.made[seq] for seq in delivered]
        if delays:
            figures.median_delay = statistics.median(delays)
            figures.worst_delay = max(delays)
