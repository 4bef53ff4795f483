"""Run firmware logic tests under MicroPython's WebAssembly build in Node.js."""

from __future__ import annotations

from dataclasses import dataclass
import json
from pathlib import Path
import re
import shutil
import subprocess

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
LOGIC = HERE / "logic"
RUNNER = HERE / "micropython_runner.mjs"
PACKAGE = HERE / "node_modules" / "@micropython" / "micropython-webassembly-pyscript"
INSTALL = "npm ci --prefix tests/firmware"
# About what a Pico W leaves to Python after the Wi-Fi stack: the firmware must fit.
HEAP_KIB = 192

_TEST = re.compile(r"^(?:async )?def (test_\w+)\(", re.MULTILINE)


@dataclass(frozen=True)
class Outcome:
    ok: bool
    error: str


def logic_modules() -> list[str]:
    return sorted(path.stem for path in LOGIC.glob("test_*.py"))


def logic_tests() -> list[tuple[str, str]]:
    """(module, test) pairs, read from the sources so pytest can parametrize."""
    return [
        (module, name)
        for module in logic_modules()
        for name in _TEST.findall((LOGIC / f"{module}.py").read_text())
    ]


def require_micropython() -> str:
    """Return node's path; skip when Node.js is missing, fail when the package is."""
    node = shutil.which("node")
    if node is None or shutil.which("npm") is None:
        pytest.skip("Node.js/npm not installed: cannot run the firmware under MicroPython")
    if not (PACKAGE / "micropython.mjs").exists():
        pytest.fail(f"MicroPython WebAssembly is not installed: run `{INSTALL}`")
    return node


def run_logic_tests(
    node: str, modules: list[str]
) -> tuple[str, dict[tuple[str, str], Outcome], str]:
    """Run the modules in one MicroPython; return (implementation, outcomes, output)."""
    process = subprocess.run(
        [node, str(RUNNER), str(REPO), str(HEAP_KIB), *modules],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=HERE,
    )
    output = process.stdout + process.stderr
    if process.returncode != 0 or "@@DONE" not in process.stdout:
        pytest.fail(f"the MicroPython runner failed ({process.returncode}):\n{output[-4000:]}")
    implementation = ""
    outcomes: dict[tuple[str, str], Outcome] = {}
    for line in process.stdout.splitlines():
        if line.startswith("@@IMPLEMENTATION "):
            implementation = " ".join(json.loads(line.split(" ", 1)[1]))
        elif line.startswith("@@RESULT "):
            result = json.loads(line.split(" ", 1)[1])
            outcomes[result["module"], result["test"]] = Outcome(result["ok"], result["error"])
    return implementation, outcomes, output


def heap_after(output: str, module: str) -> int:
    """Return the heap size after `module`'s tests (mem_info's "GC: total: N").

    The heap only grows, so that is the most the run needed up to that module.
    """
    match = re.search(rf"@@HEAP {module}\n.*?GC: total: (\d+)", output, re.DOTALL)
    assert match is not None, output[-2000:]
    return int(match.group(1))


def run_script(node: str, source: str, workdir: Path) -> str:
    """Run `source` under MicroPython (the firmware on its path); return what it printed."""
    script = workdir / "micropython_script.py"
    script.write_text(source)
    process = subprocess.run(
        [node, str(RUNNER), str(REPO), str(HEAP_KIB), "--script", str(script)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=HERE,
    )
    if process.returncode != 0:
        pytest.fail(f"the MicroPython script failed ({process.returncode}):\n{process.stderr}")
    return process.stdout
