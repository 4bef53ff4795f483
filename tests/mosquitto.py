"""A real Mosquitto broker on a free loopback port, for tests."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
import contextlib
from pathlib import Path
import shutil
import socket


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

    def __init__(self, workdir: Path, extra_config: Sequence[str] = ()) -> None:
        self.host = "127.0.0.1"
        self.port = free_port()
        self._workdir = workdir
        self._extra_config = list(extra_config)
        self._process: asyncio.subprocess.Process | None = None
        self.log = workdir / f"mosquitto-{self.port}.log"

    async def start(self) -> None:
        config = self._workdir / f"mosquitto-{self.port}.conf"
        config.write_text(
            "\n".join(
                [
                    f"listener {self.port} {self.host}",
                    "allow_anonymous true",
                    "persistence false",
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

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    async def publish(
        self, topic: str, payload: bytes | str, *, qos: int = 1, retain: bool = False
    ) -> None:
        """Publish with mosquitto_pub, exactly as a user would from a shell."""
        data = payload.encode() if isinstance(payload, str) else payload
        args = ["-h", self.host, "-p", str(self.port), "-t", topic, "-q", str(qos), "-s"]
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
