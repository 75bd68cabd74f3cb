"""The import rules of docs/architecture.md, checked on the real modules in fresh interpreters."""

from __future__ import annotations

import ast
import functools
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Every protocol module is pure, and every simulated device stands alone: found, not listed, so
# a new protocol is checked without touching this file.
PROTOCOL_MODULES = sorted(
    f"monitor.sensors.{path.stem}"
    for path in (ROOT / "monitor" / "sensors").glob("*.py")
    if path.stem != "__init__"
)
PURE_CORE = ["monitor.codec", "monitor.stream", "monitor.clock", "monitor.sensors"]
PURE_CORE += PROTOCOL_MODULES
FIRMWARE_MODULES = [
    *sorted(
        f"firmware_sim.{path.stem}"
        for path in (ROOT / "firmware_sim").glob("*.py")
        if path.stem != "__init__"
    ),
    "firmware_sim.radio",
]


ENTRY_POINTS = [
    "monitor.transport",
    "monitor.transport.ble",
    "monitor.cli",
    "monitor.commands.dashboard",
    "monitor.live",
    "monitor.tui.app",
]


def _probe(module: str) -> set[str]:
    code = f"import sys, {module}; print('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return set(out.stdout.split())


@functools.cache
def _probed() -> dict[str, set[str]]:
    """Every module this file checks, each imported in a fresh interpreter, as many at once as
    there are cores (one at a time, they are most of this file's time)."""
    modules = sorted({*PURE_CORE, *FIRMWARE_MODULES, *ENTRY_POINTS})
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        return dict(zip(modules, pool.map(_probe, modules), strict=True))


def loaded_after_import(module: str) -> set[str]:
    """The modules loaded by importing ``module`` into a fresh interpreter."""
    return _probed()[module] if module in _probed() else _probe(module)


@pytest.mark.parametrize("module", PURE_CORE)
def test_pure_core_loads_no_io_or_ui(module: str) -> None:
    loaded = loaded_after_import(module)
    for forbidden in ("bleak", "bumble", "textual", "asyncio", "firmware_sim"):
        assert forbidden not in loaded, f"{module} pulls in {forbidden}"


@pytest.mark.parametrize("module", FIRMWARE_MODULES)
def test_firmware_sim_stands_alone(module: str) -> None:
    loaded = loaded_after_import(module)
    assert not {m for m in loaded if m.split(".")[0] in ("monitor", "calibration")}


def test_only_the_ble_transport_loads_bleak() -> None:
    assert "bleak" not in loaded_after_import("monitor.transport")
    assert "bleak" not in loaded_after_import("monitor.cli")
    assert "bleak" in loaded_after_import("monitor.transport.ble")


def test_only_the_ui_package_loads_textual() -> None:
    # The command line loads textual only once the dashboard opens (monitor.tui.app).
    assert "textual" not in loaded_after_import("monitor.cli")
    assert "textual" not in loaded_after_import("monitor.commands.dashboard")
    assert "textual" not in loaded_after_import("monitor.live")
    assert "textual" in loaded_after_import("monitor.tui.app")


def test_textual_is_imported_only_inside_monitor_tui() -> None:
    root = Path(__file__).resolve().parents[1]
    offenders = [
        str(path.relative_to(root))
        for package in ("monitor", "calibration", "firmware_sim")
        for path in (root / package).rglob("*.py")
        if "tui" not in path.relative_to(root).parts[:2]
        and any(
            line.lstrip().startswith(("import textual", "from textual"))
            for line in path.read_text(encoding="utf-8").splitlines()
        )
    ]
    assert offenders == []


def _imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at any depth (function-level imports too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_the_dashboard_never_imports_the_command_line() -> None:
    """monitor.tui gets its session from monitor.session, never from monitor.commands/cli."""
    root = Path(__file__).resolve().parents[1]
    offenders = sorted(
        f"{path.relative_to(root)} imports {module}"
        for path in (root / "monitor" / "tui").rglob("*.py")
        for module in _imported_modules(path)
        if module in ("monitor.cli", "monitor.commands") or module.startswith("monitor.commands.")
    )
    assert offenders == []
    loaded = loaded_after_import("monitor.tui.app")
    assert not {m for m in loaded if m == "monitor.cli" or m.startswith("monitor.commands")}
