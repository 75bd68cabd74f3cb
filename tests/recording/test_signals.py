"""SIGTERM and SIGHUP end ``tiltmon stream`` as Ctrl-C does: end marker, one file, a summary.

A real ``tiltmon stream`` process with the simulated sensor, recording, is sent the signal once
its recording holds data.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from monitor.recording import read_info
from monitor.recording.reader import Recording


def wait_for_samples(path: Path, process: subprocess.Popen[str], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        if path.exists():
            try:
                if read_info(path).samples > 0:
                    return
            except Exception:  # the file is being created
                pass
        time.sleep(0.2)
    raise AssertionError("the stream never recorded a sample")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_signal_closes_the_recording_and_prints_the_summary(
    tmp_path: Path, signum: signal.Signals
) -> None:
    path = tmp_path / "s.tiltmon"
    process = subprocess.Popen(
        [sys.executable, "-m", "monitor.cli", "stream", "--sim", "--json", "--record", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for_samples(path, process)
        time.sleep(1.5)  # past a commit
        os.kill(process.pid, signum)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 128 + signum, err
    assert "Traceback" not in err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["recording"] == str(path)
    assert summary["samples"] > 0
    info = read_info(path)
    assert info.complete  # the end marker
    assert not Path(f"{path}-wal").exists()  # the log folded back: one file
    with Recording(path) as recording:
        assert recording.notices == []
    # Nothing the summary counted is missing from the file (a packet's worth of slack).
    assert info.samples >= summary["samples"]
    assert info.samples - summary["samples"] <= 32
