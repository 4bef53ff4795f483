"""A sliver of Blynk's HTTPS REST API, plus a page that plays the Blynk app in the demo.

Paths mimic Blynk's (`/external/api/get`, `/external/api/update`,
`/external/api/isHardwareConnected`); `/api/device` is the emulator's own snapshot of
a device. The app page is `/` (files in `static/`) with its own API under `/api/app/`:
`state` (a snapshot with the token redacted) and `write` (POST, the same path as an
app write: `Device.write`). Without `?token=` the page uses the first registered device.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from aiohttp import hdrs, web

if TYPE_CHECKING:
    from .cloud import Cloud
    from .device import Device

STATIC_DIR: Final = Path(__file__).with_name("static")
# The page's files: name -> content type. Nothing else under /static/ is served.
PAGE_FILES: Final = {
    "app.html": "text/html",
    "app.css": "text/css",
    "app.js": "text/javascript",
}
PAGE_HEADERS: Final = {
    # Only our own files and API: no inline code, no other origin, no framing.
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # the page's URL may hold a token
    "Cache-Control": "no-store",
}

# What the page may write, within the template's widget limits.
POWER: Final = "Power"
SET_TEMPERATURE: Final = "Set Temperature"
TERMINAL: Final = "Terminal"
MIN_SET_POINT: Final = 10.0
MAX_SET_POINT: Final = 30.0
MAX_COMMAND_BYTES: Final = 1000  # the downlink must fit Blynk's 1024-byte message
MAX_WRITE_BODY: Final = 4096


def _error(message: str, status: int = 400) -> web.Response:
    """Answer like Blynk: a JSON error object."""
    return web.json_response({"error": {"message": message}}, status=status)


def _is_page_path(path: str) -> bool:
    return path == "/" or path.startswith(("/static/", "/api/app/"))


def _local_host(host: str) -> bool:
    """Accept IP literals and localhost: a DNS name could be a DNS rebinding attack."""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


@web.middleware
async def _headers(request: web.Request, handler: Any) -> web.StreamResponse:
    """Let any origin call the token-guarded API; keep the page to this origin."""
    if not _is_page_path(request.path):
        response: web.StreamResponse = await handler(request)
        response.headers["Access-Control-Allow-Origin"] = "*"
        return response
    if not _local_host(request.url.host or ""):
        return _error("Open the page by IP address or localhost.", 403)
    response = await handler(request)
    response.headers.update(PAGE_HEADERS)
    return response


def app_value(name: str, value: object) -> str:
    """Check a value from the page as the app's widget would; return the text to store.

    Raises ValueError with a message for the user when the widget could not send it.
    """
    if name == POWER:
        if value in (True, 1, "1"):
            return "1"
        if value in (False, 0, "0"):
            return "0"
        raise ValueError("Power is 0 or 1.")
    if name == SET_TEMPERATURE:
        number: float | None = None
        if isinstance(value, int | float) and not isinstance(value, bool):
            number = float(value)
        elif isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                number = None
        if (
            number is None
            or not math.isfinite(number)
            or not MIN_SET_POINT <= number <= MAX_SET_POINT
            or not (number * 2).is_integer()
        ):
            raise ValueError("Set Temperature is 10 to 30 in steps of 0.5.")
        return f"{number:g}"
    if name == TERMINAL:
        if not isinstance(value, str):
            raise ValueError("A Terminal command is text.")
        command = value.strip()
        if not command:
            raise ValueError("Type a command.")
        if any(ord(char) < 32 and char != "\t" for char in command):
            raise ValueError("A Terminal command is one line.")
        if len(command.encode()) > MAX_COMMAND_BYTES:
            raise ValueError(f"A Terminal command is at most {MAX_COMMAND_BYTES} bytes.")
        return command
    raise ValueError(f"{name} cannot be written from this page.")


class _Api:
    def __init__(self, cloud: Cloud, files: dict[str, str]) -> None:
        self._cloud = cloud
        self._files = files

    def _device(self, request: web.Request) -> Device | None:
        return self._cloud.devices.get(request.query.get("token", ""))

    # Blynk's REST API -------------------------------------------------------------------

    async def get(self, request: web.Request) -> web.Response:
        if (device := self._device(request)) is None:
            return _error("Invalid token.")
        names = [name for name in request.query if name != "token"]
        if not names:
            return _error("No datastream requested.")
        missing = [name for name in names if device.value(name) is None]
        if missing:
            return _error(f"No value for {', '.join(missing)}.")
        if len(names) == 1:
            return web.Response(text=device.value(names[0]))
        return web.json_response({name: device.value(name) for name in names})

    async def update(self, request: web.Request) -> web.Response:
        if (device := self._device(request)) is None:
            return _error("Invalid token.")
        updates = [(name, value) for name, value in request.query.items() if name != "token"]
        if not updates:
            return _error("No datastream to update.")
        for name, value in updates:
            await device.write(name, value)
        return web.Response(status=200)

    async def is_connected(self, request: web.Request) -> web.Response:
        if (device := self._device(request)) is None:
            return _error("Invalid token.")
        return web.Response(text="true" if device.connected else "false")

    async def snapshot(self, request: web.Request) -> web.Response:
        if (device := self._device(request)) is None:
            return _error("Invalid token.")
        return web.json_response(
            {
                "connected": device.connected,
                "values": device.values,
                "props": device.props,
                "messages": device.messages,
                "app_writes": device.app_writes,
                "connections": device.connections,
                "kicks": device.kicks,
                "mcu_info": device.mcu_info,
                "events": device.events,
            }
        )

    # The app page -----------------------------------------------------------------------

    def _page_device(self, request: web.Request) -> Device | web.Response:
        """Pick the device of `?token=`, or without one the first registered device."""
        if token := request.query.get("token", ""):
            device = self._cloud.devices.get(token)
            return device if device is not None else _error("No device has this token.", 404)
        device = next(iter(self._cloud.devices.values()), None)
        return device if device is not None else _error("No device is registered.", 404)

    async def page(self, request: web.Request) -> web.Response:
        return self._file("app.html")

    async def static(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name == "app.html" or name not in self._files:
            raise web.HTTPNotFound
        return self._file(name)

    def _file(self, name: str) -> web.Response:
        return web.Response(text=self._files[name], content_type=PAGE_FILES[name], charset="utf-8")

    async def app_state(self, request: web.Request) -> web.Response:
        device = self._page_device(request)
        if isinstance(device, web.Response):
            return device
        return web.json_response(
            {
                "device": device.label,  # redacted; the token itself never leaves
                "connected": device.connected,
                "values": device.values,
                "props": device.props,
                "terminal": [{"from": line.source, "text": line.text} for line in device.terminal],
                "messages": device.messages,
                "app_writes": device.app_writes,
                "connections": device.connections,
            }
        )

    async def app_write(self, request: web.Request) -> web.Response:
        """Write one datastream as the app does; JSON only, so other sites cannot post."""
        origin = request.headers.get(hdrs.ORIGIN)
        if origin is not None and origin != f"{request.scheme}://{request.host}":
            return _error("Writes come from this page only.", 403)
        if request.content_type != "application/json":
            return _error('Send JSON: {"name": ..., "value": ...}.', 415)
        device = self._page_device(request)
        if isinstance(device, web.Response):
            return device
        body = await request.content.read(MAX_WRITE_BODY + 1)
        if len(body) > MAX_WRITE_BODY:
            return _error("Too large.", 413)
        try:
            data = json.loads(body)
        except ValueError:
            return _error("Not JSON.")
        if not isinstance(data, dict) or not isinstance(name := data.get("name"), str):
            return _error('Send JSON: {"name": ..., "value": ...}.')
        try:
            text = app_value(name, data.get("value"))
        except ValueError as err:
            return _error(str(err))
        delivered = await device.write(name, text)
        return web.json_response({"name": name, "value": text, "delivered": delivered})


def _read_files() -> dict[str, str]:
    return {name: (STATIC_DIR / name).read_text(encoding="utf-8") for name in PAGE_FILES}


async def start_http_api(cloud: Cloud, host: str, port: int) -> web.AppRunner:
    """Serve the API and the page; the caller owns the runner and must `cleanup()` it."""
    files = await asyncio.to_thread(_read_files)
    api = _Api(cloud, files)
    app = web.Application(middlewares=[_headers])
    app.router.add_get("/external/api/get", api.get)
    app.router.add_get("/external/api/update", api.update)
    app.router.add_get("/external/api/isHardwareConnected", api.is_connected)
    app.router.add_get("/api/device", api.snapshot)
    app.router.add_get("/", api.page)
    app.router.add_get("/static/{name}", api.static)
    app.router.add_get("/api/app/state", api.app_state)
    app.router.add_post("/api/app/write", api.app_write)
    runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=5.0)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner
