"""A real Mosquitto broker on a free loopback port, for tests."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
import contextlib
import os
from pathlib import Path
import shutil
import socket
import subprocess


def free_port() -> int:
    """Return a loopback TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _find(program: str) -> str:
    for candidate in (shutil.which(program), f"/usr/sbin/{program}", f"/usr/bin/{program}"):
        if candidate and Path(candidate).exists():
            return candidate
    raise RuntimeError(f"{program} is not installed: run scripts/test, which installs it")


class Mosquitto:
    """One broker process; stop and start it again on the same port for fault tests."""

    def __init__(
        self,
        workdir: Path,
        extra_config: Sequence[str] = (),
        *,
        persistent: bool = False,
        users: Mapping[str, str] | None = None,
        tls: tuple[Path, Path, Path] | None = None,
    ) -> None:
        """Prepare a broker.

        `persistent` keeps sessions and queued messages across restarts; `users` turns on
        password logins; `tls` is (certificate chain, key, CA) for a TLS-only listener.
        """
        self.host = "127.0.0.1"
        self._users = dict(users or {})
        self._tls = tls
        self.port = free_port()
        self._workdir = workdir
        self._extra_config = list(extra_config)
        self._persistent = persistent
        self._process: asyncio.subprocess.Process | None = None
        self.log = workdir / f"mosquitto-{self.port}.log"

    async def start(self) -> None:
        config = self._workdir / f"mosquitto-{self.port}.conf"
        config.write_text(
            "\n".join(
                [
                    f"listener {self.port} {self.host}",
                    # Started as root, Mosquitto would switch to its own user, which
                    # cannot read the test's private temporary directory.
                    *(["user root"] if os.geteuid() == 0 else []),
                    *self._auth_config(),
                    *self._tls_config(),
                    *self._persistence_config(),
                    f"log_dest file {self.log}",
                    "log_type all",
                    *self._extra_config,
                ]
            )
            + "\n"
        )
        self._process = await asyncio.create_subprocess_exec(
            _find("mosquitto"),
            "-c",
            str(config),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        for _ in range(200):
            with contextlib.suppress(OSError):
                _reader, writer = await asyncio.open_connection(self.host, self.port)
                writer.close()
                await writer.wait_closed()
                return
            if self._process.returncode is not None:
                raise RuntimeError(f"mosquitto exited: {self.log.read_text()[-2000:]}")
            await asyncio.sleep(0.05)
        raise RuntimeError("mosquitto did not start listening")

    def _auth_config(self) -> list[str]:
        if not self._users:
            return ["allow_anonymous true"]
        passwords = self._workdir / f"mosquitto-{self.port}.passwd"
        passwords.write_text("")
        for user, password in self._users.items():
            subprocess.run(  # Test set-up, before the event loop matters.
                [_find("mosquitto_passwd"), "-b", str(passwords), user, password], check=True
            )
        return ["allow_anonymous false", f"password_file {passwords}"]

    def _tls_config(self) -> list[str]:
        if self._tls is None:
            return []
        chain, key, _ca = self._tls
        return [f"certfile {chain}", f"keyfile {key}"]

    def _persistence_config(self) -> list[str]:
        if not self._persistent:
            return ["persistence false"]
        store = self._workdir / f"mosquitto-{self.port}-store"
        store.mkdir(exist_ok=True)
        # Saved on a clean shutdown, so a restart keeps subscriptions and queued messages.
        return ["persistence true", f"persistence_location {store}/"]

    async def stop(self) -> None:
        if self._process is None:
            return
        process, self._process = self._process, None
        if process.returncode is None:
            process.terminate()
            try:
                async with asyncio.timeout(10):
                    await process.wait()
            except TimeoutError:
                process.kill()
                await process.wait()

    def log_text(self) -> str:
        """Return what the broker has logged so far (connections, PUBLISH, DISCONNECT)."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    async def publish(
        self, topic: str, payload: bytes | str, *, qos: int = 1, retain: bool = False
    ) -> None:
        """Publish with mosquitto_pub, exactly as a user would from a shell."""
        data = payload.encode() if isinstance(payload, str) else payload
        args = ["-h", self.host, "-p", str(self.port), "-t", topic, "-q", str(qos)]
        args.append("-s" if data else "-n")  # -s refuses an empty stdin; -n sends nothing.
        if self._tls is not None:
            args += ["--cafile", str(self._tls[2])]
        if retain:
            args.append("-r")
        process = await asyncio.create_subprocess_exec(
            _find("mosquitto_pub"),
            *args,
            stdin=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _out, err = await process.communicate(data)
        if process.returncode != 0:
            raise RuntimeError(f"mosquitto_pub failed: {err.decode(errors='replace')}")
