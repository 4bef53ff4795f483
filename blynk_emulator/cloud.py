"""The emulated Blynk.Cloud: listeners, the device registry, and connection admission."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Mapping
import contextlib
import logging
from pathlib import Path
import ssl
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Literal, Self

from .device import Device
from .packets import ConnackCode, Connect
from .session import Session
from .state import SavedDevice, StateFile, device_key
from .transport import StreamTransport, Transport, accept_websocket

if TYPE_CHECKING:
    from aiohttp import web

_LOGGER = logging.getLogger(__name__)

type DuplicatePolicy = Literal["kick_old", "refuse_new"]
type _Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Coroutine[Any, Any, None]]

BLYNK_USERNAME: Final = "device"
MAX_CLIENT_ID: Final = 64


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


class BlynkCloud:
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
        WebSocket listener; the HTTP API stays plain. `linger` bounds how long the
        server waits for a refused or misbehaving client to close after our last words.
        `state_path` names a JSON file that keeps datastream values and widget
        properties across restarts: read by `start`, written on changes and by `stop`.
        """
        if duplicate not in ("kick_old", "refuse_new"):
            raise ValueError(f"unknown duplicate policy {duplicate!r}")
        self.host = host
        self.ssl_context = ssl_context
        self.duplicate: DuplicatePolicy = duplicate
        self.redirect = redirect
        self.max_message_size = max_message_size
        self.rate_limit = rate_limit
        self.connect_timeout = connect_timeout
        self.linger = linger
        self.devices: dict[str, Device] = {}
        # CONNECTs refused for a wrong username or token (CONNACK 4).
        self.refused_logins = 0
        self._wanted = {"mqtt": port, "ws": ws_port, "http": http_port}
        self._ports: dict[str, int] = {}
        self._servers: list[asyncio.Server] = []
        self._http: web.AppRunner | None = None
        self._sessions: set[Session] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._running = False
        self._state = StateFile(state_path, self._collect_state) if state_path is not None else None
        # Saved devices no registered token has claimed yet: kept in the file.
        self._saved: dict[str, SavedDevice] = {}

    def __repr__(self) -> str:
        """Describe the cloud (device tokens stay out)."""
        return f"<BlynkCloud {self.url if self._running else 'stopped'} {len(self.devices)} dev>"

    # Devices ---------------------------------------------------------------------------

    def add_device(self, token: str, values: Mapping[str, object] | None = None) -> Device:
        """Register a device of the Air Cooler/Heater template; `values` override defaults."""
        if token in self.devices:
            raise ValueError("a device with this token already exists")
        device = self.devices[token] = Device(token, values)
        if self._state is not None:
            device.on_change = self._state.changed
            self._restore(token, device)
            self._state.changed()
        return device

    def device(self, token: str) -> Device:
        """Return a registered device (KeyError if unknown)."""
        return self.devices[token]

    def remove_device(self, token: str) -> None:
        """Forget a device, as if deleted in the console; its connection is dropped."""
        device = self.devices.pop(token)
        device.disconnect("device deleted")
        device.on_change = None
        if self._state is not None:
            self._state.changed()  # its entry leaves the file too

    def admit(self, session: Session, connect: Connect) -> tuple[int, Device | None]:
        """Decide the CONNACK code for a CONNECT and attach the device when accepted."""
        if len(connect.client_id) > MAX_CLIENT_ID:
            return ConnackCode.IDENTIFIER_REJECTED, None
        password = connect.password or b""
        try:
            device = self.devices.get(password.decode())
        except UnicodeDecodeError:
            device = None
        if connect.username != BLYNK_USERNAME or device is None:
            self.refused_logins += 1
            return ConnackCode.BAD_CREDENTIALS, None
        old = device.session
        if old is not None and old is not session:
            if self.duplicate == "refuse_new":
                device.refusals += 1
                _LOGGER.info("%s: already connected; refusing the new client", device.label)
                device.notify()
                return ConnackCode.SERVER_UNAVAILABLE, None
            device.kicks += 1
            old.kick("kicked: another client connected with the same token")
        device.attach(session)
        return ConnackCode.ACCEPTED, device

    # State file ------------------------------------------------------------------------

    @property
    def state_path(self) -> Path | None:
        """Return the state file's path, or None when state is not kept."""
        return self._state.path if self._state is not None else None

    def _restore(self, token: str, device: Device) -> None:
        """Give a device what the state file saved for its token (saved beats `values`)."""
        saved = self._saved.pop(device_key(token), None)
        if saved is not None:
            device.restore(saved.values, saved.props)
            _LOGGER.info(
                "%s: restored %d values from the state file", device.label, len(saved.values)
            )

    def _collect_state(self) -> dict[str, SavedDevice]:
        state = dict(self._saved)
        for token, device in self.devices.items():
            props = {name: dict(items) for name, items in device.props.items()}
            state[device_key(token)] = SavedDevice(device.label, dict(device.values), props)
        return state

    # Listeners -------------------------------------------------------------------------

    async def start(self) -> None:
        """Load the state file, then open the listeners (port 0 picks a free port)."""
        if self._running:
            raise RuntimeError("already started")
        self._running = True
        try:
            if self._state is not None:
                self._saved = await self._state.load()
                for token, device in self.devices.items():
                    self._restore(token, device)
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
        if self._state is not None:
            await self._state.close()

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
