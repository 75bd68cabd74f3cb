"""The import rules of docs/architecture.md, checked on the real modules in fresh interpreters."""

from __future__ import annotations

import subprocess
import sys

import pytest

PURE_CORE = [
    "monitor.codec",
    "monitor.stream",
    "monitor.clock",
    "monitor.sensors",
    "monitor.sensors.tiltmon",
    "monitor.sensors.witmotion",
    "monitor.sensors.polar",
    "monitor.sensors.movesense",
]


def loaded_after_import(module: str) -> set[str]:
    code = f"import sys, {module}; print('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return set(out.stdout.split())


@pytest.mark.parametrize("module", PURE_CORE)
def test_pure_core_loads_no_io_or_ui(module: str) -> None:
    loaded = loaded_after_import(module)
    for forbidden in ("bleak", "bumble", "textual", "asyncio", "firmware_sim"):
        assert forbidden not in loaded, f"{module} pulls in {forbidden}"


@pytest.mark.parametrize(
    "module",
    [
        "firmware_sim.peripheral",
        "firmware_sim.radio",
        "firmware_sim.protocol",
        "firmware_sim.witmotion",
        "firmware_sim.polar",
        "firmware_sim.movesense",
        "firmware_sim.models",
    ],
)
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
    from pathlib import Path

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
