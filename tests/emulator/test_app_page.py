"""The app page and its API: served, live snapshot, writes as app writes, and refusals."""

from __future__ import annotations

from html.parser import HTMLParser
import re
from typing import Any

import aiohttp
import pytest

from blynk_emulator import BlynkCloud, Device
from blynk_emulator.device import TERMINAL_LINES

from .clients import PahoClient
from .conftest import OTHER_TOKEN, TOKEN, MakeCloud, MakePaho


class _Links(HTMLParser):
    """Collects every src/href and the id and data-testid attributes of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.ids: set[str] = set()
        self.testids: set[str] = set()
        self.elements: dict[str, dict[str, str | None]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.links += [value or "" for name, value in attrs if name in ("src", "href")]
        if (element_id := values.get("id")) is not None:
            self.ids.add(element_id)
            self.elements[element_id] = {"tag": tag, **values}
        if (testid := values.get("data-testid")) is not None:
            self.testids.add(testid)


@pytest.fixture
async def page_cloud(make_cloud: MakeCloud) -> BlynkCloud:
    cloud = await make_cloud(http_port=0)
    cloud.add_device(TOKEN)
    return cloud


@pytest.fixture
async def page_device(page_cloud: BlynkCloud, make_paho: MakePaho) -> PahoClient:
    """A device connected to `page_cloud` and subscribed to downlink/#."""
    client = make_paho()
    assert await client.connect(page_cloud.host, page_cloud.port) == 0
    assert await client.subscribe("downlink/#") == [0]
    return client


async def _wait_last(client: PahoClient, topic: str, payload: bytes) -> None:
    """Wait until `payload` is the latest message on `topic` (earlier ones may exist)."""
    await client._changes.wait_for(lambda: client.messages(topic)[-1:] == [payload])


async def _state(http: aiohttp.ClientSession, cloud: BlynkCloud, **params: str) -> Any:
    async with http.get(f"{cloud.http_url}/api/app/state", params=params) as resp:
        assert resp.status == 200, await resp.text()
        assert TOKEN not in await resp.text()
        return await resp.json()


async def _write(
    http: aiohttp.ClientSession, cloud: BlynkCloud, body: object, **params: str
) -> tuple[int, Any]:
    url = f"{cloud.http_url}/api/app/write"
    async with http.post(url, json=body, params=params) as resp:
        return resp.status, await resp.json()


async def test_page_is_served_with_its_controls(page_cloud: BlynkCloud) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(page_cloud.app_url) as resp:
            assert resp.status == 200
            assert resp.content_type == "text/html"
            csp = resp.headers["Content-Security-Policy"]
            assert "default-src 'none'" in csp
            assert "script-src 'self'" in csp
            assert "connect-src 'self'" in csp
            assert resp.headers["Referrer-Policy"] == "no-referrer"
            assert "Access-Control-Allow-Origin" not in resp.headers
            html = await resp.text()
        assets = {}
        for name, content_type in [("app.js", "text/javascript"), ("app.css", "text/css")]:
            async with http.get(f"{page_cloud.http_url}/static/{name}") as resp:
                assert resp.status == 200
                assert resp.content_type == content_type
                assets[name] = await resp.text()
        for path in ["/static/app.html", "/static/state.py", "/static/..%2fstate.py", "/nope"]:
            async with http.get(page_cloud.http_url + path) as resp:
                assert resp.status == 404, path

    page = _Links()
    page.feed(html)
    # Everything the page loads comes from the emulator itself.
    assert page.links
    assert all(link.startswith("/static/") or link == "data:," for link in page.links)
    assert not re.search(r"https?://|@import|url\(", assets["app.css"])
    assert not re.search(r"https?://", assets["app.js"])
    # Values go in as text: nothing in the script builds HTML from strings.
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in assets["app.js"]

    power = page.elements["power"]
    assert power["tag"] == "input"
    assert power["type"] == "checkbox"
    assert power["role"] == "switch"
    assert re.search(r'<label class="switch">\s*<input[^>]*id="power"', html)
    assert '<span class="switch-label">Power</span>' in html
    set_point = page.elements["set-temperature"]
    assert (set_point["type"], set_point["min"], set_point["max"], set_point["step"]) == (
        "number",
        "10",
        "30",
        "0.5",
    )
    assert '<label for="set-temperature">Set Temperature</label>' in html
    assert page.elements["set-temperature-apply"]["type"] == "submit"
    slider = page.elements["set-temperature-slider"]
    assert (slider["type"], slider["min"], slider["max"], slider["step"]) == (
        "range",
        "10",
        "30",
        "0.5",
    )
    assert '<label for="terminal-input">Terminal command</label>' in html
    assert {
        "value-Power",
        "value-Set Temperature",
        "value-Current Temperature",
        "value-Status",
        "prop-Status/color",
        "value-online",
        "value-messages",
        "terminal-lines",
        "set-temperature-disabled",
        "device-label",
    } <= page.testids
    # The selectors documented at the top of the page exist.
    documented = set(re.findall(r"^\s+#([\w-]+)", html.split("-->")[0], re.MULTILINE))
    assert documented
    assert documented <= page.ids


