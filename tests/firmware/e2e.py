"""Helpers for end-to-end tests: what Home Assistant saw, and a meddling TCP proxy."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

from homeassistant.const import EVENT_STATE_CHANGED, STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback

EVENT_PREFIX = "event.service_bell_table_"


@dataclass(frozen=True)
class SeenPress:
    table: int
    event_type: str
    seq: int | None
    age_ms: int | None


class PressLog:
    """Every press the event entities fired, in order, from state changes."""

    def __init__(self, hass: HomeAssistant) -> None:
        self.presses: list[SeenPress] = []
        self._last: dict[str, str] = {}
        self._unsubscribe = hass.bus.async_listen(EVENT_STATE_CHANGED, self._changed)

    @callback
    def _changed(self, event: Event[EventStateChangedData]) -> None:
        entity_id = event.data["entity_id"]
        state = event.data["new_state"]
        if not entity_id.startswith(EVENT_PREFIX) or state is None:
            return
        if state.state in (STATE_UNKNOWN, STATE_UNAVAILABLE):
            return  # Availability flaps are not presses.
        if self._last.get(entity_id) == state.state:
            return  # Back from unavailable with the same last-event time.
        self._last[entity_id] = state.state
        self.presses.append(
            SeenPress(
                table=int(entity_id.removeprefix(EVENT_PREFIX)),
                event_type=state.attributes["event_type"],
                seq=state.attributes.get("seq"),
                age_ms=state.attributes.get("age_ms"),
            )
        )

    @property
    def seqs(self) -> list[int | None]:
        return [press.seq for press in self.presses]

    def close(self) -> None:
        self._unsubscribe()


class Proxy:
    """Forwards TCP to a broker; with `swallow_replies` the client hears nothing back.

    That is how a link looks when PUBACKs (and PINGRESPs) get lost on the way.
    """

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.swallow_replies = False
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}
        pumps = [
            asyncio.create_task(self._pump(reader, up_writer, downstream=False)),
            asyncio.create_task(self._pump(up_reader, writer, downstream=True)),
        ]
        self._tasks.update(pumps)
        await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        for task in pumps:
            task.cancel()
        await asyncio.gather(*pumps, return_exceptions=True)
        self._tasks.difference_update(pumps)
        for end in (writer, up_writer):
            end.close()
            self._writers.discard(end)

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, downstream: bool
    ) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(4096):
                if downstream and self.swallow_replies:
                    continue
                writer.write(data)
                await writer.drain()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
