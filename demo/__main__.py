"""scripts/demo: the whole system on this machine, bound to 127.0.0.1.

Starts a Mosquitto for the bell, the Blynk cloud emulator with its app stand-in page,
Home Assistant with blynk_bell configured against both, and the Pico W firmware on the
host runner, whose keys this terminal types. Ctrl-C stops everything.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
import contextlib
from dataclasses import asdict, dataclass
import json
import os
from pathlib import Path
import secrets
import shutil
import signal
import string
import sys
import threading

import aiohttp

from .homeassistant_api import HomeAssistantApi
from .processes import Child, DemoError, ensure_port_free, wait_for_port

REPO = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
TOPIC = "SunFounder MQTT Test"
DEFAULT_PORT_BASE = 8123
HA_START_TIMEOUT = 120.0
USERNAME = "demo"
# The schedule helper in demo/configuration.yaml that "Bell active" follows.
OPENING_HOURS = "schedule.opening_hours"
# The bell's buttons: the integration's default number of tables, which the demo keeps.
TABLES = 4


@dataclass(frozen=True)
class DemoState:
    """What the demo keeps between runs (in `<state dir>/demo.json`)."""

    password: str
    blynk_token: str
    port_base: int
    # The bell's key (64 hex characters): the demo's bell signs like a real one. Empty
    # in states made before keys existed, whose entry is unkeyed.
    bell_key: str = ""

    @property
    def ha_port(self) -> int:
        """Home Assistant's port."""
        return self.port_base

    @property
    def blynk_http_port(self) -> int:
        """The Blynk app stand-in page's port."""
        return self.port_base + 1

    @property
    def bell_port(self) -> int:
        """The bell broker's (Mosquitto's) port."""
        return self.port_base + 2

    @property
    def blynk_port(self) -> int:
        """The Blynk emulator's MQTT port."""
        return self.port_base + 3

    @classmethod
    def load_or_create(cls, path: Path, port_base: int | None) -> DemoState:
        """Read the saved state, or make a new one with a fresh password and token."""
        if path.exists():
            state = cls(**json.loads(path.read_text()))
            if port_base is not None and port_base != state.port_base:
                raise DemoError(
                    f"the demo state in {path.parent} uses ports from {state.port_base}. "
                    f"Run without --port-base to keep that state (and its ports), add "
                    f"--state-dir DIR to keep it and start another on {port_base}, or add "
                    f"--reset to forget it and start afresh on {port_base}"
                )
            return state
        alphabet = string.ascii_letters + string.digits
        state = cls(
            password=secrets.token_urlsafe(9),
            # Blynk auth tokens are 32 letters and digits.
            blynk_token="".join(secrets.choice(alphabet) for _ in range(32)),
            port_base=port_base or DEFAULT_PORT_BASE,
            bell_key=secrets.token_hex(32),
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(state), indent=2) + "\n")
        path.chmod(0o600)
        return state