async def test_page_write_reaches_the_device(
    page_cloud: BlynkCloud, page_device: PahoClient
) -> None:
    device = page_cloud.device(TOKEN)
    async with aiohttp.ClientSession() as http:
        # No token: the page drives the only device.
        status, body = await _write(http, page_cloud, {"name": "Power", "value": 1})
        assert (status, body) == (200, {"name": "Power", "value": "1", "delivered": True})
        assert await page_device.wait_message("downlink/ds/Power") == b"1"
        assert device.value("Power") == "1"
        assert device.app_writes == 1

        status, body = await _write(http, page_cloud, {"name": "Set Temperature", "value": 21.5})
        assert (status, body["value"]) == (200, "21.5")
        assert await page_device.wait_message("downlink/ds/Set Temperature") == b"21.5"
        status, body = await _write(http, page_cloud, {"name": "Set Temperature", "value": "30"})
        assert (status, body["value"]) == (200, "30")
        await _wait_last(page_device, "downlink/ds/Set Temperature", b"30")

        status, _ = await _write(http, page_cloud, {"name": "Terminal", "value": " set 22 \n"})
        assert status == 200
        assert await page_device.wait_message("downlink/ds/Terminal") == b"set 22"
        assert device.app_writes == 4

        state = await _state(http, page_cloud)
        assert state["values"]["Power"] == "1"
        assert state["values"]["Set Temperature"] == "30"
        assert state["app_writes"] == 4
        assert state["terminal"] == [{"from": "app", "text": "set 22"}]


async def test_page_write_to_an_offline_device_is_stored(page_cloud: BlynkCloud) -> None:
    async with aiohttp.ClientSession() as http:
        status, body = await _write(http, page_cloud, {"name": "Power", "value": True})
    assert (status, body["delivered"]) == (200, False)
    assert page_cloud.device(TOKEN).value("Power") == "1"


@pytest.mark.parametrize(
    "body",
    [
        {"name": "Power", "value": 2},
        {"name": "Power", "value": "on"},
        {"name": "Power"},
        {"name": "Set Temperature", "value": 9.5},
        {"name": "Set Temperature", "value": 30.5},
        {"name": "Set Temperature", "value": 21.3},
        {"name": "Set Temperature", "value": "warm"},
        {"name": "Set Temperature", "value": float("nan")},
        {"name": "Set Temperature", "value": True},
        {"name": "Set Temperature", "value": None},
        {"name": "Terminal", "value": "  "},
        {"name": "Terminal", "value": "on\noff"},
        {"name": "Terminal", "value": 1},
        {"name": "Terminal", "value": "x" * 1001},
        {"name": "Status", "value": 3},
        {"name": "Current Temperature", "value": 20},
        {"value": 1},
        ["Power", 1],
        "Power",
    ],
)
async def test_page_refuses_what_the_widgets_could_not_send(
    page_cloud: BlynkCloud, page_device: PahoClient, body: object
) -> None:
    device = page_cloud.device(TOKEN)
    before = dict(device.values)
    async with aiohttp.ClientSession() as http:
        status, answer = await _write(http, page_cloud, body)
        assert status == 400
        assert answer["error"]["message"]
        # A valid write afterwards is the only thing the device ever receives.
        assert (await _write(http, page_cloud, {"name": "Power", "value": 1}))[0] == 200
    assert await page_device.wait_message("downlink/ds/Power") == b"1"
    assert [topic for topic, _ in page_device.received] == ["downlink/ds/Power"]
    assert device.app_writes == 1
    assert device.values == before | {"Power": "1"}


