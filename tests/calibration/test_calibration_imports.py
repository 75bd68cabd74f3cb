"""calibration stands alone: numpy only, never monitor or firmware_sim (docs/architecture.md)."""

from __future__ import annotations

import subprocess
import sys


def test_calibration_imports_neither_monitor_nor_the_simulator() -> None:
    code = "import sys, calibration; print('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    roots = {name.split(".")[0] for name in out.stdout.split()}
    assert not roots & {"monitor", "firmware_sim", "bleak", "bumble", "textual", "asyncio", "vqf"}
