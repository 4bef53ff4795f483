"""What Home Assistant's hassfest checks, checked here, plus the quality scale's own rules.

hassfest runs on GitHub (`.github/workflows/hassfest.yaml`), not on this machine, so these
tests apply its rules of Home Assistant 2026.2 themselves: the manifest's keys, their order
and `version`; the translation files' keys and strings; `icons.json`. hassfest reads only
`en.json` of a custom integration: here every language file is held to the same rules,
so a URL or a misshapen key in a translation fails before a user sees it.

The checks are functions that return the problems they find, each tested on a bad sample
too, so a check that finds nothing is known to be looking.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
import json
from pathlib import Path
import re
import string
from typing import Any

from awesomeversion import AwesomeVersion, AwesomeVersionStrategy
from homeassistant.const import Platform
from homeassistant.helpers import config_validation as cv
import pytest
import voluptuous as vol
import yaml

INTEGRATION = Path(__file__).parents[1] / "custom_components" / "blynk_bell"
README = Path(__file__).parents[1] / "README.md"
MANIFEST: dict[str, Any] = json.loads((INTEGRATION / "manifest.json").read_text("utf-8"))
LANGUAGES = sorted(path.stem for path in (INTEGRATION / "translations").glob("*.json"))


def load_json(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text("utf-8"))
    return data


def translations(language: str) -> dict[str, Any]:
    return load_json(INTEGRATION / "translations" / f"{language}.json")


# The manifest ---------------------------------------------------------------------------

# The keys Home Assistant 2026.2 knows in a custom integration's manifest.
MANIFEST_KEYS = {
    "domain",
    "name",
    "after_dependencies",
    "bluetooth",
    "codeowners",
    "config_flow",
    "dependencies",
    "dhcp",
    "disabled",
    "documentation",
    "homekit",
    "import_executor",
    "integration_type",
    "iot_class",
    "issue_tracker",
    "loggers",
    "mqtt",
    "quality_scale",
    "requirements",
    "single_config_entry",
    "ssdp",
    "usb",
    "version",
    "zeroconf",
}
IOT_CLASSES = {
    "assumed_state",
    "calculated",
    "cloud_polling",
    "cloud_push",
    "local_polling",
    "local_push",
}
INTEGRATION_TYPES = {"device", "entity", "hardware", "helper", "hub", "service", "system"}
# The version schemes Home Assistant's loader accepts for a custom integration.
VERSION_STRATEGIES = [
    AwesomeVersionStrategy.CALVER,
    AwesomeVersionStrategy.SEMVER,
    AwesomeVersionStrategy.SIMPLEVER,
    AwesomeVersionStrategy.BUILDVER,
    AwesomeVersionStrategy.PEP440,
]


def manifest_problems(manifest: dict[str, Any], folder: str) -> list[str]:
    problems = [f"unknown key {key!r}" for key in manifest if key not in MANIFEST_KEYS]
    required = ("domain", "name", "documentation", "codeowners", "version", "iot_class")
    problems += [f"{key!r} is missing" for key in required if key not in manifest]
    keys = list(manifest)
    if keys[:2] != ["domain", "name"] or keys[2:] != sorted(keys[2:]):
        problems.append(f"keys must be domain, name, then alphabetical: {keys}")
    if manifest.get("domain") != folder:
        problems.append(f"domain {manifest.get('domain')!r} is not the folder's name {folder!r}")
    try:
        AwesomeVersion(str(manifest.get("version")), ensure_strategy=VERSION_STRATEGIES)
    except Exception:  # noqa: BLE001 - any failure to parse is the finding
        problems.append(f"version {manifest.get('version')!r} is not a valid version")
    for key in ("documentation", "issue_tracker"):
        url = str(manifest.get(key, "https://"))
        if not url.startswith("https://"):
            problems.append(f"{key} must be an https URL: {url}")
    if str(manifest.get("documentation")).startswith("https://www.home-assistant.io/"):
        problems.append("a custom integration documents itself elsewhere")
    if manifest.get("iot_class") not in IOT_CLASSES:
        problems.append(f"iot_class {manifest.get('iot_class')!r} is not one of {IOT_CLASSES}")
    if manifest.get("integration_type", "hub") not in INTEGRATION_TYPES:
        problems.append(f"integration_type {manifest.get('integration_type')!r} is unknown")
    if not all(str(owner).startswith("@") for owner in manifest.get("codeowners", [])):
        problems.append("code owners are GitHub handles, @name")
    problems += [
        f"requirement {requirement!r} is not pinned"
        for requirement in manifest.get("requirements", [])
        if "==" not in requirement
    ]
    return problems


def test_manifest_passes_hassfest_rules() -> None:
    assert manifest_problems(MANIFEST, INTEGRATION.name) == []


def test_manifest_config_flow_matches_the_module() -> None:
    assert MANIFEST["config_flow"] is (INTEGRATION / "config_flow.py").is_file()


@pytest.mark.parametrize(
    ("change", "finding"),
    [
        ({"version": "next"}, "not a valid version"),
        ({"iot_class": "local"}, "iot_class"),
        ({"colour": "red"}, "unknown key"),
        ({"domain": "other"}, "folder"),
        ({"requirements": ["paho-mqtt>=2"]}, "not pinned"),
    ],
)
def test_the_manifest_check_finds(change: dict[str, Any], finding: str) -> None:
    problems = manifest_problems({**MANIFEST, **change}, INTEGRATION.name)
    assert any(finding in problem for problem in problems), problems


def test_the_manifest_check_finds_keys_out_of_order() -> None:
    reordered = {"domain": MANIFEST["domain"], **dict(reversed(list(MANIFEST.items())))}
    assert any("alphabetical" in p for p in manifest_problems(reordered, INTEGRATION.name))


# Translation files --------------------------------------------------------------------

# A key as hassfest wants it: lowercase letters, digits, `_` and `-`, without a separator
# at either end or two in a row.
TRANSLATION_KEY = re.compile(r"[a-z0-9]+(?:[-_][a-z0-9]+)*")
# Addresses with a scheme, or starting with www.: hassfest's own list of schemes and ours.
URL = re.compile(
    r"\b(?:(?:https?|ftps?|scp|mqtts?|wss?|tcp|tls|socket|socks5)://|www\.)[a-z0-9]",
    re.IGNORECASE,
)
QUOTED_PLACEHOLDER = re.compile(r"'\{\w+\}'")
REFERENCE = re.compile(r"\[%key:[^%]+%\]")
TOP_LEVEL = {
    "application_credentials",
    "common",
    "conditions",
    "config",
    "config_panel",
    "config_subentries",
    "conversation",
    "device",
    "device_automation",
    "entity",
    "entity_component",
    "exceptions",
    "issues",
    "options",
    "preview_features",
    "selector",
    "services",
    "system_health",
    "title",
    "triggers",
}
FLOW_KEYS = {"abort", "create_entry", "error", "flow_title", "initiate_flow", "progress", "step"}
STEP_KEYS = {
    "data",
    "data_description",
    "description",
    "menu_option_descriptions",
    "menu_options",
    "sections",
    "submit",
    "title",
}
SECTION_KEYS = {"data", "data_description", "description", "name"}


def placeholder_names(text: str) -> list[str]:
    return sorted({field for _, field, _, _ in string.Formatter().parse(text) if field is not None})


def value_problems(where: str, text: Any, *, placeholders: bool = True) -> list[str]:
    """What hassfest refuses in a translated string."""
    if not isinstance(text, str):
        return [f"{where}: not a string"]
    problems = []
    try:
        cv.string_with_no_html(text)
    except vol.Invalid:
        problems.append(f"{where}: HTML")
    if text != text.strip():
        problems.append(f"{where}: leading or trailing spaces")
    if URL.search(text):
        problems.append(f"{where}: a URL; give it as a description placeholder instead")
    if QUOTED_PLACEHOLDER.search(text):
        problems.append(f"{where}: a placeholder in single quotes")
    if REFERENCE.search(text) and REFERENCE.fullmatch(text) is None:
        problems.append(f"{where}: a reference combined with text")
    try:
        names = placeholder_names(text)
    except ValueError:
        return [*problems, f"{where}: a lone brace"]
    if names and not placeholders:
        problems.append(f"{where}: placeholders are not allowed here")
    problems += [f"{where}: placeholder {{{name}}}" for name in names if not name.isidentifier()]
    return problems


def key_problems(where: str, keys: Any, *, slug: bool = False) -> list[str]:
    pattern = re.compile(r"[a-z0-9_]+") if slug else TRANSLATION_KEY
    return [f"{where}: key {key!r}" for key in keys if not pattern.fullmatch(key)]


def strings_of(where: str, mapping: Any, *, placeholders: bool = True) -> list[str]:
    if not isinstance(mapping, dict):
        return [f"{where}: not an object"]
    return [
        problem
        for key, text in mapping.items()
        for problem in value_problems(f"{where}.{key}", text, placeholders=placeholders)
    ]


def flow_problems(where: str, flow: dict[str, Any]) -> list[str]:
    problems = [f"{where}: unknown {key!r}" for key in flow if key not in FLOW_KEYS]
    for section in ("error", "abort", "progress", "create_entry"):
        problems += strings_of(f"{where}.{section}", flow.get(section, {}))
    for step_id, step in flow.get("step", {}).items():
        at = f"{where}.step.{step_id}"
        problems += [f"{at}: unknown {key!r}" for key in step if key not in STEP_KEYS]
        for key in ("title", "description", "submit"):
            if key in step:
                problems += value_problems(f"{at}.{key}", step[key])
        for key in ("data", "data_description", "menu_options", "menu_option_descriptions"):
            problems += strings_of(f"{at}.{key}", step.get(key, {}))
        problems += [
            f"{at}.data_description.{field}: no such field in data"
            for field in step.get("data_description", {})
            if field not in step.get("data", {})
        ]
        for name, section in step.get("sections", {}).items():
            inner = f"{at}.sections.{name}"
            problems += [f"{inner}: unknown {k!r}" for k in section if k not in SECTION_KEYS]
            for key in ("name", "description"):
                if key in section:
                    problems += value_problems(f"{inner}.{key}", section[key])
            problems += strings_of(f"{inner}.data", section.get("data", {}))
            problems += strings_of(f"{inner}.data_description", section.get("data_description", {}))
            problems += [
                f"{inner}.data_description.{field}: no such field in data"
                for field in section.get("data_description", {})
                if field not in section.get("data", {})
            ]
    return problems


def entity_problems(entity: dict[str, Any]) -> list[str]:
    problems = key_problems("entity", entity, slug=True)
    for platform, keys in entity.items():
        problems += key_problems(f"entity.{platform}", keys)
        for key, texts in keys.items():
            at = f"entity.{platform}.{key}"
            problems += [
                f"{at}: unknown {k!r}"
                for k in texts
                if k not in {"name", "state", "state_attributes", "unit_of_measurement"}
            ]
            if "name" in texts:
                problems += value_problems(f"{at}.name", texts["name"])
            if "unit_of_measurement" in texts:
                unit = texts["unit_of_measurement"]
                problems += value_problems(f"{at}.unit_of_measurement", unit, placeholders=False)
            problems += key_problems(f"{at}.state", texts.get("state", {}))
            problems += strings_of(f"{at}.state", texts.get("state", {}), placeholders=False)
            attributes = texts.get("state_attributes", {})
            problems += key_problems(f"{at}.state_attributes", attributes)
            for attribute, attribute_texts in attributes.items():
                inner = f"{at}.state_attributes.{attribute}"
                if "name" in attribute_texts:
                    name = attribute_texts["name"]
                    problems += value_problems(f"{inner}.name", name, placeholders=False)
                states = attribute_texts.get("state", {})
                problems += key_problems(f"{inner}.state", states)
                problems += strings_of(f"{inner}.state", states, placeholders=False)
    return problems


def translation_problems(doc: dict[str, Any]) -> list[str]:
    """Check a translation file the way hassfest checks en.json."""
    problems = [f"unknown top-level key {key!r}" for key in doc if key not in TOP_LEVEL]
    for flow in ("config", "options"):
        if flow in doc:
            problems += flow_problems(flow, doc[flow])
    problems += entity_problems(doc.get("entity", {}))
    devices = doc.get("device", {})
    problems += key_problems("device", devices)
    for key, texts in devices.items():
        problems += strings_of(f"device.{key}", texts)
    exceptions = doc.get("exceptions", {})
    problems += key_problems("exceptions", exceptions, slug=True)
    for key, texts in exceptions.items():
        problems += strings_of(f"exceptions.{key}", texts)
    for key, issue in doc.get("issues", {}).items():
        if "title" not in issue or not ({"description", "fix_flow"} & issue.keys()):
            problems.append(f"issues.{key}: needs a title and a description or fix flow")
        problems += strings_of(f"issues.{key}", {k: v for k, v in issue.items() if k != "fix_flow"})
    selectors = doc.get("selector", {})
    problems += key_problems("selector", selectors, slug=True)
    for key, selector in selectors.items():
        options = selector.get("options", {})
        problems += key_problems(f"selector.{key}.options", options)
        problems += strings_of(f"selector.{key}.options", options)
    for key, texts in doc.get("device_automation", {}).items():
        problems += strings_of(f"device_automation.{key}", texts)
    return problems


@pytest.mark.parametrize("language", LANGUAGES)
def test_translation_file_passes_hassfest_rules(language: str) -> None:
    assert translation_problems(translations(language)) == []


def leaves(tree: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in tree.items():
        if isinstance(value, dict):
            yield from leaves(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


@pytest.mark.parametrize("language", [lang for lang in LANGUAGES if lang != "en"])
def test_placeholders_are_named_as_in_english(language: str) -> None:
    english = dict(leaves(translations("en")))
    differ = {
        key: (placeholder_names(english[key]), placeholder_names(text))
        for key, text in leaves(translations(language))
        if key in english and placeholder_names(english[key]) != placeholder_names(text)
    }
    assert differ == {}


@pytest.mark.parametrize(
    ("path", "text", "finding"),
    [
        (("config", "error", "invalid_server_url"), "Try mqtts://blynk.cloud:8883", "a URL"),
        (("config", "step", "blynk", "description"), "See https://blynk.io", "a URL"),
        (("issues", "token_conflict", "description"), "Visit www.blynk.io.", "a URL"),
        (("config", "error", "invalid_topic"), "No <b>wildcards</b>", "HTML"),
        (("config", "abort", "reauth_successful"), "Done ", "trailing spaces"),
        (("config", "error", "invalid_auth"), "'{host}' refused", "single quotes"),
        (("config", "error", "invalid_auth"), "{host name} refused", "placeholder"),
        (("config", "error", "invalid_auth"), "{host refused", "lone brace"),
        (("entity", "sensor", "table_call", "state", "idle"), "Idle at {table}", "placeholders"),
        (("exceptions", "bell_cannot_connect", "message"), "[%key:a%] and more", "reference"),
    ],
)
def test_the_translation_check_finds(path: tuple[str, ...], text: str, finding: str) -> None:
    doc = translations("en")
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = text
    problems = translation_problems(doc)
    assert any(finding in problem for problem in problems), problems


@pytest.mark.parametrize(
    ("section", "bad"),
    [
        ("entity", {"sensor": {"Table_Call": {"name": "Call"}}}),
        ("entity", {"sensor": {"table__call": {"name": "Call"}}}),
        ("entity", {"sensor": {"table_call": {"state": {"_idle": "Idle"}}}}),
        ("device", {"blynk-heater-": {"name": "Heater"}}),
        ("exceptions", {"bell-offline": {"message": "Offline"}}),
        ("selector", {"signing": {"options": {"New Key": "New key"}}}),
        ("colours", {}),
    ],
)
def test_the_translation_check_finds_bad_keys(section: str, bad: dict[str, Any]) -> None:
    problems = translation_problems({**translations("en"), section: bad})
    assert problems != []


def test_the_translation_check_finds_a_description_of_no_field() -> None:
    doc = translations("en")
    doc["config"]["step"]["blynk"]["data_description"]["colour"] = "Red or blue."
    assert any("no such field" in p for p in translation_problems(doc))


# Icons --------------------------------------------------------------------------------

ICON = re.compile(r"mdi:[a-z0-9]+(?:-[a-z0-9]+)*")


def icon_problems(where: str, icon: Any) -> list[str]:
    if not isinstance(icon, str) or not ICON.fullmatch(icon):
        return [f"{where}: {icon!r} is not an mdi: icon"]
    return []


def icon_set_problems(where: str, icons: dict[str, Any]) -> list[str]:
    problems = [
        f"{where}: unknown {key!r}"
        for key in icons
        if key not in {"default", "state", "range", "state_attributes"}
    ]
    if "default" in icons:
        problems += icon_problems(f"{where}.default", icons["default"])
    states = icons.get("state", {})
    problems += key_problems(f"{where}.state", states)
    for state, icon in states.items():
        problems += icon_problems(f"{where}.state.{state}", icon)
        if icon == icons.get("default"):
            problems.append(f"{where}.state.{state}: the same as the default icon")
    limits: list[float] = []
    for limit, icon in icons.get("range", {}).items():
        problems += icon_problems(f"{where}.range.{limit}", icon)
        try:
            limits.append(float(limit))
        except ValueError:
            problems.append(f"{where}.range: {limit!r} is not a number")
    if limits != sorted(limits):
        problems.append(f"{where}.range: the limits must go up")
    if icons.get("range") and "default" not in icons:
        problems.append(f"{where}: range icons need a default, for values below them")
    for attribute, attribute_icons in icons.get("state_attributes", {}).items():
        problems += icon_set_problems(f"{where}.state_attributes.{attribute}", attribute_icons)
    return problems


def icons_problems(doc: dict[str, Any]) -> list[str]:
    """Check icons.json against hassfest's schema for an integration of entities."""
    problems = [
        f"unknown top-level key {key!r}"
        for key in doc
        if key not in {"entity", "services", "config", "options", "issues"}
    ]
    entity = doc.get("entity", {})
    problems += key_problems("entity", entity, slug=True)
    for platform, keys in entity.items():
        problems += key_problems(f"entity.{platform}", keys)
        for key, icons in keys.items():
            problems += icon_set_problems(f"entity.{platform}.{key}", icons)
    return problems


