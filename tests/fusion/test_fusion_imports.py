"""monitor.fusion is pure computation: importing it loads no I/O, UI, simulator or ahrs."""

from __future__ import annotations

import subprocess
import sys


def test_fusion_loads_no_io_ui_or_simulator() -> None:
    code = "import sys, monitor.fusion; print('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    top = {m.split(".")[0] for m in out.stdout.split()}
    # ahrs is only for the reference adapters, imported when one is built.
    for forbidden in ("asyncio", "bleak", "bumble", "textual", "firmware_sim", "ahrs"):
        assert forbidden not in top, forbidden
