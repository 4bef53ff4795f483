"""Start, stop, the HTTP API and the command line."""

from __future__ import annotations

import asyncio
from pathlib import Path
import signal
import sys

import aiohttp
import pytest

from blynk_emulator import BlynkCloud
from blynk_emulator.packets import encode_connect

from .clients import RawClient
from .conftest import TOKEN, MakeCloud, MakePaho, MakeRaw

REPO = Path(__file__).parents[2]


async def test_stop_leaves_nothing_running(socket_enabled: None, make_paho: MakePaho) -> None:
    tasks_before = asyncio.all_tasks()
    cloud = BlynkCloud(ws_port=0, http_port=0)
    await cloud.start()
    device = cloud.add_device(TOKEN)
    other = cloud.add_device("second")

    tcp = make_paho()
    assert await tcp.connect(cloud.host, cloud.port) == 0
    ws = make_paho("second", transport="websockets")
    assert await ws.connect(cloud.host, cloud.ws_port or 0) == 0
    silent = await RawClient.open(cloud.host, cloud.port)  # connected, no CONNECT yet
    half_ws = await RawClient.open(cloud.host, cloud.ws_port or 0)
    half_ws.send(b"GET /mqtt HTTP/1.1\r\n")  # stuck in the upgrade
    unacked = await RawClient.open(cloud.host, cloud.port)
    await unacked.connect("second")  # kicks `ws`, never acks the ping below
    ping = asyncio.create_task(other.ping(timeout=30))
    await unacked.next_publish(ack=False)
    ports = (cloud.port, cloud.ws_port, cloud.http_port)

    await cloud.stop()

    assert not await ping  # pending acknowledgements fail at once
    assert asyncio.all_tasks() == tasks_before
    assert not device.connected
    assert not other.connected
    await tcp.wait_disconnected()
    for raw in (silent, half_ws, unacked):
        assert await raw.read_packet() is None
        await raw.close()
    for port in ports:
        with pytest.raises(ConnectionRefusedError):
            await asyncio.open_connection("127.0.0.1", port)
    with pytest.raises(RuntimeError):
        _ = cloud.port
    await cloud.stop()  # a second stop is harmless


async def test_async_with(socket_enabled: None, make_raw: MakeRaw) -> None:
    async with BlynkCloud(redirect="mqtt://127.0.0.1:1") as cloud:
        cloud.add_device(TOKEN)
        raw = await make_raw(cloud.host, cloud.port)
        assert await raw.connect(TOKEN) == 0
        assert "127.0.0.1" in repr(cloud)
        assert TOKEN not in repr(cloud.device(TOKEN))
    assert await raw.read_packet() is not None  # the redirect was already sent
    assert await raw.read_packet() is None


async def test_start_fails_cleanly_on_a_busy_port(make_cloud: MakeCloud) -> None:
    first = await make_cloud()
    cloud = BlynkCloud(port=0, ws_port=first.port)
    with pytest.raises(OSError, match="in use"):
        await cloud.start()
    with pytest.raises(RuntimeError):
        _ = cloud.port


def test_options_are_checked() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        BlynkCloud(duplicate="ignore")  # type: ignore[arg-type]


async def test_http_api(make_cloud: MakeCloud, make_paho: MakePaho) -> None:
    cloud = await make_cloud(http_port=0)
    device = cloud.add_device(TOKEN)
    client = make_paho()
    assert await client.connect(cloud.host, cloud.port) == 0
    assert await client.subscribe("downlink/#") == [0]
    base = cloud.http_url + "/external/api"
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/get", params={"token": TOKEN, "Power": ""}) as resp:
            assert resp.status == 200
            assert await resp.text() == "0"
            assert resp.headers["Access-Control-Allow-Origin"] == "*"
        params = {"token": TOKEN, "Power": "", "Set Temperature": ""}
        async with http.get(f"{base}/get", params=params) as resp:
            assert await resp.json() == {"Power": "0", "Set Temperature": "23"}
        async with http.get(f"{base}/update", params={"token": TOKEN, "Power": "1"}) as resp:
            assert resp.status == 200
        assert await client.wait_message("downlink/ds/Power") == b"1"
        assert device.value("Power") == "1"
        async with http.get(f"{base}/isHardwareConnected", params={"token": TOKEN}) as resp:
            assert await resp.text() == "true"
        client.publish("ds/Status/prop/color", "E4F6F7")
        await device.wait_for(lambda d: d.messages == 1)
        async with http.get(f"{cloud.http_url}/api/device", params={"token": TOKEN}) as resp:
            snapshot = await resp.json()
        assert snapshot["connected"] is True
        assert snapshot["values"]["Power"] == "1"
        assert snapshot["props"] == {"Status": {"color": "E4F6F7"}}
        assert snapshot["messages"] == 1
        for url, params in [
            (f"{base}/get", {"token": "nope", "Power": ""}),
            (f"{base}/get", {"token": TOKEN, "Status": ""}),
            (f"{base}/get", {"token": TOKEN}),
            (f"{base}/update", {"token": TOKEN}),
            (f"{cloud.http_url}/api/device", {}),
        ]:
            async with http.get(url, params=params) as resp:
                assert resp.status == 400
                assert "message" in (await resp.json())["error"]


async def test_command_line(socket_enabled: None, make_paho: MakePaho) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "blynk_emulator",
        "--port",
        "0",
        "--ws-port",
        "0",
        "--token",
        TOKEN,
        "--token",
        "second-token",
        "--redirect",
        "mqtt://127.0.0.1:1",
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    assert process.stderr is not None
    try:
        banner = []
        async with asyncio.timeout(10):
            while not (line := (await process.stdout.readline()).decode()).startswith("Press"):
                assert line, "the emulator exited early"
                banner.append(line)
        mqtt_url = next(line.split()[-1] for line in banner if "mqtt://" in line)
        port = int(mqtt_url.rsplit(":", 1)[1])
        assert any("ws://127.0.0.1:" in line for line in banner)
        assert not any(TOKEN in line for line in banner)

        client = make_paho()
        assert await client.connect("127.0.0.1", port) == 0
        assert await client.wait_message("downlink/redirect") == b"mqtt://127.0.0.1:1"
        raw = await RawClient.open("127.0.0.1", port)
        raw.send(encode_connect(username="device", password="second-token"))
        assert (await raw.read_packet()) is not None
        await raw.close()
        await client.close()
    finally:
        process.send_signal(signal.SIGINT)
        async with asyncio.timeout(10):
            _, stderr = await process.communicate()
    assert process.returncode == 0
    log = stderr.decode()
    assert "connected" in log
    assert "Traceback" not in log
    assert TOKEN not in log