class Demo:
    """Brings the parts up in order and down in reverse."""

    def __init__(self, state_dir: Path, state: DemoState, *, auto: bool) -> None:
        """Prepare; `async_run` starts everything."""
        self.state_dir = state_dir
        self.state = state
        self.auto = auto
        self.config_dir = state_dir / "homeassistant"
        self.logs = state_dir / "logs"
        self.children: list[Child] = []
        self.bell: Child | None = None
        self.follows_opening_hours = False

    @property
    def ha_url(self) -> str:
        """Where Home Assistant answers."""
        return f"http://{HOST}:{self.state.ha_port}"

    @property
    def blynk_app_url(self) -> str:
        """Where the Blynk app stand-in page is."""
        return f"http://{HOST}:{self.state.blynk_http_port}/"

    async def async_run(self) -> None:
        """Start everything, then wait for Ctrl-C or for a part to fail."""
        for port, what in (
            (self.state.ha_port, "Home Assistant"),
            (self.state.blynk_http_port, "the Blynk app page"),
            (self.state.bell_port, "the bell broker"),
            (self.state.blynk_port, "the Blynk emulator"),
        ):
            ensure_port_free(HOST, port, what)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(sig, stop.set)
        try:
            # Ctrl-C is honoured while starting too: Home Assistant may take a while.
            starting = asyncio.create_task(self._async_start())
            stopping = asyncio.create_task(stop.wait())
            await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not starting.done():
                starting.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await starting
                return
            stopping.cancel()
            starting.result()  # Raises what went wrong.
            self._print_banner()
            self._forward_keys(loop)
            await self._async_wait(stop)
        finally:
            print("\nStopping the demo...", flush=True)  # noqa: T201
            for child in reversed(self.children):
                await child.stop()
            print("Stopped; nothing is left running.", flush=True)  # noqa: T201

    async def _async_start(self) -> None:
        say("Starting Mosquitto (the bell broker)")
        mosquitto = self._child("Mosquitto", [_mosquitto(), "-c", str(self._mosquitto_conf())])
        await mosquitto.start()
        await wait_for_port(mosquitto, HOST, self.state.bell_port, 10)

        say("Starting the Blynk cloud emulator")
        blynk = self._child(
            "Blynk emulator",
            [
                sys.executable,
                "-m",
                "blynk_emulator",
                "--host",
                HOST,
                "--port",
                str(self.state.blynk_port),
                "--http-port",
                str(self.state.blynk_http_port),
                "--token",
                self.state.blynk_token,
                "--state",
                str(self.state_dir / "blynk.json"),
            ],
        )
        await blynk.start()
        await wait_for_port(blynk, HOST, self.state.blynk_http_port, 10)

        say("Starting Home Assistant")
        self._write_ha_config()
        hass = self._child(
            "Home Assistant",
            # --skip-pip: every requirement is pinned in the venv; nothing is fetched.
            [str(Path(sys.executable).with_name("hass")), "-c", str(self.config_dir), "--skip-pip"],
            stop_timeout=30,
        )
        await hass.start()
        async with aiohttp.ClientSession() as session:
            api = HomeAssistantApi(session, self.ha_url)
            await api.async_wait_started(hass, HA_START_TIMEOUT)
            await self._async_set_up_integration(api)

        say("Starting the Pico W bell firmware (host runner)")
        self.bell = self._child(
            "Pico W bell",
            [
                sys.executable,
                "-u",
                str(REPO / "firmware" / "host_runner.py"),
                "--broker",
                HOST,
                "--port",
                str(self.state.bell_port),
                "--topic",
                TOPIC,
                "--buttons",
                str(TABLES),
                # The bell's boot counter, kept like a Pico W keeps it in flash.
                "--state",
                str(self.state_dir / "bell.json"),
                *(["--key", self.state.bell_key] if self.state.bell_key else []),
                *(["--auto"] if self.auto else []),
            ],
            on_line=_bell_line,
            stop_timeout=5,
        )
        await self.bell.start(stdin_pipe=True)

    async def _async_set_up_integration(self, api: HomeAssistantApi) -> None:
        """Onboard, add the integration (config flow), follow the schedule (options flow)."""
        if await api.async_needs_user():
            say(f"First run: creating the user '{USERNAME}'")
            await api.async_create_owner("Demo", USERNAME, self.state.password)
        else:
            await api.async_login(USERNAME, self.state.password)
        if entries := await api.async_entries():
            entry_id = entries[0]["entry_id"]
        else:
            say("Adding Blynk Bell through its config flow")
            entry = await api.async_add_entry(
                {
                    "broker": HOST,
                    "port": self.state.bell_port,
                    "username": "",
                    "password": "",
                    "tls": False,
                    "topic": TOPIC,
                    "bell_key": self.state.bell_key,
                },
                *([{}] if self.state.bell_key else []),  # The key's page: "I copied it".
                {
                    "token": self.state.blynk_token,
                    "blynk_server": f"mqtt://{HOST}:{self.state.blynk_port}",
                },
            )
            entry_id = entry["result"]["entry_id"]
        # Nothing is posted when the options name the schedule already (a later run).
        missing = await api.async_set_options(entry_id, {"schedule": OPENING_HOURS})
        self.follows_opening_hours = not missing
        if missing:
            say("The integration's options offer no schedule: 'Bell active' is by hand only")

    async def _async_wait(self, stop: asyncio.Event) -> None:
        """Return on Ctrl-C, or raise when a part of the demo exits by itself."""
        stopping = asyncio.create_task(stop.wait())
        exits = {asyncio.create_task(child.wait()): child for child in self.children}
        try:
            done, _pending = await asyncio.wait(
                {stopping, *exits}, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for task in (stopping, *exits):
                task.cancel()
        for task in done:
            if (child := exits.get(task)) is not None:
                if child is self.bell:
                    say("The bell was asked to quit")
                    return
                raise DemoError(f"{child.name} stopped unexpectedly:\n{child.tail(30)}")

    def _child(
        self,
        name: str,
        argv: list[str],
        *,
        stop_timeout: float = 15.0,
        on_line: Callable[[str], None] | None = None,
    ) -> Child:
        """Register a part of the demo; its output goes to `on_line`, else to a log file."""
        log = None if on_line else self.logs / f"{name.lower().replace(' ', '-')}.log"
        child = Child(name, argv, log=log, on_line=on_line, stop_timeout=stop_timeout)
        self.children.append(child)
        return child

    def _mosquitto_conf(self) -> Path:
        store = self.state_dir / "mosquitto"
        store.mkdir(parents=True, exist_ok=True)
        conf = self.state_dir / "mosquitto.conf"
        lines = [
            f"listener {self.state.bell_port} {HOST}",
            "allow_anonymous true",
            # Persistent: Home Assistant's QoS 1 session, and with it the presses made
            # while it restarts, survive a restart of the demo.
            "persistence true",
            f"persistence_location {store}/",
            f"log_dest file {self.logs / 'mosquitto.log'}",
        ]
        if os.geteuid() == 0:
            lines.append("user root")  # Else Mosquitto drops to a user that cannot write here.
        self.logs.mkdir(parents=True, exist_ok=True)
        conf.write_text("\n".join(lines) + "\n")
        return conf

    def _write_ha_config(self) -> None:
        """Write the configuration and link the integration, blueprints and dashboard."""
        self.config_dir.mkdir(parents=True, exist_ok=True)
        template = string.Template((REPO / "demo" / "configuration.yaml").read_text())
        (self.config_dir / "configuration.yaml").write_text(
            template.substitute(
                ha_port=self.state.ha_port,
                dashboard=REPO / "dashboards" / "restaurant.yaml",
            )
        )
        automations = self.config_dir / "automations.yaml"
        shutil.copyfile(REPO / "demo" / "automations.yaml", automations)
        _link(
            self.config_dir / "custom_components" / "blynk_bell",
            REPO / "custom_components" / "blynk_bell",
        )
        _link(
            self.config_dir / "blueprints" / "automation" / "blynk_bell",
            REPO / "blueprints" / "automation" / "blynk_bell",
        )
        # The dashboard's colours for a calling and an acknowledged table.
        _link(
            self.config_dir / "themes" / "blynk_bell.yaml",
            REPO / "dashboards" / "themes" / "blynk_bell.yaml",
        )
        onboarding = self.config_dir / ".storage" / "onboarding"
        if not onboarding.exists():
            # The demo runs offline: skip the onboarding steps that set up weather, radio
            # and cloud text-to-speech. The user step stays, done over the HTTP API.
            onboarding.parent.mkdir(parents=True, exist_ok=True)
            onboarding.write_text(
                json.dumps(
                    {
                        "version": 4,
                        "minor_version": 1,
                        "key": "onboarding",
                        "data": {"done": ["core_config", "analytics", "integration"]},
                    }
                )
            )

    def _forward_keys(self, loop: asyncio.AbstractEventLoop) -> None:
        """Pass what is typed here to the bell; a closed stdin just stops forwarding."""

        def read() -> None:
            for line in sys.stdin:
                loop.call_soon_threadsafe(self._key, line.strip())

        threading.Thread(target=read, name="keys", daemon=True).start()

    def _key(self, line: str) -> None:
        if self.bell is not None:
            self.bell.send_line(line)

    def _print_banner(self) -> None:
        state = self.state
        hours = (
            ' It also follows the\n     "Opening hours" schedule, open round the clock here.\n'
            if self.follows_opening_hours
            else "\n"
        )
        print(  # noqa: T201
            f"""
Blynk Bell demo is running.

  Home Assistant    {self.ha_url}/service-bell/restaurant
                    user: {USERNAME}   password: {state.password}
  Blynk app         {self.blynk_app_url}   (stands in for the Blynk phone app)
  Bell broker       mqtt://{HOST}:{state.bell_port}   topic "{TOPIC}"
  Logs and state    {self.state_dir}/

Try it ("bell | LEDs: 1 ○ 2 ◐ 3 ● 4 ○" lines are the bell's table LEDs):
  1. Type 3 and Enter: table 3 calls. Its LED blinks (3 ◐), and on the dashboard its
     card turns red with the wait; the waiter gets a notification.
  2. Tap the red card, or Acknowledge under it: the LED goes steady (3 ●), "seen" for
     the guest; the card turns amber and table 3's last response time appears.
  3. Served ends the call (3 ○). L3 is a long press: the guest cancels.
  4. Switch "Bell active" off: presses still arrive but call nobody, and the LEDs show
     closed (◌). Switch it on again.{hours}\
Keys: 1-{TABLES} press a table's button, L1-L{TABLES} long-press it, D1-D{TABLES} double-press it;
w takes the bell's Wi-Fi away and back, s shows the bell's status.
{"The bell also presses buttons by itself (--auto). " if self.auto else ""}\
Ctrl-C stops everything.
""",
            flush=True,
        )


def _bell_line(line: str) -> None:
    """Show the bell's output; its table LEDs (the calls feedback) stand out."""
    say(f"bell | {line}", bold=line.startswith("LEDs:"))


def _link(link: Path, target: Path) -> None:
    """Point `link` at `target` in the repository, so the demo runs the code as it is."""
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() and link.resolve() == target.resolve():
        return
    if link.is_symlink() or link.is_file():
        link.unlink()
    elif link.exists():
        shutil.rmtree(link)
    link.symlink_to(target, target_is_directory=target.is_dir())


def _mosquitto() -> str:
    for candidate in (shutil.which("mosquitto"), "/usr/sbin/mosquitto"):
        if candidate and Path(candidate).exists():
            return candidate
    raise DemoError("Mosquitto is not installed: scripts/demo installs it, run it from there")


def say(text: str, *, bold: bool = True) -> None:
    """Print a progress line."""
    print(f"\033[1m==> {text}\033[0m" if bold else text, flush=True)  # noqa: T201


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(prog="scripts/demo", description=__doc__)
    parser.add_argument("--reset", action="store_true", help="forget all demo state first")
    parser.add_argument("--auto", action="store_true", help="the bell presses by itself")
    parser.add_argument(
        "--port-base",
        type=int,
        help=(
            "Home Assistant's port; the other parts use the next three "
            f"(default {DEFAULT_PORT_BASE})"
        ),
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=REPO / ".demo",
        help="where the demo keeps its state and logs (default .demo)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the demo until Ctrl-C."""
    args = parse_args(argv)
    state_dir: Path = args.state_dir.resolve()
    if args.reset and state_dir.exists():
        say(f"Forgetting the demo state in {state_dir}")
        shutil.rmtree(state_dir)
    try:
        state = DemoState.load_or_create(state_dir / "demo.json", args.port_base)
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(Demo(state_dir, state, auto=args.auto).async_run())
    except DemoError as err:
        print(f"\nscripts/demo: {err}", file=sys.stderr)  # noqa: T201
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