async def test_page_write_refuses_other_sites(
    page_cloud: BlynkCloud, page_device: PahoClient
) -> None:
    """Only JSON from the page's own origin, on a host that cannot be DNS-rebound."""
    device = page_cloud.device(TOKEN)
    url = f"{page_cloud.http_url}/api/app/write"
    body = '{"name": "Power", "value": 1}'
    json_type = {"Content-Type": "application/json"}
    async with aiohttp.ClientSession() as http:
        # A plain HTML form can post text/plain across sites without a preflight.
        async with http.post(url, data=body, headers={"Content-Type": "text/plain"}) as resp:
            assert resp.status == 415
        evil_origin = json_type | {"Origin": "http://attacker.example"}
        async with http.post(url, data=body, headers=evil_origin) as resp:
            assert resp.status == 403
        rebound = json_type | {"Host": f"attacker.example:{page_cloud.http_port}"}
        async with http.post(url, data=body, headers=rebound) as resp:
            assert resp.status == 403
        for path in ["/", "/api/app/state"]:
            headers = {"Host": "attacker.example"}
            async with http.get(page_cloud.http_url + path, headers=headers) as resp:
                assert resp.status == 403, path
        async with http.post(url, data="{nope", headers=json_type) as resp:
            assert resp.status == 400
        async with http.post(url, data=b"x" * 5000, headers=json_type) as resp:
            assert resp.status == 413
        assert device.app_writes == 0
        # The page's own origin, by IP or as localhost, is fine.
        port = page_cloud.http_port
        for origin in [f"http://127.0.0.1:{port}", f"http://localhost:{port}"]:
            headers = json_type | {"Origin": origin, "Host": origin.removeprefix("http://")}
            async with http.post(url, data=body, headers=headers) as resp:
                assert resp.status == 200, origin
    assert device.app_writes == 2
    assert await page_device.wait_message("downlink/ds/Power") == b"1"


async def test_snapshot_follows_the_device(page_cloud: BlynkCloud, page_device: PahoClient) -> None:
    device = page_cloud.device(TOKEN)
    async with aiohttp.ClientSession() as http:
        state = await _state(http, page_cloud)
        assert state["device"] == "device tok-..."
        assert state["connected"] is True
        assert state["messages"] == 0
        assert state["props"] == {}
        assert state["terminal"] == []

        page_device.publish("ds/Current Temperature", "21.4")
        page_device.publish("ds/Status", "3")
        page_device.publish("ds/Status/prop/color", "F7EAE4")
        page_device.publish("ds/Set Temperature/prop/isDisabled", "1")
        page_device.publish("ds/Terminal", "Blynk heater\r\nType <b>help</b>\n")
        await device.wait_for(lambda d: d.messages == 5)

        state = await _state(http, page_cloud)
        assert state["values"]["Current Temperature"] == "21.4"
        assert state["values"]["Status"] == "3"
        assert state["props"] == {
            "Status": {"color": "F7EAE4"},
            "Set Temperature": {"isDisabled": "1"},
        }
        assert state["terminal"] == [
            {"from": "device", "text": "Blynk heater"},
            {"from": "device", "text": "Type <b>help</b>"},
        ]
        assert state["messages"] == 5
        assert state["connections"] == 1

        page_device.publish("ds/Set Temperature/prop/isDisabled", "0")
        await device.wait_for(lambda d: d.prop("Set Temperature", "isDisabled") == "0")
        assert (await _state(http, page_cloud))["props"]["Set Temperature"] == {"isDisabled": "0"}

        await page_device.close()
        await device.wait_for(lambda d: not d.connected)
        assert (await _state(http, page_cloud))["connected"] is False


async def test_token_picks_the_device(make_cloud: MakeCloud) -> None:
    cloud = await make_cloud(http_port=0)
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{cloud.http_url}/api/app/state") as resp:
            assert resp.status == 404
            assert (await resp.json())["error"]["message"] == "No device is registered."
        async with http.get(cloud.app_url) as resp:
            assert resp.status == 200  # the page itself tells the user

        first = cloud.add_device(TOKEN)
        other = cloud.add_device(OTHER_TOKEN, values={"Set Temperature": 18})
        assert (await _state(http, cloud))["values"]["Set Temperature"] == "23"
        state = await _state(http, cloud, token=OTHER_TOKEN)
        assert state["values"]["Set Temperature"] == "18"

        body = {"name": "Power", "value": 1}
        assert (await _write(http, cloud, body, token=OTHER_TOKEN))[0] == 200
        assert (other.value("Power"), first.value("Power")) == ("1", "0")

        for bad in ["wrong", TOKEN[:4]]:
            async with http.get(f"{cloud.http_url}/api/app/state", params={"token": bad}) as r:
                assert r.status == 404
                assert (await r.json())["error"]["message"] == "No device has this token."
            status, _ = await _write(http, cloud, body, token=bad)
            assert status == 404
    assert first.app_writes == 0
    assert other.app_writes == 1


def test_terminal_keeps_the_recent_lines() -> None:
    device = Device(TOKEN)
    lines = [f"line {n}" for n in range(TERMINAL_LINES + 10)]
    device.handle_uplink("ds/Terminal", "\n".join(lines).encode())
    assert [line.text for line in device.terminal] == lines[-TERMINAL_LINES:]
    device.handle_uplink("batch_ds", b'{"Terminal": "from a batch"}')
    assert device.terminal[-1] == ("device", "from a batch")
    assert device.value("Terminal") == "from a batch"