ICONS = load_json(INTEGRATION / "icons.json")


def test_icons_pass_hassfest_rules() -> None:
    assert icons_problems(ICONS) == []


@pytest.mark.parametrize(
    "bad",
    [
        {"sensor": {"calls_today": {"default": "counter"}}},
        {"sensor": {"calls_today": {"default": "mdi:counter", "state": {"x": "mdi:counter"}}}},
        {
            "sensor": {
                "wifi_signal": {"default": "mdi:wifi", "range": {"-50": "mdi:a", "-90": "mdi:b"}}
            }
        },
        {"sensor": {"wifi_signal": {"default": "mdi:wifi", "range": {"weak": "mdi:a"}}}},
        {"sensor": {"calls_today": {"icon": "mdi:counter"}}},
        {"Sensor": {"calls_today": {"default": "mdi:counter"}}},
    ],
)
def test_the_icons_check_finds(bad: dict[str, Any]) -> None:
    assert icons_problems({"entity": bad}) != []


def test_every_entity_has_an_icon_and_every_icon_an_entity() -> None:
    """icon-translations: each translation key of an entity has its icon, and no icon is stale."""
    named = {(p, key) for p, keys in translations("en")["entity"].items() for key in keys}
    with_icon = {(p, key) for p, keys in ICONS["entity"].items() for key in keys}
    assert named - with_icon == set(), "entities without an icon"
    assert with_icon - named == set(), "icons of no entity"


