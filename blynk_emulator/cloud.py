"""The emulated Blynk.Cloud itself: its rules, its devices, and who may connect.

This is the core the front ends use (`session.py` for MQTT, `http_api.py` for HTTP,
`server.py` for the listeners); it imports none of them.
"""

from __future__ import annotations

from collections.abc import Mapping
import logging
from pathlib import Path
from typing import Final, Literal

from .device import Connection, Device
from .packets import ConnackCode, Connect
from .state import SavedDevice, StateFile, device_key

_LOGGER = logging.getLogger(__name__)

type DuplicatePolicy = Literal["kick_old", "refuse_new"]

BLYNK_USERNAME: Final = "device"
MAX_CLIENT_ID: Final = 64


class Cloud:
    """Blynk.Cloud's rules and devices, whatever carries the connections.

    `duplicate` decides what happens when a second client connects with a token that
    is already online (Blynk's real behaviour is unconfirmed): "kick_old" closes the
    older connection, "refuse_new" answers the newcomer CONNACK 3 ("server
    unavailable"): not 4, because the credentials are right and a client must not
    conclude its token is bad and stop retrying.
    """

    def __init__(
        self,
        *,
        duplicate: DuplicatePolicy = "kick_old",
        redirect: str | None = None,
        max_message_size: int = 1024,
        rate_limit: int = 50,
        connect_timeout: float = 10.0,
        linger: float = 1.0,
        state_path: Path | None = None,
    ) -> None:
        """Configure the cloud.

        `linger` bounds how long the server waits for a refused or misbehaving client
        to close after our last words. `state_path` names a JSON file that keeps
        datastream values and widget properties across restarts: read by
        `load_state`, written on changes and by `close_state`.
        """
        if duplicate not in ("kick_old", "refuse_new"):
            raise ValueError(f"unknown duplicate policy {duplicate!r}")
        self.duplicate: DuplicatePolicy = duplicate
        self.redirect = redirect
        self.max_message_size = max_message_size
        self.rate_limit = rate_limit
        self.connect_timeout = connect_timeout
        self.linger = linger
        self.devices: dict[str, Device] = {}
        # CONNECTs refused for a wrong username or token (CONNACK 4).
        self.refused_logins = 0
        self._state = StateFile(state_path, self._collect_state) if state_path is not None else None
        # Saved devices no registered token has claimed yet: kept in the file.
        self._saved: dict[str, SavedDevice] = {}

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

    def admit(self, session: Connection, connect: Connect) -> tuple[int, Device | None]:
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

    async def load_state(self) -> None:
        """Read the state file, if any, and give registered devices what it saved."""
        if self._state is not None:
            self._saved = await self._state.load()
            for token, device in self.devices.items():
                self._restore(token, device)

    async def close_state(self) -> None:
        """Write the state file one last time, if any."""
        if self._state is not None:
            await self._state.close()

    def _collect_state(self) -> dict[str, SavedDevice]:
        state = dict(self._saved)
        for token, device in self.devices.items():
            props = {name: dict(items) for name, items in device.props.items()}
            state[device_key(token)] = SavedDevice(device.label, dict(device.values), props)
        return state
