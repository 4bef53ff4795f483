"""The demo's child processes: started in order, watched, and all stopped on the way out."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
import contextlib
from dataclasses import dataclass
import os
from pathlib import Path
import shutil
import signal
import socket
import time

# Linux kills a child started through `setpriv --pdeathsig` when the demo itself dies,
# even by SIGKILL: no broker or Home Assistant is left behind.
_SETPRIV = shutil.which("setpriv")


class DemoError(Exception):
    """Something the user must fix before the demo can run; the message says what."""


@dataclass
class Child:
    """One long-running program of the demo."""

    name: str
    argv: Sequence[str]
    log: Path | None = None  # Output goes here; None: lines go to `on_line` instead.
    on_line: Callable[[str], None] | None = None
    stop_timeout: float = 15.0
    process: asyncio.subprocess.Process | None = None
    _relay: asyncio.Task[None] | None = None

    async def start(self, *, stdin_pipe: bool = False) -> None:
        """Start the program in its own process group, so Ctrl-C reaches only the demo."""
        argv = list(self.argv)
        if _SETPRIV is not None:
            argv = [_SETPRIV, "--pdeathsig", "TERM", "--", *argv]
        output: int | None
        if self.log is not None:
            self.log.parent.mkdir(parents=True, exist_ok=True)
            log_file = self.log.open("ab")
            output = log_file.fileno()
        else:
            log_file = None
            output = asyncio.subprocess.PIPE
        try:
            self.process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.PIPE if stdin_pipe else asyncio.subprocess.DEVNULL,
                stdout=output,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            if log_file is not None:
                log_file.close()  # The child has its own copy.
        if self.log is None and self.process.stdout is not None:
            self._relay = asyncio.create_task(self._relay_lines(self.process.stdout))

    async def _relay_lines(self, stream: asyncio.StreamReader) -> None:
        async for raw in stream:
            if self.on_line is not None:
                self.on_line(raw.decode(errors="replace").rstrip("\n"))

    @property
    def running(self) -> bool:
        """Tell whether the program is still running."""
        return self.process is not None and self.process.returncode is None

    def send_line(self, line: str) -> None:
        """Type a line into the program's standard input."""
        if self.running and self.process is not None and self.process.stdin is not None:
            with contextlib.suppress(ConnectionError, RuntimeError):
                self.process.stdin.write(line.encode() + b"\n")

    async def wait(self) -> int:
        """Wait until the program exits; return its exit code."""
        if self.process is None:
            raise DemoError(f"{self.name} was never started")
        return await self.process.wait()

    async def stop(self) -> None:
        """Ask politely (SIGTERM), then insist (SIGKILL) after `stop_timeout` seconds."""
        process = self.process
        if process is None:
            return
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                async with asyncio.timeout(self.stop_timeout):
                    await process.wait()
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                await process.wait()
        else:
            # The program is gone; anything it started in its group goes too.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        if self._relay is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._relay

    def tail(self, lines: int = 20) -> str:
        """Return the end of the program's log, for an error message."""
        if self.log is None or not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


async def wait_for_port(child: Child, host: str, port: int, timeout: float) -> None:
    """Wait until `child` accepts TCP connections on `port`, or explain why not."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not child.running:
            raise DemoError(f"{child.name} exited at start:\n{child.tail()}")
        with contextlib.suppress(OSError):
            _reader, writer = await asyncio.open_connection(host, port)
            writer.close()
            await writer.wait_closed()
            return
        await asyncio.sleep(0.1)
    raise DemoError(f"{child.name} did not listen on {host}:{port} within {timeout:.0f} s")


def ensure_port_free(host: str, port: int, what: str) -> None:
    """Fail early and clearly when another program holds a port the demo needs."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as err:
            raise DemoError(
                f"{host}:{port} ({what}) is in use by another program: stop it, or start "
                f"the demo afresh on other ports with `scripts/demo --reset --port-base N`"
            ) from err
