"""One Blynk device as the cloud sees it: datastreams, counters, and the app's side.

Tests drive the "Blynk app" through this object (`write`, `send`, `ping`,
`disconnect`) and observe the device through it (`value`, `published`,
`wait_for`). The uplink topics of the device MQTT API are interpreted here.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterable, Mapping
import json
import logging
import time
from typing import Any, Final, Literal, NamedTuple, Protocol

_LOGGER = logging.getLogger(__name__)

# The "MQTT Air Cooler/Heater" template (blueprint TMPL4zGiS1A7l).
TEMPLATE_DATASTREAMS: Final = (
    "Power",
    "Set Temperature",
    "Current Temperature",
    "Status",
    "Terminal",
)
TEMPLATE_DEFAULTS: Final[Mapping[str, str]] = {"Power": "0", "Set Temperature": "23"}
# Datastreams with "sync with latest server value" on: what `get/ds/all` answers.
SYNC_WITH_LATEST: Final = frozenset({"Power", "Set Temperature"})
TERMINAL: Final = "Terminal"
# Lines the Terminal widget keeps for the demo page (the app scrolls back further).
TERMINAL_LINES: Final = 50


class Connection(Protocol):
    """A device's live connection, as the cloud and the app see it (a `Connection`)."""

    @property
    def subscription_filters(self) -> frozenset[str]:
        """Return the accepted topic filters."""

    def deliver(self, topic: str, payload: bytes, qos: int = 0, *, force: bool = False) -> bool:
        """Queue a downlink if the device subscribed to it (or `force`)."""

    async def drain(self) -> None:
        """Wait until queued output reached the kernel."""

    async def send_raw(self, topic: str, payload: bytes, qos: int, timeout: float) -> bool:
        """Send a downlink regardless of subscriptions; with QoS 1, wait for its PUBACK."""

    def kick(self, reason: str) -> None:
        """Close the connection from the server's side."""


class Published(NamedTuple):
    """One message the device published: when (time.monotonic()), where, and what."""

    time: float
    topic: str
    payload: str


class TerminalLine(NamedTuple):
    """One line of the Terminal widget: typed in the app, or printed by the device."""

    source: Literal["app", "device"]
    text: str


