"""What HACS checks before it lists the repository, and what a HACS user is told.

The HACS action (`.github/workflows/hacs.yaml`) runs on GitHub, with GitHub's API: the
repository's description, topics and licence as GitHub sees them are checked there only.
Everything it reads from the files is checked here: `hacs.json` against HACS's schema,
the manifest's keys HACS needs, the brand icon, the README (with an image) and the
licence file. And what publishing promises: the README's repository and "Open in HACS"
badge, a CHANGELOG whose newest entry is the manifest's version, the workflows, and one
path for the blueprint everywhere.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
import re
import struct
import tomllib
from typing import Any

from awesomeversion import AwesomeVersion
from homeassistant.helpers import config_validation as cv
import pytest
import yaml

from custom_components.blynk_bell.const import VERSION

REPO = Path(__file__).parents[1]
INTEGRATION = REPO / "custom_components" / "blynk_bell"
README = (REPO / "README.md").read_text("utf-8")
MANIFEST: dict[str, Any] = json.loads((INTEGRATION / "manifest.json").read_text("utf-8"))
HACS: dict[str, Any] = json.loads((REPO / "hacs.json").read_text("utf-8"))
REPOSITORY = "https://github.com/blynk-bell/blynk_bell"

# HACS's schema of hacs.json: these keys only, of these types; `name` is required.
HACS_KEYS: dict[str, type | tuple[type, ...]] = {
    "name": str,
    "content_in_root": bool,
    "country": (str, list),
    "filename": str,
    "hacs": str,
    "hide_default_branch": bool,
    "homeassistant": str,
    "persistent_directory": str,
    "render_readme": bool,
    "zip_release": bool,
}


def hacs_json_problems(manifest: dict[str, Any]) -> list[str]:
    problems = [f"unknown key {key!r}" for key in manifest if key not in HACS_KEYS]
    problems += [
        f"{key} must be {HACS_KEYS[key]}"
        for key, value in manifest.items()
        if key in HACS_KEYS and not isinstance(value, HACS_KEYS[key])
    ]
    if "name" not in manifest:
        problems.append("name is required")
    if manifest.get("zip_release") and not manifest.get("filename"):
        problems.append("zip_release needs a filename")
    for key in ("homeassistant", "hacs"):
        if key in manifest and not AwesomeVersion(str(manifest[key])).valid:
            problems.append(f"{key} is not a version")
    return problems


def test_hacs_json_matches_hacs_schema() -> None:
    assert hacs_json_problems(HACS) == []


@pytest.mark.parametrize(
    "bad",
    [
        {"domains": ["climate"]},
        {"render_readme": "yes"},
        {"zip_release": True},
        {"homeassistant": "soon"},
    ],
)
def test_the_hacs_json_check_finds(bad: dict[str, Any]) -> None:
    assert hacs_json_problems({**HACS, **bad}) != []


def test_the_minimum_home_assistant_is_the_one_tested_and_documented() -> None:
    pinned = re.search(
        r"^homeassistant==(\S+)$", (REPO / "requirements_demo.txt").read_text(), re.M
    )
    assert pinned is not None
    assert HACS["homeassistant"] == pinned.group(1)
    assert f"Requires Home Assistant {HACS['homeassistant']} or newer" in README


def test_the_manifest_has_what_hacs_needs() -> None:
    assert isinstance(MANIFEST["codeowners"], list)
    assert MANIFEST["domain"] == INTEGRATION.name
    assert isinstance(MANIFEST["name"], str)
    assert AwesomeVersion(MANIFEST["version"]).valid
    for key in ("documentation", "issue_tracker"):
        cv.url(MANIFEST[key])
    assert MANIFEST["documentation"] == REPOSITORY
    assert MANIFEST["issue_tracker"] == f"{REPOSITORY}/issues"


def test_one_integration_in_custom_components() -> None:
    assert not HACS.get("content_in_root", False)
    found = [path.name for path in (REPO / "custom_components").iterdir() if path.is_dir()]
    assert [name for name in found if name != "__pycache__"] == [INTEGRATION.name]


def test_the_brand_icon_is_a_square_png() -> None:
    """HACS's brands check accepts brand/icon.png; Home Assistant 2026.3 shows it."""
    header = (INTEGRATION / "brand" / "icon.png").read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", header[16:24])
    assert width == height >= 256


