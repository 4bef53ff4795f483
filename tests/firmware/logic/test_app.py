"""The whole firmware (pico_bell.app.Bell) on fake pins, Wi-Fi and broker."""

import asyncio
import json

from pico_bell import led
from pico_bell.app import Bell
from pico_bell.signing import Signer, parse_key, signed_text

from .support import TEST_KEY, BoardOnFakes, FakeBroker, fast_settings, press, wait_until


class Rig:
    """A Bell with its fakes, started as a task."""

    def __init__(self, **settings):
        self.broker = FakeBroker()
        self.board = BoardOnFakes(self.broker)
        self.settings = fast_settings(**settings)
        self.lines = []
        self.events = []
        self.task = None
        self.boot_firmware()

    def boot_firmware(self):
        """A fresh firmware on the same board and flash, as after machine.reset()."""
        self.bell = Bell(self.settings, self.board, sink=self.lines.append)
        self.bell.listener = lambda event, item: self.events.append((event, item))

    @property
    def machine(self):
        return self.board.machine

    def delivered(self):
        return [item for event, item in self.events if event == "delivered"]

    def press_payloads(self):
        return [json.loads(m.payload) for m in self.broker.publishes("bell")]

    async def start(self):
        self.task = asyncio.create_task(self.bell.run())
        await wait_until(lambda: self.bell.state == led.CONNECTED, timeout=3)

    async def halt(self, graceful=True):
        self.bell.stop(graceful)
        if self.task is not None:
            await self.task
            self.task = None

    async def stop(self, graceful=True):
        await self.halt(graceful)
        await self.broker.close()


async def test_press_is_published_as_json_and_acknowledged():
    rig = Rig()
    try:
        await rig.start()
        assert rig.board.network.WLAN().settings["pm"] == 0xA11140  # Power saving off.
        assert rig.broker.retained["bell/status"] == b'{"state": "online", "boot": 1}'
        assert rig.broker.connects[0]["client_id"] == "bell-e6614104032f5a2b"
        will = ("bell/status", b'{"state": "offline", "boot": 1}', 1, True)
        assert rig.broker.connects[0]["will"] == will
        await press(rig.machine, 17)
        await wait_until(rig.delivered, timeout=2)
        (payload,) = rig.press_payloads()
        assert payload["button"] == 2
        assert payload["event"] == "press"
        assert (payload["boot"], payload["seq"]) == (1, 1)  # First boot, first press.
        assert "sig" not in payload  # No BELL_KEY: unsigned.
        assert 50 <= payload["age_ms"] < 1000
        assert rig.broker.publishes("bell")[0].qos == 1
        assert rig.bell.stats["delivered"] == 1
    finally:
        await rig.stop()
    assert rig.broker.retained["bell/status"] == b'{"state": "offline", "boot": 1}'
    assert rig.broker.disconnects == 1
    assert rig.broker.wills == []


async def test_long_press_and_seq_order():
    rig = Rig()
    try:
        await rig.start()
        await press(rig.machine, 16)
        # A short press is sent once no second one followed within 400 ms, so the long
        # press, reported while held, goes first.
        await press(rig.machine, 19, hold=0.45)  # LONG_PRESS_MS is 300 here.
        await asyncio.sleep(0.5)
        await press(rig.machine, 16)
        await wait_until(lambda: len(rig.delivered()) == 3, timeout=3)
        payloads = rig.press_payloads()
        assert [(p["button"], p["event"]) for p in payloads] == [
            (4, "long_press"),
            (1, "press"),
            (1, "press"),
        ]
        seqs = [p["seq"] for p in payloads]
        assert seqs == [seqs[0], seqs[0] + 1, seqs[0] + 2]
    finally:
        await rig.stop()


