"""The whole system in a real browser: `scripts/demo`, driven as a newcomer would.

Starts the demo exactly as the README says (a fresh state folder, free ports), reads the
login it prints, and drives Debian's headless Chromium through Home Assistant and the
Blynk app stand-in, watching the bell's LEDs in the demo's terminal. Screenshots go to
tests/artifacts/ (`dashboard.png` is the one for docs/dashboard.png, `config-flow-ja.png`
the one for docs/config-flow-ja.png): a test run leaves the repository as it was.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
import json
import os
from pathlib import Path
import re
import signal
import socket
import subprocess

from playwright.async_api import Browser, Locator, Page, async_playwright, expect
import pytest

from ..mosquitto import free_port

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "tests" / "artifacts"
CONFIG_FLOW_JA = ARTIFACTS / "config-flow-ja.png"
TRANSLATIONS = REPO / "custom_components" / "blynk_bell" / "translations"
CHROMIUM = Path("/usr/bin/chromium")
START_TIMEOUT = 240.0
UI_TIMEOUT = 20_000  # ms
# Chromium on a machine without internet: no background connections, no sandbox as root.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations() -> None:
    """The demo runs its own Home Assistant; none is needed in-process."""


@dataclass
class RunningDemo:
    process: asyncio.subprocess.Process
    output: list[str]
    ha_url: str
    blynk_url: str
    username: str
    password: str
    state_dir: Path

    def type(self, line: str) -> None:
        """Type a line into the demo's terminal, as its banner invites."""
        assert self.process.stdin is not None
        self.process.stdin.write(line.encode() + b"\n")

    def mark(self) -> int:
        """Where the output is now: `wait_for_output(..., after=mark)` looks only later."""
        return len(self.output)

    async def wait_for_output(
        self, pattern: str, timeout: float = 20, *, after: int = 0
    ) -> re.Match[str]:
        async with asyncio.timeout(timeout):
            while True:
                for line in self.output[after:]:
                    if match := re.search(pattern, line):
                        return match
                await asyncio.sleep(0.1)


def four_free_ports() -> int:
    """A port base whose next three ports are free too (the demo uses four)."""
    for _ in range(50):
        base = free_port()
        if base > 65530:
            continue
        try:
            for port in range(base, base + 4):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError("no four consecutive free ports")


async def _collect(stream: asyncio.StreamReader, output: list[str]) -> None:
    """Keep the demo's output as it comes: the test waits on lines while it runs."""
    async for raw in stream:
        output.append(raw.decode(errors="replace").rstrip())  # noqa: PERF401


@pytest.fixture
async def demo(socket_enabled: None, tmp_path: Path) -> AsyncIterator[RunningDemo]:
    state_dir = tmp_path / "demo"
    process = await asyncio.create_subprocess_exec(
        "bash",
        str(REPO / "scripts" / "demo"),
        "--state-dir",
        str(state_dir),
        "--port-base",
        str(four_free_ports()),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=REPO,
        start_new_session=True,
    )
    assert process.stdout is not None
    output: list[str] = []
    collector = asyncio.create_task(_collect(process.stdout, output))
    try:
        async with asyncio.timeout(START_TIMEOUT):
            while not any("demo is running" in line for line in output):
                if process.returncode is not None:
                    pytest.fail("scripts/demo exited:\n" + "\n".join(output[-40:]))
                await asyncio.sleep(0.2)
        await asyncio.sleep(0.5)  # The rest of the banner.
        text = "\n".join(output)
        ha = re.search(r"Home Assistant\s+(http://\S+?)/service-bell", text)
        login = re.search(r"user: (\S+)\s+password: (\S+)", text)
        blynk = re.search(r"Blynk app\s+(http://\S+)", text)
        assert ha, text
        assert login, text
        assert blynk, text
        yield RunningDemo(process, output, ha[1], blynk[1], login[1], login[2], state_dir=state_dir)
    finally:
        if process.returncode is None:
            os.killpg(process.pid, signal.SIGINT)  # Ctrl-C in the demo's terminal.
            try:
                async with asyncio.timeout(60):
                    await process.wait()
            except TimeoutError:
                os.killpg(process.pid, signal.SIGKILL)
                await process.wait()
        await collector
        (ARTIFACTS / "demo-output.txt").parent.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / "demo-output.txt").write_text("\n".join(output) + "\n")


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail("Chromium is not installed: scripts/test installs Debian's chromium")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        yield browser
        await browser.close()