# The README -----------------------------------------------------------------------------

HACS_BADGE = (
    "[![Open your Home Assistant instance and open a repository inside the Home Assistant "
    "Community Store.](https://my.home-assistant.io/badges/hacs_repository.svg)]"
    "(https://my.home-assistant.io/redirect/hacs_repository/"
    "?owner=blynk-bell&repository=blynk_bell&category=integration)"
)


def test_the_readme_names_the_repository_and_opens_it_in_hacs() -> None:
    assert REPOSITORY in README
    assert HACS_BADGE in README


def test_the_readme_has_an_image_hacs_can_show() -> None:
    """HACS's images check: a picture in the README, badges and shields not counted."""
    pictures = [
        line
        for line in README.splitlines()
        if ("![" in line or "<img" in line) and "my.home-assistant.io/badges" not in line
    ]
    assert pictures


def test_the_readme_says_when_home_assistant_shows_the_icon() -> None:
    assert "brand/icon.png" in README
    assert "2026.3" in README


def test_iot_class_and_integration_type_are_explained() -> None:
    assert MANIFEST["iot_class"] in README
    assert MANIFEST["integration_type"] in README


# Licence, versions, releases ------------------------------------------------------------


def test_the_licence_file_says_what_pyproject_says() -> None:
    """The HACS action requires a licence GitHub recognises: a LICENSE file."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT"
    assert (REPO / "LICENSE").read_text().startswith("MIT License")


def changelog_versions() -> list[str]:
    text = (REPO / "CHANGELOG.md").read_text("utf-8")
    # "## 0.2.0 <en dash> 2026-12-02".
    return re.findall(r"^## (\S+) \u2013 \d{4}-\d{2}-\d{2}$", text, re.M)


def test_the_newest_changelog_entry_is_the_manifests_version() -> None:
    versions = changelog_versions()
    assert versions, "CHANGELOG.md has no '## <version> - <date>' entry"
    assert versions[0] == MANIFEST["version"]
    assert MANIFEST["version"] == VERSION  # What the heater reports to Blynk.
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["version"] == MANIFEST["version"]


def test_changelog_versions_go_down() -> None:
    versions = [AwesomeVersion(v) for v in changelog_versions()]
    assert all(newer > older for newer, older in itertools.pairwise(versions))


def workflow(name: str) -> dict[Any, Any]:
    data: dict[Any, Any] = yaml.safe_load((REPO / ".github" / "workflows" / name).read_text())
    return data


@pytest.mark.parametrize(
    ("name", "action"),
    [("hassfest.yaml", "home-assistant/actions/hassfest"), ("hacs.yaml", "hacs/action")],
)
def test_the_workflow_runs_on_every_push_and_daily(name: str, action: str) -> None:
    flow = workflow(name)
    triggers = flow.get("on", flow.get(True))  # YAML 1.1 reads a bare `on` as true.
    assert {"push", "pull_request", "schedule"} <= set(triggers)
    steps = [step for job in flow["jobs"].values() for step in job["steps"]]
    used = [step for step in steps if str(step.get("uses", "")).startswith(f"{action}@")]
    assert len(used) == 1
    if action == "hacs/action":
        assert used[0]["with"]["category"] == "integration"


# The blueprint's path -------------------------------------------------------------------


def test_the_blueprint_has_one_path_everywhere() -> None:
    """In the repository, the README's notes and example, and the demo: blynk_bell/."""
    in_repo = REPO / "blueprints" / "automation" / "blynk_bell" / "notify_waiter.yaml"
    assert in_repo.is_file()
    mentioned = set(re.findall(r"([\w-]+)/notify_waiter(?:\.yaml)?\b", README))
    assert mentioned == {"blynk_bell"}, mentioned
    assert "blueprints/automation/blynk_bell/notify_waiter.yaml" in README
    assert re.search(r"path: blynk_bell/notify_waiter\.yaml", README)
    demo = yaml.safe_load((REPO / "demo" / "automations.yaml").read_text())
    paths = {automation["use_blueprint"]["path"] for automation in demo}
    assert paths == {"blynk_bell/notify_waiter.yaml"}