async def test_presses_while_the_broker_is_down_are_sent_in_order_after_reconnect():
    rig = Rig()
    try:
        await rig.start()
        rig.broker.available = False
        rig.broker.drop_connections()
        await wait_until(lambda: rig.bell.state == led.NO_BROKER, timeout=2)
        for pin in (16, 17, 18):
            await press(rig.machine, pin)
        await asyncio.sleep(0.6)  # Single presses are queued 400 ms after release.
        assert rig.press_payloads() == []
        assert len(rig.bell.queue) == 3
        rig.broker.available = True
        await wait_until(lambda: len(rig.delivered()) == 3, timeout=3)
        payloads = rig.press_payloads()
        assert [p["button"] for p in payloads] == [1, 2, 3]
        assert [p["seq"] for p in payloads] == sorted(p["seq"] for p in payloads)
        assert all(p["age_ms"] >= 300 for p in payloads)  # They waited in the queue.
        # The broker saw us vanish.
        assert rig.broker.wills == [("bell/status", b'{"state": "offline", "boot": 1}')]
        assert rig.broker.retained["bell/status"] == b'{"state": "online", "boot": 1}'
    finally:
        await rig.stop()


async def test_unacknowledged_press_is_resent_with_the_same_seq_after_reconnect():
    rig = Rig()
    try:
        await rig.start()
        rig.broker.ack = False  # PUBACKs get lost.
        await press(rig.machine, 18)
        # No PUBACK: one DUP re-send on the same connection, then the link is given up
        # and opened again, and the press goes out again with the same seq.
        await wait_until(lambda: len(rig.broker.connects) >= 2, timeout=5)
        rig.broker.ack = True
        await wait_until(rig.delivered, timeout=5)
        sends = rig.broker.publishes("bell")
        assert len(sends) >= 3
        assert (sends[0].dup, sends[1].dup) == (False, True)
        assert sends[0].pid == sends[1].pid
        assert len({json.loads(m.payload)["seq"] for m in sends}) == 1
        assert rig.bell.stats["resent"] >= 1
        assert len(rig.delivered()) == 1
    finally:
        await rig.stop()


async def test_full_queue_drops_the_oldest_and_reports_it():
    rig = Rig(QUEUE_SIZE=2)
    try:
        await rig.start()
        rig.board.network.available = False  # Wi-Fi gone.
        await wait_until(lambda: rig.bell.state == led.NO_WIFI, timeout=3)
        for pin in (16, 17, 18, 19):
            await press(rig.machine, pin)
        await wait_until(lambda: rig.bell.stats["pressed"] == 4, timeout=2)
        assert [p.button for p in rig.bell.queue.items] == [3, 4]
        assert any("queue full" in line for line in rig.lines)
        rig.board.network.available = True
        await wait_until(lambda: len(rig.delivered()) == 2, timeout=4)
        payloads = rig.press_payloads()
        assert [p["button"] for p in payloads] == [3, 4]
        assert all("dropped" not in p for p in payloads)  # Protocol 2: in the health.
        health = json.loads(rig.broker.retained["bell/health"])
        assert health["dropped"] == 2
    finally:
        await rig.stop()


async def test_legacy_mode_publishes_the_tutorial_text():
    rig = Rig(LEGACY=True)
    try:
        await rig.start()
        await press(rig.machine, 19)
        await press(rig.machine, 16, hold=0.45)
        await wait_until(lambda: len(rig.delivered()) == 2, timeout=3)
        assert [m.payload for m in rig.broker.publishes("bell")] == [
            b"button 4 is pressed",
            b"button 1 is pressed",
        ]
    finally:
        await rig.stop()


async def test_active_low_wiring_with_internal_pull_ups():
    rig = Rig(ACTIVE_LOW=True, BUTTON_PINS=(2, 3))
    try:
        await rig.start()
        line = rig.machine.line(3)
        assert line.pull == rig.machine.Pin.PULL_UP
        assert line.level == 1  # Idle high through the pull-up: not pressed.
        await press(rig.machine, 3, pressed_level=0)
        await wait_until(rig.delivered, timeout=2)
        assert rig.press_payloads()[0]["button"] == 2
    finally:
        await rig.stop()


async def test_tutorial_wiring_uses_no_internal_pull():
    rig = Rig()
    try:
        await rig.start()
        assert rig.machine.line(16).pull is None  # External 10 kOhm pull-downs.
        assert rig.machine.line(16).trigger == 8 | 4  # Both edges.
    finally:
        await rig.stop()