def value_text(value: object) -> str:
    """Turn an app-side or JSON value into the text Blynk stores for a datastream."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value)


def redact(token: str) -> str:
    """Show enough of a token to tell devices apart in logs, never the whole secret."""
    return f"{token[:4]}..." if len(token) > 4 else "..."


class Device:
    """A device known to the cloud, whether or not it is connected."""

    def __init__(
        self,
        token: str,
        values: Mapping[str, object] | None = None,
        *,
        sync_with_latest: Iterable[str] = SYNC_WITH_LATEST,
    ) -> None:
        """Create a device with the template's defaults, overridden by `values`."""
        self._token = token
        self.label = f"device {redact(token)}"
        self.values: dict[str, str] = dict(TEMPLATE_DEFAULTS)
        self.values.update({name: value_text(v) for name, v in (values or {}).items()})
        self.props: dict[str, dict[str, str]] = {}
        self.sync_with_latest = frozenset(sync_with_latest)
        self.messages = 0
        self.app_writes = 0
        self.published: list[Published] = []
        self.mcu_info: dict[str, Any] | None = None
        self.events: list[tuple[str, str]] = []
        self.ignored: list[tuple[str, str]] = []
        self.diags: list[str] = []
        self.connections = 0
        self.kicks = 0
        self.refusals = 0
        self.terminal: deque[TerminalLine] = deque(maxlen=TERMINAL_LINES)
        # Called after every change of state, e.g. by the cloud to save its state file.
        self.on_change: Callable[[], None] | None = None
        # Seconds the answer to a get/ds takes: a server that answers after it handled the
        # device's later messages (the answer holds the values of when it was asked).
        self.answer_delay = 0.0
        self._recent: deque[float] = deque()
        self._session: Connection | None = None
        self._change = asyncio.Event()

    def __repr__(self) -> str:
        """Describe the device without its token."""
        return f"<Device {self.label} connected={self.connected} messages={self.messages}>"

    @property
    def token(self) -> str:
        """Return the auth token (kept out of repr and logs)."""
        return self._token

    # What tests look at ----------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Tell whether a client holding this token is connected and accepted."""
        return self._session is not None

    @property
    def subscriptions(self) -> frozenset[str]:
        """Return the topic filters of the current connection."""
        return self._session.subscription_filters if self._session is not None else frozenset()

    def value(self, name: str) -> str | None:
        """Return a datastream's latest value, or None if it never had one."""
        return self.values.get(name)

    def prop(self, name: str, prop: str) -> str | None:
        """Return a widget property the device set (`ds/<name>/prop/<prop>`)."""
        return self.props.get(name, {}).get(prop)

    def topics(self) -> list[str]:
        """Return the topics the device published, in order (a convenience for asserts)."""
        return [item.topic for item in self.published]

    async def wait_for(self, condition: Callable[[Device], object], timeout: float = 5.0) -> bool:
        """Wait until `condition(device)` is true; any state change re-checks it.

        Returns True so `assert await device.wait_for(...)` reads naturally; raises
        TimeoutError when the condition does not hold in time.
        """
        try:
            async with asyncio.timeout(timeout):
                while True:
                    change = self._change
                    if condition(self):
                        return True
                    await change.wait()
        except TimeoutError:
            raise TimeoutError(
                f"{self.label}: condition not met within {timeout} s "
                f"(values={self.values}, connected={self.connected})"
            ) from None

    # What the Blynk app does -------------------------------------------------------------

    async def write(self, name: str, value: object) -> bool:
        """Set a datastream from the app; return whether a subscribed device was sent it."""
        text = value_text(value)
        self._store(name, text, "app")
        self.app_writes += 1
        _LOGGER.info("%s: app writes %s = %r", self.label, name, text)
        self.notify()
        session = self._session
        if session is None:
            return False
        delivered = session.deliver(f"downlink/ds/{name}", text.encode(), qos=0)
        await session.drain()
        return delivered

    async def send(
        self, topic: str, payload: bytes | str = b"", qos: int = 0, timeout: float = 5.0
    ) -> bool:
        """Send a raw downlink whatever the subscriptions; QoS 1 waits for the PUBACK."""
        session = self._session
        if session is None:
            return False
        data = payload.encode() if isinstance(payload, str) else payload
        return await session.send_raw(topic, data, qos, timeout)

    async def ping(self, timeout: float = 5.0) -> bool:
        """Send `downlink/ping` with QoS 1; True when the device acknowledges it."""
        return await self.send("downlink/ping", b"", qos=1, timeout=timeout)

    def disconnect(self, reason: str = "disconnected by the server") -> bool:
        """Drop the device's connection from the server side; False if not connected."""
        session = self._session
        if session is None:
            return False
        session.kick(reason)
        return True

    # What the server calls ---------------------------------------------------------------

    @property
    def session(self) -> Connection | None:
        """Return the live connection (for the server's use)."""
        return self._session

    def attach(self, session: Connection) -> None:
        """Make `session` the device's connection (the server checked duplicates)."""
        self._session = session
        self.connections += 1
        self.notify()

    def detach(self, session: Connection) -> None:
        """Forget `session` if it is still the device's connection."""
        if self._session is session:
            self._session = None
            self.notify()

    def notify(self) -> None:
        """Wake every `wait_for`; call after any change of state."""
        self._change.set()
        self._change = asyncio.Event()
        if self.on_change is not None:
            self.on_change()

    def restore(self, values: Mapping[str, str], props: Mapping[str, Mapping[str, str]]) -> None:
        """Take back datastream values and widget properties saved by an earlier run."""
        self.values.update(values)
        for name, items in props.items():
            self.props.setdefault(name, {}).update(items)
        self.notify()

    def count_message(self, limit: int, now: float) -> bool:
        """Count one device message; return False when it breaks the per-second limit."""
        self.messages += 1
        recent = self._recent
        recent.append(now)
        while recent and recent[0] <= now - 1.0:
            recent.popleft()
        return len(recent) <= limit

    def handle_uplink(self, topic: str, payload: bytes) -> list[tuple[str, bytes]]:
        """Apply one device publish; return the downlinks that answer it."""
        text = payload.decode("utf-8", errors="replace")
        self.published.append(Published(time.monotonic(), topic, text))
        answers: list[tuple[str, bytes]] = []
        if topic == "get/ds":
            names = [name.strip() for name in text.split(",")]
            answers = self._answers(name for name in names if name)
        elif topic == "get/ds/all":
            answers = self._answers(n for n in self.values if n in self.sync_with_latest)
        elif topic == "info/mcu":
            self._store_mcu_info(text)
        elif topic == "batch_ds":
            self._store_batch(text)
        elif topic.startswith("event/") and len(topic) > len("event/"):
            self.events.append((topic.removeprefix("event/"), text))
        elif topic.startswith("ds/") and len(topic) > len("ds/"):
            name, sep, prop = topic.removeprefix("ds/").partition("/prop/")
            if sep and prop:
                self.props.setdefault(name, {})[prop] = text
            else:
                self._store(name, text, "device")
        else:
            _LOGGER.info("%s: ignored a publish on %s", self.label, topic)
            self.ignored.append((topic, text))
        self.notify()
        return answers

    def _answers(self, names: Iterable[str]) -> list[tuple[str, bytes]]:
        """Answer get/ds: names without a stored value are skipped, as Blynk does."""
        return [(f"downlink/ds/{n}", self.values[n].encode()) for n in names if n in self.values]

    def _store_mcu_info(self, text: str) -> None:
        try:
            info = json.loads(text)
        except ValueError:
            info = None
        if isinstance(info, dict):
            self.mcu_info = info
        else:
            _LOGGER.warning("%s: info/mcu is not a JSON object: %r", self.label, text[:100])

    def _store_batch(self, text: str) -> None:
        try:
            batch = json.loads(text)
        except ValueError:
            batch = None
        if not isinstance(batch, dict):
            _LOGGER.warning("%s: batch_ds is not a JSON object: %r", self.label, text[:100])
            return
        for name, value in batch.items():
            if "/" in str(name):  # Widget properties cannot be batched.
                _LOGGER.info("%s: ignored %r in batch_ds", self.label, str(name)[:100])
                self.ignored.append(("batch_ds", str(name)))
                continue
            self._store(str(name), value_text(value), "device")

    def _store(self, name: str, text: str, source: Literal["app", "device"]) -> None:
        """Set a datastream; Terminal text also goes to the widget's scrollback."""
        self.values[name] = text
        if name == TERMINAL:
            lines = text.replace("\r\n", "\n").split("\n")
            if len(lines) > 1 and not lines[-1]:
                lines.pop()  # "text\n" is one line
            self.terminal.extend(TerminalLine(source, line) for line in lines)
