"""scripts/demo's rough edges: the keys it offers, and a Home Assistant log without ERRORs.

The demo's banner and the bell's own help name the keys the host runner acts on, for the
demo's number of tables. Home Assistant's integrations the demo loads look for the ffmpeg
program (tts, which Assist needs) and libjpeg-turbo (camera, imported whenever Home
Assistant describes its actions, as the automation editor asks it to), and log an ERROR
without them: scripts/demo and scripts/test install both (scripts/_bootstrap.sh), and
these tests fail where they are missing.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
import re
import subprocess
import sys
from types import ModuleType

from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
import pytest
import yaml

from custom_components.blynk_bell.const import DEFAULT_BUTTONS
from demo.__main__ import TABLES, Demo, DemoState

REPO = Path(__file__).parents[1]


def host_runner() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "host_runner", REPO / "firmware" / "host_runner.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def keys_named(text: str) -> set[str]:
    return set(re.findall(r"\b([LD]?1-[LD]?\d+)\b", text))


def test_the_banner_and_the_bell_offer_the_keys_the_bell_takes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert TABLES == DEFAULT_BUTTONS  # The demo's entry keeps the default tables.
    demo = Demo(tmp_path, DemoState.load_or_create(tmp_path / "demo.json", 18123), auto=False)
    demo._print_banner()
    banner = capsys.readouterr().out
    expected = {f"1-{TABLES}", f"L1-L{TABLES}", f"D1-D{TABLES}"}
    assert keys_named(banner) == expected
    assert keys_named(host_runner().help_text(TABLES)) == expected


def test_the_bell_acts_on_exactly_the_keys_it_offers() -> None:
    runner = host_runner()
    args = runner.parse_args(["--buttons", str(TABLES)])
    assert args.buttons == TABLES
    assert keys_named(runner.help_text(args.buttons)) == {"1-4", "L1-L4", "D1-D4"}


def test_the_demo_loads_what_needs_ffmpeg() -> None:
    """Assist needs assist_pipeline, which needs tts, which needs ffmpeg: keep, install."""
    config = yaml.safe_load(
        re.sub(r"!\w+ \S+", "", (REPO / "demo" / "configuration.yaml").read_text())
    )
    assert "assist_pipeline" in config


async def test_ffmpeg_is_found(hass: HomeAssistant, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    assert await async_setup_component(hass, "ffmpeg", {})
    await hass.async_block_till_done()
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], "install Debian's ffmpeg (scripts/_bootstrap.sh does)"


def test_libturbojpeg_loads() -> None:
    """In a fresh interpreter: the library is looked for once per process."""
    code = (
        "from homeassistant.components.camera.img_util import TurboJPEGSingleton\n"
        "assert TurboJPEGSingleton.instance() is not False\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert "Error loading libturbojpeg" not in loaded.stderr, loaded.stderr
    assert loaded.returncode == 0, loaded.stderr
