"""The clip firmware's plain-Python core (firmware/tiltmon_fw) is not an installed package:
on the clip it sits at the root of the CIRCUITPY drive, so here firmware/ goes on the path."""

from __future__ import annotations

import sys
from pathlib import Path

FIRMWARE_DIR = Path(__file__).parents[2] / "firmware"
if str(FIRMWARE_DIR) not in sys.path:
    sys.path.append(str(FIRMWARE_DIR))  # appended: its code.py must not hide the stdlib module
