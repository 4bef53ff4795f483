"""A sliver of Blynk's HTTPS REST API, so a demo page can play the Blynk app.

Paths mimic Blynk's (`/external/api/get`, `/external/api/update`,
`/external/api/isHardwareConnected`); `/api/device` is the emulator's own
snapshot of a device for the demo page.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from .cloud import BlynkCloud
    from .device import Device


def _error(message: str, status: int = 400) -> web.Response:
    """Answer like Blynk: a JSON error object."""
    return web.json_response({"error": {"message": message}}, status=status)


@web.middleware
async def _allow_any_origin(request: web.Request, handler: Any) -> web.StreamResponse:
    """Let a demo page served from anywhere call the API."""
    response: web.StreamResponse = await handler(request)
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


class _Api:
    def __init__(self, cloud: BlynkCloud) -> None:
        self._cloud = cloud

    def _device(self, request: web.Request) -> Device | None:
        return self._cloud.devices.get(request.query.get("token", ""))

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


async def start_http_api(cloud: BlynkCloud, host: str, port: int) -> web.AppRunner:
    """Serve the API; the caller owns the runner and must `cleanup()` it."""
    api = _Api(cloud)
    app = web.Application(middlewares=[_allow_any_origin])
    app.router.add_get("/external/api/get", api.get)
    app.router.add_get("/external/api/update", api.update)
    app.router.add_get("/external/api/isHardwareConnected", api.is_connected)
    app.router.add_get("/api/device", api.snapshot)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner
