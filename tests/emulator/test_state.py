"""The state file: values and properties survive a restart; bad files are survived."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
from pathlib import Path
import signal
import sys

import aiohttp
import pytest

from blynk_emulator import BlynkCloud
import blynk_emulator.state as state_module
from blynk_emulator.state import device_key, parse_state, write_atomically

from .conftest import OTHER_TOKEN, TOKEN, MakeCloud, MakePaho

REPO = Path(__file__).parents[2]
HEAD = b'{"format": "blynk_emulator state", "version": 1, '


async def _eventually(condition: object, timeout: float = 5.0) -> None:
    """Poll a condition about the file system (which has no change events to wait on)."""
    assert callable(condition)
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)


def _saved(path: Path) -> dict[str, dict[str, object]]:
    return json.loads(path.read_text())["devices"]  # type: ignore[no-any-return]


async def test_state_survives_a_restart(
    make_cloud: MakeCloud, make_paho: MakePaho, tmp_path: Path
) -> None:
    path = tmp_path / "state.json"
    tasks_before = asyncio.all_tasks()
    cloud = await make_cloud(state_path=path)
    device = cloud.add_device(TOKEN)
    other = cloud.add_device(OTHER_TOKEN)
    client = make_paho()
    assert await client.connect(cloud.host, cloud.port) == 0
    client.publish("ds/Current Temperature", "19.4")
    client.publish("ds/Status/prop/color", "F7EAE4")
    client.publish("ds/Set Temperature/prop/isDisabled", "0")
    await device.wait_for(lambda d: d.messages == 3)
    await device.write("Power", 1)
    await device.write("Set Temperature", "21.5")
    await other.write("Set Temperature", "12")
    await client.close()
    await cloud.stop()
    assert asyncio.all_tasks() == tasks_before  # the saver is gone too

    text = path.read_text()
    assert TOKEN not in text
    assert OTHER_TOKEN not in text
    saved = parse_state(text)
    assert saved[device_key(TOKEN)].values == {
        "Power": "1",
        "Set Temperature": "21.5",
        "Current Temperature": "19.4",
    }
    assert saved[device_key(TOKEN)].props == {
        "Status": {"color": "F7EAE4"},
        "Set Temperature": {"isDisabled": "0"},
    }
    assert saved[device_key(OTHER_TOKEN)].values["Set Temperature"] == "12"
    assert not list(tmp_path.glob(".state.json.*"))  # no temporary file left

    # Registered before start (as the command line does): restored by start.
    again = BlynkCloud(state_path=path)
    restored = again.add_device(TOKEN, values={"Power": 0})
    assert restored.value("Power") == "0"
    await again.start()
    try:
        assert restored.value("Power") == "1"  # the saved state beats `values`
        assert restored.value("Set Temperature") == "21.5"
        assert restored.value("Current Temperature") == "19.4"
        assert restored.prop("Status", "color") == "F7EAE4"
        assert restored.app_writes == 0
        # Registered after start: restored at once.
        assert again.add_device(OTHER_TOKEN).value("Set Temperature") == "12"
        # A device that reconnects and asks gets the saved values.
        client = make_paho()
        assert await client.connect(again.host, again.port) == 0
        assert await client.subscribe("downlink/#") == [0]
        client.publish("get/ds", "Power,Set Temperature")
        assert await client.wait_message("downlink/ds/Set Temperature") == b"21.5"
        assert client.messages("downlink/ds/Power") == [b"1"]
    finally:
        await again.stop()


async def test_state_is_saved_while_running_at_most_once_a_second(
    make_cloud: MakeCloud, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "deeper" / "state.json"  # a missing folder is created
    writes: list[float] = []
    loop = asyncio.get_running_loop()

    def counting_write(target: Path, text: str) -> None:
        loop.call_soon_threadsafe(writes.append, loop.time())
        write_atomically(target, text)

    monkeypatch.setattr(state_module, "write_atomically", counting_write)
    cloud = await make_cloud(state_path=path)
    device = cloud.add_device(TOKEN)
    for step in range(21):
        await device.write("Set Temperature", 10 + step / 2)
        await asyncio.sleep(0.02)
    await _eventually(
        lambda: (
            path.exists()
            and _saved(path)[device_key(TOKEN)]["values"]
            == {
                "Power": "0",
                "Set Temperature": "20.0",
            }
        )
    )
    await asyncio.sleep(0.2)
    assert 2 <= len(writes) <= 3  # not one per change
    gaps = [later - earlier for earlier, later in itertools.pairwise(writes)]
    assert all(gap > 0.5 for gap in gaps), gaps  # 1 s apart, give or take a thread start

    # Nothing changed: stopping does not write the same state again.
    count = len(writes)
    await cloud.stop()
    assert len(writes) == count


async def test_removed_devices_leave_the_file_unknown_ones_stay(
    make_cloud: MakeCloud, tmp_path: Path
) -> None:
    path = tmp_path / "state.json"
    first = await make_cloud(state_path=path)
    await first.add_device(TOKEN).write("Power", 1)
    await first.add_device(OTHER_TOKEN).write("Power", 1)
    await first.stop()
    assert set(_saved(path)) == {device_key(TOKEN), device_key(OTHER_TOKEN)}

    # Started without OTHER_TOKEN: its entry is kept for a later run.
    second = await make_cloud(state_path=path)
    second.add_device(TOKEN)
    await second.stop()
    assert set(_saved(path)) == {device_key(TOKEN), device_key(OTHER_TOKEN)}

    third = await make_cloud(state_path=path)
    third.add_device(TOKEN)
    third.remove_device(TOKEN)
    await third.stop()
    assert set(_saved(path)) == {device_key(OTHER_TOKEN)}


@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b"",
        b"\xff\xfe\x00",
        b"[]",
        b'{"format": "something else", "version": 1, "devices": {}}',
        b'{"format": "blynk_emulator state", "version": 99, "devices": {}}',
        HEAD + b'"devices": []}',
        HEAD + b'"devices": {"k": 1}}',
        HEAD + b'"devices": {"k": {"values": {"Power": [1]}}}}',
        HEAD + b'"devices": {"k": {"values": {}, "props": {"Status": {"color": 1}}}}}',
        HEAD + b'"devices": {"k": {"props": []}}}',
    ],
)
async def test_a_corrupt_state_file_is_survived(
    make_cloud: MakeCloud, tmp_path: Path, caplog: pytest.LogCaptureFixture, content: bytes
) -> None:
    path = tmp_path / "state.json"
    path.write_bytes(content)
    caplog.set_level(logging.WARNING, logger="blynk_emulator.state")
    cloud = await make_cloud(state_path=path)
    device = cloud.add_device(TOKEN)
    assert device.values == {"Power": "0", "Set Temperature": "23"}
    assert "is corrupt" in caplog.text
    # The bad file is kept for a human to look at, and a good one replaces it.
    assert (tmp_path / "state.json.corrupt").read_bytes() == content
    await device.write("Power", 1)
    await cloud.stop()
    assert parse_state(path.read_text())[device_key(TOKEN)].values["Power"] == "1"


async def test_a_missing_state_file_starts_with_defaults(
    make_cloud: MakeCloud, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "state.json"
    caplog.set_level(logging.WARNING, logger="blynk_emulator.state")
    cloud = await make_cloud(state_path=path)
    assert cloud.state_path == path
    assert cloud.add_device(TOKEN).values == {"Power": "0", "Set Temperature": "23"}
    assert "No state file" in caplog.text
    await cloud.stop()
    assert _saved(path)[device_key(TOKEN)]["values"] == {"Power": "0", "Set Temperature": "23"}


async def test_an_unreadable_state_file_is_left_alone(
    make_cloud: MakeCloud, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "state.json"
    path.mkdir()  # reading fails with an OSError that is not "missing"
    caplog.set_level(logging.WARNING, logger="blynk_emulator.state")
    cloud = await make_cloud(state_path=path)
    device = cloud.add_device(TOKEN)
    await device.write("Power", 1)
    await cloud.stop()
    assert "Cannot read state file" in caplog.text
    assert "Cannot save" not in caplog.text  # it did not even try
    assert path.is_dir()
    assert list(tmp_path.iterdir()) == [path]


async def test_a_failing_save_is_logged_once_and_not_fatal(
    make_cloud: MakeCloud,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = tmp_path / "state.json"
    caplog.set_level(logging.WARNING, logger="blynk_emulator.state")

    def full_disk(target: Path, text: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(state_module, "write_atomically", full_disk)
    cloud = await make_cloud(state_path=path)
    device = cloud.add_device(TOKEN)
    await device.write("Power", 1)
    await asyncio.sleep(0.1)
    await device.write("Power", 0)
    await cloud.stop()
    assert caplog.text.count("Cannot save state file") == 1
    assert not path.exists()


def test_write_atomically_keeps_the_old_file_when_it_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "state.json"
    write_atomically(path, "old")
    first = path.stat().st_ino
    write_atomically(path, "old")
    assert path.read_text() == "old"
    assert path.stat().st_ino != first  # renamed over, never rewritten in place

    def broken_fsync(fd: int) -> None:
        raise OSError(5, "I/O error")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="I/O error"):
        write_atomically(path, "new")
    assert path.read_text() == "old"
    assert list(tmp_path.iterdir()) == [path]


async def test_command_line_prints_the_page_and_keeps_state(
    socket_enabled: None, tmp_path: Path
) -> None:
    path = tmp_path / "state.json"

    async def run_emulator(action: object) -> str:
        """Start the CLI, call `action(page_url)`, stop it with Ctrl-C; return the banner."""
        assert callable(action)
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "blynk_emulator",
            "--port",
            "0",
            "--http-port",
            "0",
            "--token",
            TOKEN,
            "--state",
            str(path),
            cwd=REPO,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        assert process.stdout is not None
        banner = []
        try:
            async with asyncio.timeout(10):
                while not (line := (await process.stdout.readline()).decode()).startswith("Press"):
                    assert line, "the emulator exited early"
                    banner.append(line)
            page = next(line.split()[2] for line in banner if "app page" in line)
            await action(page)
        finally:
            process.send_signal(signal.SIGINT)
            async with asyncio.timeout(10):
                _, stderr = await process.communicate()
        assert process.returncode == 0
        log = stderr.decode()
        assert "Traceback" not in log
        assert TOKEN not in log
        text = "".join(banner)
        assert TOKEN not in text
        return text

    async def set_temperature(page: str) -> None:
        async with aiohttp.ClientSession() as http:
            async with http.get(page) as resp:
                assert resp.status == 200
                assert 'id="power"' in await resp.text()
            body = {"name": "Set Temperature", "value": 19.5}
            async with http.post(page + "api/app/write", json=body) as resp:
                assert resp.status == 200

    seen: list[str] = []

    async def read_temperature(page: str) -> None:
        async with aiohttp.ClientSession() as http, http.get(page + "api/app/state") as resp:
            seen.append((await resp.json())["values"]["Set Temperature"])

    banner = await run_emulator(set_temperature)
    assert "app page http://127.0.0.1:" in banner
    assert f"state file {path}" in banner
    assert _saved(path)[device_key(TOKEN)]["values"] == {
        "Power": "0",
        "Set Temperature": "19.5",
    }
    await run_emulator(read_temperature)
    assert seen == ["19.5"]
