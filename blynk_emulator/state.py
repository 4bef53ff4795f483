"""A state file, so a demo's devices keep their datastreams across emulator restarts.

Blynk.Cloud remembers every datastream value and widget property a device or the app
set; a restarted emulator should too, or the demo's heater would fall back to the
template's defaults. The file is JSON: devices are keyed by a SHA-256 of their token,
so the file holds no secret. Writes are atomic (temporary file + rename), at most one
per `interval`, and a last one when the cloud stops.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
import contextlib
from dataclasses import dataclass
import hashlib
import json
import logging
import os
from pathlib import Path
import tempfile
from typing import Any, Final

_LOGGER = logging.getLogger(__name__)

STATE_FORMAT: Final = "blynk_emulator state"
STATE_VERSION: Final = 1
SAVE_INTERVAL: Final = 1.0


class StateError(ValueError):
    """The state file is not one this emulator wrote."""


@dataclass(frozen=True)
class SavedDevice:
    """What the file keeps of one device."""

    label: str
    values: dict[str, str]
    props: dict[str, dict[str, str]]

    def as_json(self) -> dict[str, Any]:
        """Return the device's entry in the file, sorted so equal state gives equal text."""
        return {
            "label": self.label,
            "values": dict(sorted(self.values.items())),
            "props": {name: dict(sorted(self.props[name].items())) for name in sorted(self.props)},
        }


def device_key(token: str) -> str:
    """Name a device in the file without writing its token there."""
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()


def _strings(data: object, what: str, *, scalars: bool = False) -> dict[str, str]:
    """Check a JSON object of strings (values may also be JSON numbers or booleans)."""
    if not isinstance(data, dict):
        raise StateError(f"{what} is not an object")
    result: dict[str, str] = {}
    for key, value in data.items():
        if isinstance(value, str):
            result[key] = value
        elif scalars and isinstance(value, bool):
            result[key] = "1" if value else "0"
        elif scalars and isinstance(value, int | float):
            result[key] = str(value)
        else:
            raise StateError(f"{what}[{key!r}] is not a string")
    return result


def parse_state(text: str) -> dict[str, SavedDevice]:
    """Decode a state file; raise ValueError (StateError or JSON's) when it is not one."""
    data = json.loads(text)
    if not isinstance(data, dict) or data.get("format") != STATE_FORMAT:
        raise StateError("not a Blynk emulator state file")
    if data.get("version") != STATE_VERSION:
        raise StateError(f"unsupported version {data.get('version')!r}")
    devices = data.get("devices")
    if not isinstance(devices, dict):
        raise StateError("devices is not an object")
    result: dict[str, SavedDevice] = {}
    for key, entry in devices.items():
        if not isinstance(entry, dict):
            raise StateError(f"device {key!r} is not an object")
        props = entry.get("props", {})
        if not isinstance(props, dict):
            raise StateError(f"props of {key!r} is not an object")
        result[key] = SavedDevice(
            label=str(entry.get("label", "")),
            values=_strings(entry.get("values", {}), "values", scalars=True),
            props={name: _strings(items, f"props[{name!r}]") for name, items in props.items()},
        )
    return result


def render_state(devices: Mapping[str, SavedDevice]) -> str:
    """Encode a state file (sorted, so unchanged state gives identical text)."""
    data = {
        "format": STATE_FORMAT,
        "version": STATE_VERSION,
        "devices": {key: devices[key].as_json() for key in sorted(devices)},
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def write_atomically(path: Path, text: str) -> None:
    """Replace `path` by `text` so a crash leaves the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    temporary = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        temporary.replace(path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


class StateFile:
    """Loads the file at start, then saves what `collect` returns when `changed` is called.

    Blocking file work runs in the default executor, never on the event loop.
    """

    def __init__(
        self,
        path: Path,
        collect: Callable[[], Mapping[str, SavedDevice]],
        interval: float = SAVE_INTERVAL,
    ) -> None:
        """Remember where and what to save; nothing is read before `load`."""
        self.path = path
        self.interval = interval
        self._collect = collect
        self._active = False
        self._dirty = False
        self._written: str | None = None
        self._last_write = float("-inf")
        self._failed = False
        self._task: asyncio.Task[None] | None = None
        self._writing: asyncio.Future[None] | None = None

    async def load(self) -> dict[str, SavedDevice]:
        """Read the file; missing or corrupt gives {} and a warning, never an exception."""
        self._active = False
        devices, writable = await asyncio.to_thread(self._read)
        self._active = writable
        return devices

    def _read(self) -> tuple[dict[str, SavedDevice], bool]:
        """Return the saved devices and whether saving over the file is safe."""
        path = self.path
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            _LOGGER.warning("No state file %s yet; devices start with defaults", path)
            return {}, True
        except OSError as err:
            # Saving over a file we cannot read could destroy it: leave it alone.
            _LOGGER.warning(
                "Cannot read state file %s (%s); devices start with defaults and "
                "nothing will be saved",
                path,
                err,
            )
            return {}, False
        try:
            return parse_state(data.decode("utf-8")), True
        except ValueError as err:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
            aside = path.with_name(path.name + ".corrupt")
            try:
                path.replace(aside)
            except OSError as move_err:
                _LOGGER.warning(
                    "State file %s is corrupt (%s) and cannot be moved aside (%s); devices "
                    "start with defaults and nothing will be saved",
                    path,
                    err,
                    move_err,
                )
                return {}, False
            _LOGGER.warning(
                "State file %s is corrupt (%s); moved it to %s, devices start with defaults",
                path,
                err,
                aside.name,
            )
            return {}, True

    def changed(self) -> None:
        """Schedule a save: at once if the last one is `interval` old, else when it is."""
        if not self._active:
            return
        self._dirty = True
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._save_soon())

    async def _save_soon(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._dirty:
                delay = self._last_write + self.interval - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                self._dirty = False
                await self._save()
        finally:
            self._task = None

    async def _save(self) -> None:
        text = render_state(self._collect())
        if text == self._written:
            return
        self._last_write = asyncio.get_running_loop().time()
        # Shielded: a cancelled save must not leave a write running unawaited.
        self._writing = asyncio.ensure_future(asyncio.to_thread(write_atomically, self.path, text))
        try:
            await asyncio.shield(self._writing)
        except OSError as err:
            if not self._failed:
                _LOGGER.warning("Cannot save state file %s: %s", self.path, err)
            self._failed = True
            return
        if self._failed:
            _LOGGER.info("Saved state file %s again", self.path)
        self._failed = False
        self._written = text

    async def close(self) -> None:
        """Write the last state now and stop saving; safe to call more than once."""
        if not self._active:
            return
        self._active = False
        if (task := self._task) is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        if (writing := self._writing) is not None:
            with contextlib.suppress(OSError):
                await writing  # a save in flight finishes before the last one starts
        await self._save()
