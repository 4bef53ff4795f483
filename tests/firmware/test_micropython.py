"""The firmware's logic tests (tests/firmware/logic) run under real MicroPython.

pytest also runs the same tests under CPython, which the host runner uses; here
they run once more in the MicroPython WebAssembly build from npm, under Node.js,
with a heap the size of a Pico W's.
"""

from __future__ import annotations

import pytest

from .micropython import (
    HEAP_KIB,
    Outcome,
    heap_after,
    logic_modules,
    logic_tests,
    require_micropython,
    run_logic_tests,
)


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations() -> None:
    """No Home Assistant needed here."""


@pytest.fixture(scope="module")
def micropython_run() -> tuple[str, dict[tuple[str, str], Outcome], str]:
    node = require_micropython()
    return run_logic_tests(node, logic_modules())


def test_runs_on_micropython(micropython_run: tuple[str, dict, str]) -> None:
    implementation, outcomes, output = micropython_run
    assert implementation.startswith("micropython"), output[-2000:]
    assert "MicroPython v1." in implementation
    missing = set(logic_tests()) - set(outcomes)
    assert not missing, f"tests that did not run under MicroPython: {sorted(missing)}"
    assert ("support", "<import>") not in outcomes


@pytest.mark.parametrize(("module", "test"), logic_tests())
def test_logic_under_micropython(
    micropython_run: tuple[str, dict, str], module: str, test: str
) -> None:
    _implementation, outcomes, output = micropython_run
    import_failure = outcomes.get((module, "<import>"))
    assert import_failure is None, import_failure.error
    outcome = outcomes.get((module, test))
    assert outcome is not None, f"{module}.{test} did not run:\n{output[-3000:]}"
    assert outcome.ok, f"{module}.{test} failed under MicroPython:\n{outcome.error}"


def test_the_whole_bell_fits_a_pico_w_heap(
    micropython_run: tuple[str, dict, str],
) -> None:
    """The Bell tests (the firmware running against a broker) never outgrow 192 KiB.

    This WebAssembly port adds heap when an allocation does not fit, so the limit is
    checked from the heap's size after them; they run first (modules in name order).
    """
    _implementation, _outcomes, output = micropython_run
    assert logic_modules()[:2] == ["test_app", "test_app_feedback"]
    assert heap_after(output, "test_app_feedback") <= HEAP_KIB * 1024 + 1024, output[-500:]