async def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)


async def background(locator: Locator) -> str:
    """The colour a card is filled with (its theme's)."""
    card = locator.locator("ha-card")
    return str(await card.evaluate("card => getComputedStyle(card).backgroundColor"))


async def log_in(page: Page, demo: RunningDemo) -> None:
    await page.goto(f"{demo.ha_url}/service-bell/restaurant")
    await page.get_by_label("Username").fill(demo.username)
    await page.get_by_label("Password", exact=True).fill(demo.password)
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_url("**/service-bell/restaurant", timeout=UI_TIMEOUT)


async def test_the_demo_end_to_end_in_a_browser(demo: RunningDemo, browser: Browser) -> None:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    await log_in(page, demo)
    # A table's cards: one for the state of its call, its controls under it.
    table_3 = page.locator("hui-vertical-stack-card").filter(has_text="Table 3")
    await expect(table_3).to_contain_text("Idle", timeout=UI_TIMEOUT)
    await expect(table_3.get_by_role("button", name="Acknowledge")).to_have_count(0)
    await shot(page, "1-dashboard")

    # A guest at table 3 presses the bell: typed into the demo, as its banner says.
    mark = demo.mark()
    demo.type("3")
    await demo.wait_for_output(r"delivered: button 3", after=mark)
    # The bell blinks table 3's LED: Home Assistant has the call.
    await demo.wait_for_output(r"LEDs: 1 ○ 2 ○ 3 ◐ 4 ○", after=mark)
    # The whole card is red, with the wait; Acknowledge and Served appear under it.
    calling = table_3.locator("hui-button-card").filter(has_text="Table 3 calling")
    await expect(calling).to_contain_text(re.compile(r"\d+\s*(s|m|min)\b"), timeout=UI_TIMEOUT)
    assert await background(calling) == "rgb(198, 40, 40)"
    await expect(table_3).not_to_contain_text("Idle")
    await expect(page.locator("hui-logbook-card")).to_contain_text("Table 3")
    await shot(page, "2-table-3-calling")

    # The demo's "Notify the waiter" automation (the blueprint) told the waiter.
    await page.get_by_text("Notifications", exact=True).click()
    drawer = page.locator("notification-drawer")
    await expect(drawer).to_contain_text("Table 3 is calling", timeout=UI_TIMEOUT)
    await page.wait_for_timeout(500)  # Let the drawer finish sliding in.
    await shot(page, "2b-waiter-notified")
    await drawer.get_by_role("button", name="Close").click()

    # The waiter asks Assist (its keyboard shortcut is "a").
    await page.keyboard.press("a")
    request = page.get_by_role("textbox", name="Enter a request")
    await request.fill("is table 3 calling")
    await request.press("Enter")
    await expect(page.get_by_text("Yes, table 3 is calling")).to_be_visible(timeout=UI_TIMEOUT)
    await shot(page, "2c-assist")
    await page.keyboard.press("Escape")
    await expect(request).to_be_hidden()

    # The waiter acknowledges on the dashboard: the guest sees the LED go steady.
    mark = demo.mark()
    await table_3.get_by_role("button", name="Acknowledge", exact=True).click()
    await demo.wait_for_output(r"LEDs: 1 ○ 2 ○ 3 ● 4 ○", after=mark)
    acknowledged = table_3.locator("hui-button-card").filter(has_text="Table 3 acknowledged")
    await expect(acknowledged).to_be_visible(timeout=UI_TIMEOUT)
    assert await background(acknowledged) == "rgb(255, 179, 0)"
    await expect(table_3.get_by_role("button", name="Acknowledge", exact=True)).to_have_count(0)
    # The call's response time: table 3's last response time sensor has a value.
    last_response = (
        page.locator("hui-entities-card")
        .filter(has_text="Last response time")
        .locator("hui-sensor-entity-row")
        .filter(has_text="Table 3")
    )
    await expect(last_response).to_contain_text(re.compile(r"\d+\s*(s|m|min)\b"))
    await expect(page.locator("hui-tile-card").filter(has_text="Calls today")).to_contain_text("1")
    await shot(page, "3-acknowledged")
    await page.get_by_text("Notifications", exact=True).click()
    await expect(drawer).not_to_contain_text("Table 3 is calling", timeout=UI_TIMEOUT)
    await drawer.get_by_role("button", name="Close").click()

    # Table 1 calls while a waiter is on the way to table 3: the dashboard's picture.
    mark = demo.mark()
    demo.type("1")
    await demo.wait_for_output(r"LEDs: 1 ◐ 2 ○ 3 ● 4 ○", after=mark)
    table_1 = page.locator("hui-vertical-stack-card").filter(has_text="Table 1")
    await expect(table_1).to_contain_text("Table 1 calling", timeout=UI_TIMEOUT)
    await expect(table_1.get_by_role("button", name="Acknowledge", exact=True)).to_be_visible()
    # The picture from a fresh load: after the drawer and Assist, the logbook card can
    # show rows of earlier entries until it is drawn anew.
    await page.reload()
    await expect(table_1.get_by_role("button", name="Acknowledge", exact=True)).to_be_visible(
        timeout=UI_TIMEOUT
    )
    await expect(page.locator("hui-logbook-card")).to_contain_text("Table 1", timeout=UI_TIMEOUT)
    await page.mouse.move(0, 0)  # No hover highlight in the picture.
    await shot(page, "dashboard")

    # Served ends both calls: table 3 after its acknowledgement, table 1 straight away.
    mark = demo.mark()
    await table_3.get_by_role("button", name="Served", exact=True).click()
    await table_1.get_by_role("button", name="Served", exact=True).click()
    await demo.wait_for_output(r"LEDs: 1 ○ 2 ○ 3 ○ 4 ○", after=mark)
    await expect(table_3).to_contain_text("Idle", timeout=UI_TIMEOUT)
    await expect(table_1).to_contain_text("Idle", timeout=UI_TIMEOUT)

    # Closed ("Bell active" off): the LEDs say so, and a press calls nobody. The demo set
    # the entry's opening hours (the options flow) to its always-open schedule.
    assert any('"Opening hours" schedule' in line for line in demo.output)
    bell_active = page.locator("hui-tile-card").filter(has_text="Bell active").get_by_role("switch")
    mark = demo.mark()
    await bell_active.click()
    await demo.wait_for_output(r"LEDs: 1 ◌ 2 ◌ 3 ◌ 4 ◌  \(closed\)", after=mark)
    demo.type("2")
    await demo.wait_for_output(r"delivered: button 2", after=mark)
    # The press is in the logbook (so Home Assistant has handled it), and no call began.
    await expect(page.locator("hui-logbook-card")).to_contain_text("Table 2", timeout=UI_TIMEOUT)
    table_2 = page.locator("hui-vertical-stack-card").filter(has_text="Table 2")
    await expect(table_2).to_contain_text("Idle")
    await shot(page, "3b-closed")
    mark = demo.mark()
    await bell_active.click()
    await demo.wait_for_output(r"LEDs: 1 ○ 2 ○ 3 ○ 4 ○", after=mark)

    # The set point moved in Home Assistant shows in the Blynk app.
    blynk = await context.new_page()
    await blynk.goto(demo.blynk_url)
    await expect(blynk.locator("main#app")).to_have_attribute("data-ready", "true")
    set_point = blynk.get_by_test_id("value-Set Temperature")
    before = await set_point.inner_text()
    await page.bring_to_front()  # A background tab's frontend defers its work.
    thermostat = page.locator("hui-thermostat-card")
    # The card's minus and plus buttons have no accessible name: plus is the second.
    increase = thermostat.locator("ha-outlined-icon-button").nth(1)
    # The card drops a pending step when the entity's state changes under it (the
    # cooling heater reports every few seconds), so press again as a person would.
    for _attempt in range(5):
        await increase.click()
        try:
            await expect(set_point).not_to_have_text(before, timeout=5000)
            break
        except AssertionError:
            continue
    assert float(await set_point.inner_text()) == float(before) + 0.5
    await shot(blynk, "4-blynk-app-set-point")

    # Power switched in the Blynk app shows in Home Assistant.
    await blynk.bring_to_front()
    power = blynk.get_by_role("switch", name="Power")
    was_on = await power.is_checked()
    await power.click()
    await expect(blynk.get_by_test_id("value-Power")).to_have_text("0" if was_on else "1")
    # The card names what the heater does: off, or heating, idle or cooling when on.
    doing = re.compile(r"\bOff\b" if was_on else r"Heating|Idle|Cooling")
    await expect(thermostat).to_contain_text(doing, timeout=UI_TIMEOUT)
    await page.bring_to_front()
    await shot(page, "5-power-from-the-app")

    # Power back in one tap on the card: its mode buttons are named Off and On.
    await thermostat.get_by_role("radio", name="On" if was_on else "Off").click()
    await expect(blynk.get_by_test_id("value-Power")).to_have_text(
        "1" if was_on else "0", timeout=UI_TIMEOUT
    )
    await shot(page, "6-power-from-the-card")

    # Adding a bell with Home Assistant in Japanese: the frontend's language setting (what
    # the profile's language picker stores), for a second browser logged in as the first.
    japanese = await browser.new_context(
        viewport={"width": 1000, "height": 1300},  # The whole first step, Submit included.
        locale="ja-JP",
        storage_state=await context.storage_state(),
    )
    await japanese.add_init_script("localStorage.setItem('selectedLanguage', '\"ja\"')")
    await context.close()
    page = await japanese.new_page()
    # As the README says: Settings, Devices & services, Add integration, Blynk Bell. (Not
    # the "my" link's /config/integrations/dashboard/add?domain=blynk_bell: the frontend
    # can show its confirmation twice there, and then closes both.)
    await page.goto(f"{demo.ha_url}/config/integrations/dashboard")
    await expect(page.locator("html")).to_have_attribute("lang", "ja", timeout=UI_TIMEOUT)
    await page.get_by_role("button", name="統合を追加", exact=True).click(timeout=UI_TIMEOUT)
    await page.get_by_role("textbox", name="ブランド名で検索").fill("Blynk Bell")
    async with page.expect_response(
        lambda r: r.request.method == "POST" and r.url.endswith("/api/config/config_entries/flow")
    ) as started:
        picker = page.locator("dialog-add-integration")
        await picker.get_by_text("Blynk Bell", exact=True).click()
    flow_id = (await (await started.value).json())["flow_id"]
    # The first step as ja.json words it: title, description, each field and its help.
    user_step = json.loads((TRANSLATIONS / "ja.json").read_text(encoding="utf-8"))["config"][
        "step"
    ]["user"]
    dialog = page.get_by_role("alertdialog", name=user_step["title"])
    await expect(dialog).to_be_visible(timeout=UI_TIMEOUT)
    flow = page.locator("dialog-data-entry-flow")  # The form is slotted: not in `dialog`.
    await expect(flow).to_contain_text(user_step["description"])
    for field, label in user_step["data"].items():
        # A required field's label ends in "*".
        field_label = re.compile(rf"^{re.escape(label)}\*?$")
        await expect(flow.get_by_label(field_label), field).to_be_visible()
        await expect(flow).to_contain_text(user_step["data_description"][field])
    await page.mouse.move(0, 0)  # No hover highlight in the picture.
    await page.screenshot(path=CONFIG_FLOW_JA)
    assert CONFIG_FLOW_JA.stat().st_size < 400_000

    # Closed ("閉じる", the dialog's X) on its first step: the frontend aborts the flow in
    # Home Assistant, so no half-done flow is left behind.
    async with page.expect_response(
        lambda r: r.request.method == "DELETE" and r.url.endswith(f"/config_entries/flow/{flow_id}")
    ) as aborted:
        await flow.get_by_role("button", name="閉じる", exact=True).click()
    assert (await aborted.value).ok
    await expect(dialog).to_be_hidden()
    await japanese.close()


async def test_ctrl_c_leaves_nothing_running(demo: RunningDemo) -> None:
    os.killpg(demo.process.pid, signal.SIGINT)
    async with asyncio.timeout(60):
        assert await demo.process.wait() == 0
    await demo.wait_for_output("nothing is left running")
    leftovers = subprocess.run(
        ["pgrep", "-f", str(demo.state_dir)], capture_output=True, text=True, check=False
    ).stdout
    assert leftovers == ""
