"""The health report: its bytes, its bounds, its signature, and VSYS on a Pico W."""

import json

from pico_bell.board import Board
from pico_bell.health import health_payload
from pico_bell.signing import Signer, parse_key, signed_text
from pico_host.fakes import GPIO_CTRL, PADS, PIO1_FUNCTION, FakeMachine, FakeNetwork

from .support import TEST_KEY

TOPIC = "bistro/bell/health"


def test_health_is_the_protocol_json():
    payload = health_payload(TOPIC, 17, 3, "1.2.0", -61, 3600, 0, 3920)
    assert payload == (
        b'{"boot": 17, "n": 3, "fw": "1.2.0", "rssi": -61, "uptime_s": 3600, '
        b'"dropped": 0, "vsys_mv": 3920}'
    )
    data = json.loads(health_payload(TOPIC, 17, 3, "1.2.0", -61, 3600, 0, None))
    assert "vsys_mv" not in data


def test_signed_health_covers_every_value_with_an_empty_field_for_no_battery():
    signer = Signer(parse_key(TEST_KEY))
    data = json.loads(health_payload(TOPIC, 17, 3, "1.2.0", -61, 3600, 2, 3920, signer))
    assert data["sig"] == signer.sign(signed_text(TOPIC, 17, 3, "1.2.0", -61, 3600, 2, 3920))
    data = json.loads(health_payload(TOPIC, 17, 4, "1.2.0", -61, 3600, 2, None, signer))
    assert data["sig"] == signer.sign(b"bistro/bell/health|17|4|1.2.0|-61|3600|2|")


def test_readings_are_kept_inside_the_protocol_ranges():
    data = json.loads(health_payload(TOPIC, 1, 1, "1.2.0", 5, 2**40, 2**40, 7000))
    assert (data["rssi"], data["uptime_s"], data["dropped"], data["vsys_mv"]) == (
        0,
        2**32 - 1,
        2**32 - 1,
        6000,
    )
    data = json.loads(health_payload(TOPIC, 1, 1, "1.2.0", -200, -5, -1, -3))
    assert (data["rssi"], data["uptime_s"], data["dropped"], data["vsys_mv"]) == (-120, 0, 0, 0)


def test_vsys_is_read_with_the_pins_set_up_and_given_back():
    machine = FakeMachine()
    board = Board(machine, FakeNetwork())
    before = dict(machine.mem32)
    machine.vsys_mv = 3900
    assert abs(board.read_vsys_mv() - 3900) <= 2
    assert machine.unsafe_adc_reads == 0  # Interrupts (the Wi-Fi driver) held off.
    assert machine.irq_disabled == 0  # ...and enabled again.
    assert machine.mem32 == before  # GPIO29 back to the wireless chip (PIO), pads too.
    assert machine.mem32[GPIO_CTRL + 8 * 29] == PIO1_FUNCTION
    assert PADS + 4 * 29 in machine.mem32
    assert machine.line(25).level == 1  # CS high: chip deselected, as between transfers.
    machine.vsys_mv = 5000  # On USB.
    assert abs(board.read_vsys_mv() - 5000) <= 2


def test_a_failing_read_still_gives_the_pins_back():
    machine = FakeMachine()
    board = Board(machine, FakeNetwork())
    before = dict(machine.mem32)

    class BrokenADC:
        def __init__(self, channel):
            pass

        def read_u16(self):
            raise OSError(5, "EIO")

    machine.ADC = BrokenADC
    try:
        board.read_vsys_mv()
    except OSError:
        pass
    else:
        raise AssertionError("the ADC error was swallowed")
    assert machine.mem32 == before
    assert machine.irq_disabled == 0