async def test_led_shows_the_state_and_the_watchdog_is_fed():
    rig = Rig()
    try:
        await rig.start()
        await asyncio.sleep(0.1)
        assert rig.machine.line("LED").level == 1  # Steady on when connected.
        wdt = rig.machine.wdt
        assert wdt is not None
        assert wdt.timeout == 8000
        feeds = wdt.feeds
        await asyncio.sleep(0.1)
        assert wdt.feeds > feeds
        rig.board.leds.clear()
        await press(rig.machine, 16)
        await wait_until(rig.delivered, timeout=2)
        await asyncio.sleep(0.3)
        assert False in rig.board.leds  # The short dark blink...
        assert rig.board.leds[-1] is True  # ...then steady again.
        rig.board.network.available = False
        await wait_until(lambda: rig.bell.state == led.NO_WIFI, timeout=3)
        rig.board.leds.clear()
        await asyncio.sleep(1.2)
        assert rig.board.leds  # Blinking while offline.
    finally:
        await rig.stop()


async def test_button_held_at_boot_is_not_reported():
    rig = Rig()
    rig.machine.drive(18, 1)  # Held (or stuck) before the firmware starts.
    try:
        await rig.start()
        await asyncio.sleep(0.5)
        rig.machine.drive(18, 0)
        await asyncio.sleep(0.2)
        assert rig.bell.stats["pressed"] == 0
    finally:
        await rig.stop()


async def test_qos0_setting_publishes_without_tracking():
    rig = Rig(QOS=0)
    try:
        await rig.start()
        await press(rig.machine, 16)
        await wait_until(rig.delivered, timeout=2)
        assert rig.broker.publishes("bell")[0].qos == 0
        assert len(rig.bell.queue) == 0
    finally:
        await rig.stop()


async def test_keyed_bell_signs_presses_status_and_will():
    rig = Rig(BELL_KEY=TEST_KEY)
    signer = Signer(parse_key(TEST_KEY))
    try:
        await rig.start()
        status = json.loads(rig.broker.retained["bell/status"])
        assert status["sig"] == signer.sign(b"bell/status|online|1")
        topic, will, _qos, retain = rig.broker.connects[0]["will"]
        assert (topic, retain) == ("bell/status", True)
        assert json.loads(will)["sig"] == signer.sign(b"bell/status|offline|1")
        await press(rig.machine, 18)
        await wait_until(rig.delivered, timeout=2)
        (data,) = rig.press_payloads()
        text = signed_text("bell", 3, "press", 1, 1, data["age_ms"])
        assert data["sig"] == signer.sign(text)
        assert not any(TEST_KEY in line for line in rig.lines)  # The key is never logged.
    finally:
        await rig.stop()
    # A clean stop publishes the signed goodbye of this boot.
    assert json.loads(rig.broker.retained["bell/status"])["sig"] == signer.sign(
        b"bell/status|offline|1"
    )


async def test_reboot_counts_the_boot_up_and_seq_starts_over():
    rig = Rig(BELL_KEY=TEST_KEY)
    try:
        await rig.start()
        await press(rig.machine, 16)
        await asyncio.sleep(0.5)  # Longer than a double press.
        await press(rig.machine, 16)
        await wait_until(lambda: len(rig.delivered()) == 2, timeout=3)
        await rig.halt(graceful=False)  # Power cut.
        rig.boot_firmware()
        await rig.start()
        assert rig.bell.boot == 2
        await press(rig.machine, 17)
        await wait_until(lambda: len(rig.delivered()) == 3, timeout=3)
        orders = [(p["boot"], p["seq"]) for p in rig.press_payloads()]
        assert orders == [(1, 1), (1, 2), (2, 1)]  # Always increasing.
        assert orders == sorted(orders)
        will = json.loads(rig.broker.connects[-1]["will"][1])
        assert will["boot"] == 2  # The will of the new boot, made at connect time.
        assert rig.board.flash.files["/bell_boot.txt"] == b"2\n"
        assert rig.board.flash.writes == 2  # Once per boot, not per press or connect.
    finally:
        await rig.stop()
