"""A recorder killed with SIGKILL loses at most the last two seconds, and the file replays."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from monitor.recording import Recording
from monitor.recording.summary import summarise_replay
from monitor.transport.items import Notification
from monitor.transport.replay import ReplayTransport

STREAM = [sys.executable, "-m", "monitor.cli", "stream", "--sim", "--rate", "200"]


@pytest.mark.slow
def test_sigkill_mid_session_loses_at_most_two_seconds(tmp_path: Path) -> None:
    path = tmp_path / "killed.tiltmon"
    proc = subprocess.Popen(
        [*STREAM, "--seconds", "30", "--record", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert "recording to" in proc.stdout.readline()
        # Wait for streaming to start (the "configured" line), then let it run a few seconds.
        deadline = time.monotonic() + 20
        while "configured" not in proc.stdout.readline():
            assert time.monotonic() < deadline, "the stream never started"
        time.sleep(3.5)
        killed_at = time.time()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL

    with Recording(path) as recording:
        assert not recording.info.complete
        assert recording.notices and "ended unexpectedly" in recording.notices[0]
        notes = [i for i in recording.items() if isinstance(i, Notification)]
    assert notes, "nothing was committed"
    assert notes[-1].received_at >= killed_at - 2.0
    assert len(notes) * 19 >= 2 * 200  # the seconds streamed before the kill are there


def kill_while_recording(path: Path) -> int:
    """Record a synthetic session in a child process that SIGKILLs itself before closing."""
    code = (
        "import os, signal, sys\n"
        "sys.path.insert(0, sys.argv[2])\n"
        "from pathlib import Path\n"
        "from recording_helpers import synthetic_items, write_session\n"
        "write_session(Path(sys.argv[1]), synthetic_items(10.0), close=False)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    here = str(Path(__file__).parent)
    return subprocess.run([sys.executable, "-c", code, str(path), here], check=False).returncode


async def test_a_killed_recording_replays_with_a_notice(tmp_path: Path) -> None:
    path = tmp_path / "killed.tiltmon"
    assert kill_while_recording(path) == -signal.SIGKILL
    async with ReplayTransport(path, speed=None) as replay:
        summary = await summarise_replay(replay)
    assert not summary.complete
    assert summary.samples >= 9 * 200 - 19 * 11  # all but the last uncommitted second at most
    assert summary.lost == 0 and summary.duplicates == 0
    assert any("ended unexpectedly" in n for n in summary.notices)