# The code -----------------------------------------------------------------------------

MODULES = sorted(INTEGRATION.rglob("*.py"))


def module(path: Path) -> ast.Module:
    return ast.parse(path.read_text("utf-8"), str(path))


@pytest.mark.parametrize(
    "platform",
    [p.value for p in Platform if (INTEGRATION / f"{p.value}.py").is_file()],
)
def test_every_platform_sets_parallel_updates(platform: str) -> None:
    """parallel-updates, as hassfest's quality scale validator checks it."""
    tree = module(INTEGRATION / f"{platform}.py")
    assigned = {
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    assert "PARALLEL_UPDATES" in assigned


# The exceptions Home Assistant shows a user, which must be translatable.
SHOWN_EXCEPTIONS = {
    "ConfigEntryAuthFailed",
    "ConfigEntryError",
    "ConfigEntryNotReady",
    "HomeAssistantError",
    "InvalidDeviceAutomationConfig",
    "ServiceNotSupported",
    "ServiceValidationError",
}


def raised(path: Path) -> Iterator[tuple[int, str, dict[str, ast.expr]]]:
    for node in ast.walk(module(path)):
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
            func = node.exc.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            yield node.lineno, name, {kw.arg: kw.value for kw in node.exc.keywords if kw.arg}


def test_every_raised_exception_is_translated() -> None:
    """exception-translations: what a user sees is raised with a translation key we have."""
    keys = set(translations("en")["exceptions"])
    found = []
    for path in MODULES:
        for line, name, keywords in raised(path):
            if name not in SHOWN_EXCEPTIONS:
                continue
            where = f"{path.relative_to(INTEGRATION)}:{line} {name}"
            key = keywords.get("translation_key")
            domain = keywords.get("translation_domain")
            assert key is not None, f"{where} has no translation_key"
            assert domain is not None, f"{where} has no translation_domain"
            if isinstance(key, ast.Constant):
                assert key.value in keys, f"{where}: no exceptions.{key.value} in en.json"
            found.append(where)
    assert found, "the check found no raise at all"


def test_every_exception_translation_is_used() -> None:
    used = {
        keywords["translation_key"].value
        for path in MODULES
        for _, _, keywords in raised(path)
        if isinstance(keywords.get("translation_key"), ast.Constant)
    }
    assert set(translations("en")["exceptions"]) - used == set()


# The quality scale --------------------------------------------------------------------

# Home Assistant 2026.2's rules (script/hassfest/quality_scale.py), by tier. The
# developer documentation of the same time lists the same 52.
RULES = {
    "bronze": [
        "action-setup",
        "appropriate-polling",
        "brands",
        "common-modules",
        "config-flow",
        "config-flow-test-coverage",
        "dependency-transparency",
        "docs-actions",
        "docs-high-level-description",
        "docs-installation-instructions",
        "docs-removal-instructions",
        "entity-event-setup",
        "entity-unique-id",
        "has-entity-name",
        "runtime-data",
        "test-before-configure",
        "test-before-setup",
        "unique-config-entry",
    ],
    "silver": [
        "action-exceptions",
        "config-entry-unloading",
        "docs-configuration-parameters",
        "docs-installation-parameters",
        "entity-unavailable",
        "integration-owner",
        "log-when-unavailable",
        "parallel-updates",
        "reauthentication-flow",
        "test-coverage",
    ],
    "gold": [
        "devices",
        "diagnostics",
        "discovery",
        "discovery-update-info",
        "docs-data-update",
        "docs-examples",
        "docs-known-limitations",
        "docs-supported-devices",
        "docs-supported-functions",
        "docs-troubleshooting",
        "docs-use-cases",
        "dynamic-devices",
        "entity-category",
        "entity-device-class",
        "entity-disabled-by-default",
        "entity-translations",
        "exception-translations",
        "icon-translations",
        "reconfiguration-flow",
        "repair-issues",
        "stale-devices",
    ],
    "platinum": ["async-dependency", "inject-websession", "strict-typing"],
}
ALL_RULES = [rule for tier in RULES.values() for rule in tier]
SCALE: dict[str, Any] = yaml.safe_load((INTEGRATION / "quality_scale.yaml").read_text("utf-8"))


def test_the_quality_scale_has_every_rule_of_2026_2() -> None:
    assert len(ALL_RULES) == len(set(ALL_RULES)) == 52
    assert set(SCALE) == {"rules"}
    assert sorted(SCALE["rules"]) == sorted(ALL_RULES)


@pytest.mark.parametrize("rule", ALL_RULES)
def test_each_rule_is_done_or_exempt_and_says_why(rule: str) -> None:
    entry = SCALE["rules"][rule]
    assert isinstance(entry, dict), f"{rule}: give a status and a comment"
    assert set(entry) == {"status", "comment"}
    assert entry["status"] in {"done", "exempt"}, f"{rule}: {entry['status']}"
    assert isinstance(entry["comment"], str)
    assert entry["comment"].strip()


def readme_headings() -> list[str]:
    return [
        line.lstrip("#").strip()
        for line in README.read_text("utf-8").splitlines()
        if line.startswith("#")
    ]


@pytest.mark.parametrize("rule", [rule for rule in ALL_RULES if rule.startswith("docs-")])
def test_a_documentation_rule_names_readme_sections_that_exist(rule: str) -> None:
    comment = SCALE["rules"][rule]["comment"]
    sections = re.findall(r'"([^"]+)"', comment)
    headings = readme_headings()
    for section in sections:
        assert any(heading.startswith(section) for heading in headings), (
            f"{rule}: README has no section {section!r}"
        )
