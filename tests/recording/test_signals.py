"""SIGTERM and SIGHUP end ``tiltmon stream`` as Ctrl-C does: end marker, one file, a summary.

A real ``tiltmon stream`` process with the simulated sensor, recording, is sent the signal once
its recording holds data.
"""

from __future__ import annotations

import contextlib
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


SLOW = pytest.mark.slow  # SIGHUP takes the same path as SIGTERM: the whole suite runs both


@pytest.mark.parametrize("signum", [signal.SIGTERM, pytest.param(signal.SIGHUP, marks=SLOW)])
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


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, pytest.param(signal.SIGHUP, marks=SLOW)])
def test_a_signal_quits_the_dashboard_as_its_quit_key_does(
    tmp_path: Path, signum: signal.Signals
) -> None:
    import pty
    import select

    path = tmp_path / "d.tiltmon"
    # A returning user (the guide seen): a first run would wait in the pairing step first.
    config = tmp_path / "config"
    config.mkdir()
    (config / "guide_seen").touch()
    pid, fd = pty.fork()  # the dashboard needs a terminal
    if pid == 0:  # the child: becomes the dashboard
        os.environ["TERM"] = "xterm-256color"
        os.environ["TILTMON_CONFIG_DIR"] = str(config)
        argv = ["-m", "monitor.cli", "--sim", "--no-notify", "--record", str(path)]
        os.execv(sys.executable, [sys.executable, *argv])
    screen = b""

    def read_for(seconds: float, until: bytes | None = None) -> None:
        nonlocal screen
        end = time.monotonic() + seconds
        while time.monotonic() < end and (until is None or until not in screen):
            ready, _, _ = select.select([fd], [], [], 0.2)
            if ready:
                try:
                    screen += os.read(fd, 1 << 16)
                except OSError:  # the child closed the terminal
                    return

    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            read_for(0.5)
            if path.exists() and read_info(path).samples > 0:
                break
        os.kill(pid, signum)
        read_for(30, until=b"recorded to")
        _, status = os.waitpid(pid, 0)
    finally:
        with contextlib.suppress(ProcessLookupError, ChildProcessError):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0
    assert f"recorded to {path}".encode() in screen
    info = read_info(path)
    assert info.complete and info.samples > 0
    assert not Path(f"{path}-wal").exists()
