"""firmware/tiltmon_fw runs under CircuitPython too: hold it to the language and library subset
CircuitPython has, and keep the board-only modules out of it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

FIRMWARE = Path(__file__).parents[2] / "firmware"
CORE = sorted((FIRMWARE / "tiltmon_fw").glob("*.py"))
BOARD_FILES = sorted(FIRMWARE.glob("*.py"))

# Modules CircuitPython ships on nRF52840 that the core may use.
ALLOWED_IMPORTS = {"struct", "math"}


def tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


@pytest.mark.parametrize("path", CORE, ids=lambda p: p.name)
def test_core_imports_only_what_circuitpython_has(path: Path) -> None:
    for node in ast.walk(tree(path)):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            assert top in ALLOWED_IMPORTS | {"tiltmon_fw"}, f"{path.name} imports {name}"


@pytest.mark.parametrize("path", CORE + BOARD_FILES, ids=lambda p: p.name)
def test_no_language_features_circuitpython_lacks(path: Path) -> None:
    for node in ast.walk(tree(path)):
        assert not isinstance(node, ast.JoinedStr), f"f-string in {path.name}:{node.lineno}"
        assert not isinstance(node, ast.Match), f"match in {path.name}"
        if isinstance(node, ast.ClassDef | ast.FunctionDef):
            for decorator in node.decorator_list:
                name = ast.unparse(decorator)
                assert "dataclass" not in name, f"dataclass in {path.name}"
        if isinstance(node, ast.ImportFrom):
            assert node.module != "__future__", f"__future__ import in {path.name}"
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            segment = ast.get_source_segment(path.read_text(), node) or ""
            assert "_" not in segment, f"underscore in a number literal in {path.name}"


def test_core_imports_under_a_bare_interpreter_without_the_project(tmp_path: Path) -> None:
    """Only the firmware folder on the path, like the CIRCUITPY drive: nothing else is needed."""
    import subprocess
    import sys

    code = (
        "import sys; sys.path[:] = [p for p in sys.path if 'site-packages' not in p];"
        f"sys.path.insert(0, {str(FIRMWARE)!r});"
        "import tiltmon_fw.control, tiltmon_fw.stream, tiltmon_fw.battery, tiltmon_fw.scaling;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in"
        " ('numpy', 'monitor', 'firmware_sim', 'typing_extensions', 'dataclasses')))"
    )
    out = subprocess.run(
        [sys.executable, "-S", "-c", code], check=True, capture_output=True, text=True, cwd=tmp_path
    )
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("path", BOARD_FILES, ids=lambda p: p.name)
def test_board_files_compile(path: Path) -> None:
    compile(path.read_text(), str(path), "exec")
