"""The heater's physics and safety rules, on their own."""

from __future__ import annotations

import pytest

from custom_components.blynk_bell.protocol.model import CutOff, safety_cut_off, status_for
from custom_components.blynk_bell.protocol.template import Status


@pytest.mark.parametrize(
    ("current", "silent_for", "target", "rule"),
    [
        (20.0, 0.0, 21.0, None),
        (None, 0.0, 21.0, CutOff.THERMOMETER_UNAVAILABLE),
        (20.0, 599.0, 21.0, None),
        (20.0, 600.0, 21.0, CutOff.THERMOMETER_SILENT),
        (26.0, 0.0, 21.0, None),  # Set point + 5 exactly: still allowed.
        (26.1, 0.0, 21.0, CutOff.ABOVE_SET_POINT),
        (35.0, 0.0, 30.0, None),
        (35.1, 0.0, 30.0, CutOff.ABOVE_ABSOLUTE_LIMIT),
        (36.0, 0.0, 40.0, CutOff.ABOVE_ABSOLUTE_LIMIT),  # Whatever the set point.
    ],
)
def test_safety_rules(
    current: float | None, silent_for: float, target: float, rule: CutOff | None
) -> None:
    assert safety_cut_off(current, silent_for, target) is rule


def test_an_idle_heater_needs_a_clear_drift_to_show_heating_again() -> None:
    assert status_for(True, 21.0, 22.0) is Status.HEATING  # Fresh: the template's 1 °C.
    assert status_for(True, 21.0, 22.0, Status.IDLE) is Status.IDLE  # Noise, once idle.
    assert status_for(True, 20.4, 22.0, Status.IDLE) is Status.HEATING
    assert status_for(True, 23.6, 22.0, Status.IDLE) is Status.COOLING
    assert status_for(True, 21.2, 22.0, Status.HEATING) is Status.IDLE
    assert status_for(False, 10.0, 22.0, Status.IDLE) is Status.OFF
