"""A full disk while the dashboard records: the link bar says so, monitoring goes on, and the
warning clears when space returns.

The dashboard runs in its Textual pilot on the simulated sensor (bleak over the virtual radio),
recording to a small tmpfs that fills up; that needs a private mount namespace, so the pilot
runs in a child process under ``unshare -m`` (root only; skipped otherwise), as in
tests/recording/test_full_disk.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PILOT = r"""
import asyncio, json, os, sys, time
from monitor.recording import RecordingTransport, SessionRecorder
from monitor.transport import open_transport
from monitor.tui.app import DashboardApp
from monitor.session import Session
from monitor.tui.widgets.link_bar import LinkBar

disk = sys.argv[1]

async def wait_for(pilot, app, check, seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        await pilot.pause(0.2)
        text = app.query_one(LinkBar).render().plain
        if check(text):
            return text
    raise SystemExit("timed out; link bar: " + app.query_one(LinkBar).render().plain)

async def main():
    recorder = SessionRecorder(os.path.join(disk, "s.tiltmon"), transport="sim:desk_short")
    transport = RecordingTransport(open_transport("sim:desk_short"), recorder)
    app = DashboardApp(Session(transport, label="sim", recorder=recorder), bell=False, blink=False)
    async with app.run_test(size=(160, 40)) as pilot:
        shown = await wait_for(pilot, app, lambda t: "Recording paused" in t, 60)
        samples = app.state.live.assembler.stats.samples
        await pilot.pause(2.0)
        print("SHOWN " + json.dumps({
            "text": shown,
            "streaming": app.state.live.link.streaming,
            "samples_grew": app.state.live.assembler.stats.samples > samples,
        }), flush=True)
        os.remove(os.path.join(disk, "filler"))
        cleared = await wait_for(pilot, app, lambda t: "Recording paused" not in t, 10)
        print("CLEARED " + json.dumps({"text": cleared}), flush=True)
        await app.action_quit()
    print("LOST " + str(recorder.packets_lost), flush=True)

asyncio.run(main())
"""


def _can_mount() -> bool:
    if shutil.which("unshare") is None or os.geteuid() != 0:
        return False
    probe = ["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=16k none /mnt"]
    return subprocess.run(probe, capture_output=True).returncode == 0


@pytest.mark.slow
@pytest.mark.skipif(not _can_mount(), reason="needs root and unshare for a tmpfs")
def test_the_link_bar_warns_while_the_disk_is_full_and_clears_after(tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    script = tmp_path / "pilot.py"
    script.write_text(PILOT)
    shell = f"""
mount -t tmpfs -o size=1m none '{disk}' || exit 99
head -c 900k /dev/zero > '{disk}/filler'
exec '{sys.executable}' '{script}' '{disk}'
"""
    result = subprocess.run(
        ["unshare", "-m", "sh", "-c", shell], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    shown = json.loads(result.stdout.split("SHOWN ", 1)[1].splitlines()[0])
    assert "Recording paused: disk full; monitoring and nudges go on" in shown["text"]
    assert shown["streaming"] and shown["samples_grew"]  # the dashboard kept monitoring
    cleared = json.loads(result.stdout.split("CLEARED ", 1)[1].splitlines()[0])
    assert "●" in cleared["text"]  # back to the plain link line
    assert result.stdout.split("LOST ", 1)[1].split()[0] == "0"  # what waited was written
    assert "disk is full; monitoring goes on" in result.stderr  # and the log said so
