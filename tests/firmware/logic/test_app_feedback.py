"""Protocol version 2 on the whole Bell: calls shown on the LEDs, health, double presses."""

import asyncio
import json

from pico_bell import VERSION
from pico_bell.signing import Signer, parse_key, signed_text

from .support import TEST_KEY, press, wait_until
from .test_app import Rig
from .test_calls import signed_calls

LEDS = (2, 3, 4, 5)


def levels(rig, samples=20, step=0.05):
    """Sample the table LEDs for a while: per LED, the set of levels seen."""

    async def sample():
        await asyncio.sleep(0.1)  # The LED loop's next round.
        seen = [set() for _ in LEDS]
        for _ in range(samples):
            for index, pin in enumerate(LEDS):
                seen[index].add(rig.machine.line(pin).level)
            await asyncio.sleep(step)
        return seen

    return sample()


async def test_a_signed_calls_message_shows_on_the_table_leds():
    rig = Rig(BELL_KEY=TEST_KEY, LED_PINS=LEDS)
    try:
        await rig.start()
        assert ("bell/calls", 1) in rig.broker.subscriptions
        assert [rig.machine.line(pin).mode for pin in LEDS] == [1, 1, 1, 1]  # Outputs.
        rig.broker.send("bell/calls", signed_calls(1, 1, 1, "icai", topic="bell/calls"))
        await wait_until(lambda: rig.bell.calls.states == "icai", timeout=2)
        seen = await levels(rig)
        assert seen == [{0}, {0, 1}, {1}, {0}]  # Idle off, calling blinks, ack steady.
        assert ("calls", None) in rig.events
        rig.broker.send("bell/calls", signed_calls(1, 2, 0, "iiii", topic="bell/calls"))
        await wait_until(lambda: not rig.bell.calls.is_open, timeout=2)
        seen = await levels(rig, samples=70)  # 3.5 s: the closed flash at least once.
        assert seen == [{0, 1}] * 4
    finally:
        await rig.stop()


async def test_a_retained_message_from_before_the_reboot_shows_nothing():
    rig = Rig(BELL_KEY=TEST_KEY, LED_PINS=LEDS)
    rig.broker.retained["bell/calls"] = signed_calls(0, 7, 1, "cccc", topic="bell/calls")
    try:
        await rig.start()  # Boot 1; the retained message is for boot 0.
        await asyncio.sleep(0.3)
        assert rig.bell.calls.states == "iiii"
        assert rig.bell.calls.refused == {"other_boot": 1}
        assert await levels(rig, samples=5) == [{0}] * 4
        assert any("ignored a message (other_boot)" in line for line in rig.lines)
        # Hostile input on the topic never crashes the bell nor changes the LEDs.
        for payload in (b"\xff" * 2000, b"{" * 500, b'{"boot": 1e999}', b""):
            rig.broker.send("bell/calls", payload)
        await asyncio.sleep(0.3)
        assert rig.bell.calls.states == "iiii"
        assert rig.bell.state == 2  # Still connected.
        await press(rig.machine, 16)  # And presses still go out.
        await wait_until(rig.delivered, timeout=2)
    finally:
        await rig.stop()


async def test_without_table_leds_the_onboard_led_shows_a_call():
    rig = Rig()
    try:
        await rig.start()
        rig.broker.send("bell/calls", b'{"boot": 0, "n": 1, "open": 1, "tables": "ic"}')
        await wait_until(lambda: rig.bell.calls.states == "icii", timeout=2)
        rig.board.leds.clear()
        await asyncio.sleep(0.6)
        leds = rig.board.leds
        changes = sum(1 for index in range(1, len(leds)) if leds[index] != leds[index - 1])
        assert changes >= 3  # Fast blinking instead of steady on.
    finally:
        await rig.stop()


async def test_health_after_connecting_signed_with_the_dropped_count():
    rig = Rig(BELL_KEY=TEST_KEY, BATTERY=True)
    rig.machine.vsys_mv = 3920
    try:
        await rig.start()
        await wait_until(lambda: "bell/health" in rig.broker.retained, timeout=2)
        health = json.loads(rig.broker.retained["bell/health"])
        assert (health["boot"], health["n"], health["fw"]) == (1, 1, VERSION)
        assert health["rssi"] == -61
        assert health["dropped"] == 0
        assert abs(health["vsys_mv"] - 3920) <= 2
        assert 0 <= health["uptime_s"] <= 5
        signer = Signer(parse_key(TEST_KEY))
        values = [health[name] for name in ("boot", "n", "fw", "rssi", "uptime_s", "dropped")]
        text = signed_text("bell/health", *values, health["vsys_mv"])
        assert health["sig"] == signer.sign(text)
        message = rig.broker.publishes("bell/health")[0]
        assert (message.qos, message.retain) == (0, True)
        assert rig.machine.unsafe_adc_reads == 0
        rig.broker.drop_connections()  # After every connect, a new report, n + 1.
        await wait_until(lambda: len(rig.broker.publishes("bell/health")) == 2, timeout=3)
        assert json.loads(rig.broker.retained["bell/health"])["n"] == 2
    finally:
        await rig.stop()


async def test_health_without_a_battery_has_no_vsys():
    rig = Rig()
    try:
        await rig.start()
        await wait_until(lambda: "bell/health" in rig.broker.retained, timeout=2)
        health = json.loads(rig.broker.retained["bell/health"])
        assert "vsys_mv" not in health
        assert "sig" not in health
    finally:
        await rig.stop()


async def test_double_press_goes_out_as_one_event():
    rig = Rig()
    try:
        await rig.start()
        await press(rig.machine, 17, hold=0.08)
        await asyncio.sleep(0.15)
        await press(rig.machine, 17, hold=0.08)
        await wait_until(rig.delivered, timeout=2)
        await asyncio.sleep(0.6)
        (payload,) = rig.press_payloads()
        assert (payload["button"], payload["event"], payload["seq"]) == (2, "double_press", 1)
    finally:
        await rig.stop()


async def test_legacy_mode_reports_every_press():
    rig = Rig(LEGACY=True)
    try:
        await rig.start()
        await press(rig.machine, 17, hold=0.08)
        await asyncio.sleep(0.15)
        await press(rig.machine, 17, hold=0.08)
        await wait_until(lambda: len(rig.delivered()) == 2, timeout=2)
    finally:
        await rig.stop()


async def test_a_broker_that_never_confirms_the_subscription_still_gets_the_presses():
    rig = Rig()
    rig.broker.answer_subscribe = False
    try:
        await rig.start()
        await press(rig.machine, 16)
        await wait_until(rig.delivered, timeout=4)
        assert any("no calls feedback" in line for line in rig.lines)
    finally:
        await rig.stop()
