"""Run ``tiltmon stream --sim --sim-model MODEL --seconds N --json`` as a user would."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any


def stream_summary(model: str, seconds: int = 30) -> dict[str, Any]:
    """The command's closing JSON line (it must exit 0)."""
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "monitor.cli",
            "stream",
            "--sim",
            "--sim-model",
            model,
            "--seconds",
            str(seconds),
            "--json",
            "--no-record",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    summary: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return summary
