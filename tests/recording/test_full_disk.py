"""A full disk does not end ``tiltmon stream``: monitoring goes on, the recording is retried.

Each test runs the real command on a small tmpfs mounted in a private mount namespace (root and
``unshare`` needed; skipped otherwise), filled up while the stream runs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

READ_BACK = """
import json, sys
from monitor.recording.reader import Recording
with Recording(sys.argv[1]) as r:
    items = sum(1 for _ in r.items())
    info = {"complete": r.info.complete, "samples": r.info.samples, "items": items}
    print("INFO " + json.dumps(info))
"""


def _can_mount() -> bool:
    if shutil.which("unshare") is None or os.geteuid() != 0:
        return False
    probe = ["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=16k none /mnt"]
    return subprocess.run(probe, capture_output=True).returncode == 0


pytestmark = pytest.mark.skipif(not _can_mount(), reason="needs root and unshare for a tmpfs")


def stream_on_a_filling_disk(disk: Path, *, free_after_s: float | None) -> tuple[int, str, str]:
    """Stream 12 s, recording to a 1 MB disk with 124 kB free; maybe free it after a while."""
    disk.mkdir()
    python = sys.executable
    session = disk / "s.tiltmon"
    free = f"(sleep {free_after_s}; rm '{disk}/filler') &" if free_after_s is not None else ""
    script = f"""
mount -t tmpfs -o size=1m none '{disk}' || exit 99
head -c 900k /dev/zero > '{disk}/filler'
{free}
'{python}' -m monitor.cli stream --sim --seconds 12 --json --record '{session}'
echo "RC=$?"
'{python}' -c '{READ_BACK}' '{session}'
"""
    result = subprocess.run(
        ["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, timeout=120
    )
    rc = int(result.stdout.split("RC=")[1].split()[0])
    return rc, result.stdout, result.stderr


def summary_and_file(stdout: str) -> tuple[dict[str, float], dict[str, object]]:
    summary = json.loads(stdout.split("RC=")[0].strip().splitlines()[-1])
    info = json.loads(stdout.split("INFO ", 1)[1].splitlines()[0])
    return summary, info


@pytest.mark.slow
def test_recording_resumes_when_space_returns_and_loses_nothing(tmp_path: Path) -> None:
    rc, out, err = stream_on_a_filling_disk(tmp_path / "disk", free_after_s=6)
    assert rc == 0, err
    assert "Traceback" not in err
    assert "disk is full; monitoring goes on" in err
    assert "recording resumed" in err
    summary, info = summary_and_file(out)
    assert summary["sensor_seconds"] > 11  # the stream ran its whole time
    assert info["complete"]
    assert info["samples"] >= summary["samples"]  # what waited in memory reached the file


@pytest.mark.slow
def test_a_disk_that_stays_full_ends_in_one_line_after_the_whole_stream(tmp_path: Path) -> None:
    rc, out, err = stream_on_a_filling_disk(tmp_path / "disk", free_after_s=None)
    assert rc == 1
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].endswith("database or disk is full")
    summary, info = summary_and_file(out)
    assert summary["sensor_seconds"] > 11  # monitoring (and nudging) went on to the end
    assert 0 < int(info["samples"]) < summary["samples"]  # what fits was kept
