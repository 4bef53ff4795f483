"""The emulator's listeners: MQTT (TCP or TLS), MQTT over WebSocket, and HTTP.

`BlynkCloud` is the cloud (`cloud.py`) with its front ends attached: each accepted
connection becomes a `Session` (MQTT) speaking to the cloud and its devices.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
import contextlib
import logging
from pathlib import Path
import ssl
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from .cloud import Cloud, DuplicatePolicy
from .session import Session
from .transport import StreamTransport, Transport, accept_websocket

if TYPE_CHECKING:
    from aiohttp import web

_LOGGER = logging.getLogger(__name__)

type _Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Coroutine[Any, Any, None]]


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


class BlynkCloud(Cloud):
    """A Blynk.Cloud stand-in speaking the device MQTT API on real loopback sockets.

    `duplicate` decides what happens when a second client connects with a token that
    is already online (Blynk's real behaviour is unconfirmed): "kick_old" closes the
    older connection, "refuse_new" answers the newcomer CONNACK 3 ("server
    unavailable"): not 4, because the credentials are right and a client must not
    conclude its token is bad and stop retrying.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        ws_port: int | None = None,
        http_port: int | None = None,
        ssl_context: ssl.SSLContext | None = None,
        duplicate: DuplicatePolicy = "kick_old",
        redirect: str | None = None,
        max_message_size: int = 1024,
        rate_limit: int = 50,
        connect_timeout: float = 10.0,
        linger: float = 1.0,
        state_path: Path | None = None,
    ) -> None:
        """Configure the cloud; nothing listens before `start`.

        `ssl_context` (a server context) turns on TLS for both the MQTT and the
        WebSocket listener; the HTTP API stays plain. See `Cloud` for the rest.
        """
        super().__init__(
            duplicate=duplicate,
            redirect=redirect,
            max_message_size=max_message_size,
            rate_limit=rate_limit,
            connect_timeout=connect_timeout,
            linger=linger,
            state_path=state_path,
        )
        self.host = host
        self.ssl_context = ssl_context
        self._wanted = {"mqtt": port, "ws": ws_port, "http": http_port}
        self._ports: dict[str, int] = {}
        self._servers: list[asyncio.Server] = []
        self._http: web.AppRunner | None = None
        self._sessions: set[Session] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._running = False

    def __repr__(self) -> str:
        """Describe the cloud (device tokens stay out)."""
        return f"<BlynkCloud {self.url if self._running else 'stopped'} {len(self.devices)} dev>"

    # Listeners -------------------------------------------------------------------------

    async def start(self) -> None:
        """Load the state file, then open the listeners (port 0 picks a free port)."""
        if self._running:
            raise RuntimeError("already started")
        self._running = True
        try:
            await self.load_state()
            await self._listen("mqtt", self._on_mqtt)
            if self._wanted["ws"] is not None:
                await self._listen("ws", self._on_websocket)
            if self._wanted["http"] is not None:
                from .http_api import start_http_api  # noqa: PLC0415 - aiohttp only if used

                self._http = await start_http_api(self, self.host, self._wanted["http"] or 0)
                self._ports["http"] = self._http.addresses[0][1]
        except BaseException:
            await self.stop()
            raise
        _LOGGER.info("Blynk cloud emulator listening: %s", ", ".join(self.urls()))

    async def _listen(self, kind: str, handler: _Handler) -> None:
        server = await asyncio.start_server(
            handler,
            self.host,
            self._wanted[kind],
            ssl=self.ssl_context,
            ssl_handshake_timeout=10.0 if self.ssl_context else None,
            ssl_shutdown_timeout=2.0 if self.ssl_context else None,
        )
        self._servers.append(server)
        self._ports[kind] = server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Close every connection and listener; leaves no task or socket behind."""
        self._running = False
        for server in self._servers:
            server.close()
        for session in list(self._sessions):
            session.abort()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for server in self._servers:
            server.close_clients()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5):
                    await server.wait_closed()
        self._servers.clear()
        if self._http is not None:
            await self._http.cleanup()
            self._http = None
        self._ports.clear()
        await self.close_state()

    async def __aenter__(self) -> Self:
        """Start on entering `async with`."""
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop on leaving `async with`."""
        await self.stop()

    async def _on_mqtt(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self._run_connection(reader, writer, websocket=False)

    async def _on_websocket(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await self._run_connection(reader, writer, websocket=True)

    async def _run_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, websocket: bool
    ) -> None:
        """Serve one connection, tracking its task so `stop` can end it."""
        task = asyncio.current_task()
        if task is None or not self._running:
            writer.transport.abort()
            return
        self._tasks.add(task)
        try:
            transport: Transport | None
            if websocket:
                transport = await accept_websocket(reader, writer)
            else:
                transport = StreamTransport(reader, writer)
            if transport is None:
                return
            session = Session(self, transport)
            self._sessions.add(session)
            try:
                await session.run()
            finally:
                self._sessions.discard(session)
        finally:
            self._tasks.discard(task)
            writer.close()

    # Addresses -------------------------------------------------------------------------

    def _port(self, kind: str) -> int:
        try:
            return self._ports[kind]
        except KeyError:
            raise RuntimeError(f"the {kind} listener is not running") from None

    @property
    def port(self) -> int:
        """Return the MQTT port (after `start`)."""
        return self._port("mqtt")

    @property
    def ws_port(self) -> int | None:
        """Return the WebSocket port, or None without a WebSocket listener."""
        return self._ports.get("ws")

    @property
    def http_port(self) -> int | None:
        """Return the HTTP API port, or None without one."""
        return self._ports.get("http")

    @property
    def url(self) -> str:
        """Return the MQTT URL a device would be given, e.g. mqtt://127.0.0.1:1883."""
        scheme = "mqtts" if self.ssl_context else "mqtt"
        return f"{scheme}://{_url_host(self.host)}:{self.port}"

    @property
    def ws_url(self) -> str:
        """Return the WebSocket URL, e.g. ws://127.0.0.1:8080/mqtt."""
        scheme = "wss" if self.ssl_context else "ws"
        return f"{scheme}://{_url_host(self.host)}:{self._port('ws')}/mqtt"

    @property
    def http_url(self) -> str:
        """Return the HTTP API base URL."""
        return f"http://{_url_host(self.host)}:{self._port('http')}"

    @property
    def app_url(self) -> str:
        """Return the demo page's URL; it shows the first device (add ?token= for another)."""
        return self.http_url + "/"

    def urls(self) -> list[str]:
        """Return every listening URL."""
        urls = [self.url]
        if "ws" in self._ports:
            urls.append(self.ws_url)
        if "http" in self._ports:
            urls.append(self.http_url)
        return urls
