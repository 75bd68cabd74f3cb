"""The virtual radio's HCI transport goes away under `tiltmon stream`: reopen it, or say so.

Real processes: `tiltmon sim --port P` serves the sensor on loopback; `tiltmon stream --radio
tcp-client:127.0.0.1:P` reaches it through bleak on the virtual radio. Killing the sim process
takes the HCI transport away, which is what unplugging a Bluetooth dongle does to BlueZ.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from monitor.recording.reader import Recording
from monitor.transport.items import LinkEvent, LinkEventKind, Notification


def _start_sim(port: int = 0) -> tuple[subprocess.Popen[str], int]:
    """`tiltmon sim` on ``port`` (0: a free one, which the kernel picks and the sim prints)."""
    sim = subprocess.Popen(
        # Version 1 (open link): a restarted sim would have lost a bond (tests/firmware_sim).
        [sys.executable, "-m", "monitor.cli", "sim", "--port", str(port), "--open-link"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # bumble's warnings would fill an unread pipe
        text=True,
    )
    assert sim.stdout is not None
    first = sim.stdout.readline()  # printed once the link is served
    assert "tcp-client:127.0.0.1:" in first, first
    return sim, int(first.split("tcp-client:127.0.0.1:")[1].split(")")[0].split()[0])


def _kill(process: subprocess.Popen[str]) -> None:
    process.kill()
    process.communicate(timeout=10)


def _stream(port: int, seconds: float, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "monitor.cli",
            "stream",
            "--radio",
            f"tcp-client:127.0.0.1:{port}",
            "--seconds",
            str(seconds),
            "--json",
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
def test_a_sensor_process_restarted_on_the_same_port_is_streamed_again(tmp_path: Path) -> None:
    path = tmp_path / "session.tiltmon"
    sim, port = _start_sim()
    stream = _stream(port, 25, "--record", str(path), "--adapter-timeout", "30")
    try:
        time.sleep(6)  # connected and streaming
        _kill(sim)
        time.sleep(3)  # the transport stays away a while
        sim, _ = _start_sim(port)  # the same port, as a restarted service would
        out, err = stream.communicate(timeout=90)
    finally:
        if stream.poll() is None:
            stream.kill()
        _kill(sim)
    assert stream.returncode == 0, err[-2000:]
    assert "Traceback" not in err
    assert "the Bluetooth adapter went away" in err  # said in the log...
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["adapter_losses"] == 1  # ... and counted
    assert summary["adapter_reopens"] == 1
    assert summary["reconnects"] >= 1
    assert summary["duplicates"] == 0

    with Recording(path) as recording:
        items = list(recording.items())
    kinds = [i.kind for i in items if isinstance(i, LinkEvent)]
    assert kinds.index(LinkEventKind.ADAPTER_LOST) < kinds.index(LinkEventKind.ADAPTER_BACK)
    back = next(
        k
        for k, i in enumerate(items)
        if isinstance(i, LinkEvent) and i.kind is LinkEventKind.ADAPTER_BACK
    )
    after = [i for i in items[back:] if isinstance(i, Notification)]
    # Samples flow again after the reopen: several seconds of 100 Hz in 19-sample packets.
    assert len(after) * 19 > 500, len(after)

    replayed = subprocess.run(
        [sys.executable, "-m", "monitor.cli", "replay", str(path), "--headless", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert replayed.returncode == 0, replayed.stderr[-2000:]
    again = json.loads(replayed.stdout.strip().splitlines()[-1])
    # The recording holds what was streamed, no sample twice.
    assert again["samples"] == summary["samples"]
    assert again["duplicates"] == 0


@pytest.mark.slow
def test_a_transport_that_never_comes_back_ends_in_one_line_and_exit_1() -> None:
    sim, port = _start_sim()
    stream = _stream(port, 120, "--no-record", "--adapter-timeout", "4")
    try:
        time.sleep(6)
        _kill(sim)
        killed = time.monotonic()
        out, err = stream.communicate(timeout=60)
        took = time.monotonic() - killed
    finally:
        if stream.poll() is None:
            stream.kill()
    assert stream.returncode == 1, err[-2000:]
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("tiltmon: the Bluetooth adapter went away"), last
    assert "did not come back" in last
    # The watchdog notices within its 3 s, then 4 s of reopening; a loaded machine adds some.
    assert took < 20, took
    summary = json.loads(out.strip().splitlines()[-1])  # what was streamed is still accounted
    assert summary["samples"] > 0 and summary["adapter_losses"] == 1
