"""Run the Blynk cloud emulator from a shell, for the demo or manual testing.

Usage: python -m blynk_emulator --port 18883 [--ws-port N] [--http-port N]
--token TOKEN [--token TOKEN2] [--redirect URL] [--duplicate refuse_new]
[--state PATH] [-v]

With --http-port the banner prints the URL of a page that plays the Blynk app for the
first device (`?token=TOKEN` picks another). With --state, datastream values and widget
properties survive a restart.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from pathlib import Path
import signal
import sys

from .device import redact
from .server import BlynkCloud


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m blynk_emulator",
        description="Emulate the Blynk.Cloud device MQTT API on local sockets.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=18883, help="MQTT port (0 = any free)")
    parser.add_argument("--ws-port", type=int, help="MQTT over WebSocket port (path /mqtt)")
    parser.add_argument(
        "--http-port", type=int, help="HTTP port for the app page and API (0 = any free)"
    )
    parser.add_argument(
        "--token", action="append", required=True, help="a device auth token (repeatable)"
    )
    parser.add_argument("--redirect", help="URL sent on downlink/redirect after each connect")
    parser.add_argument(
        "--duplicate",
        choices=("kick_old", "refuse_new"),
        default="kick_old",
        help="what a second connection with the same token does",
    )
    parser.add_argument(
        "--state",
        type=Path,
        metavar="PATH",
        help="JSON file keeping datastream values and properties across restarts",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log packet details")
    return parser.parse_args(argv)


async def _serve(args: argparse.Namespace) -> None:
    cloud = BlynkCloud(
        host=args.host,
        port=args.port,
        ws_port=args.ws_port,
        http_port=args.http_port,
        duplicate=args.duplicate,
        redirect=args.redirect,
        state_path=args.state,
    )
    for token in args.token:
        cloud.add_device(token)
    await cloud.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print("Blynk cloud emulator")  # noqa: T201 - the CLI banner
    for url in cloud.urls():
        print(f"  listening on {url}")  # noqa: T201
    for token in args.token:
        print(f"  device {redact(token)} (user name 'device')")  # noqa: T201
    if cloud.http_port is not None:
        first = redact(args.token[0])
        print(f"  app page {cloud.app_url} (device {first})")  # noqa: T201
        if len(args.token) > 1:
            print(f"  other devices: {cloud.app_url}?token=<their token>")  # noqa: T201
    if cloud.state_path is not None:
        print(f"  state file {cloud.state_path}")  # noqa: T201
    print("Press Ctrl-C to stop.", flush=True)  # noqa: T201
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await cloud.stop()


def main(argv: list[str] | None = None) -> int:
    """Run until Ctrl-C or SIGTERM."""
    args = _parse(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)-7s %(message)s",
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
