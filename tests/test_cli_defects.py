"""Small defects of the command line a desk user met (issue 12), each through the real command."""

from __future__ import annotations

import io
import math
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np

from monitor.commands.stream import StatusLine
from monitor.live import live_pipeline
from monitor.pipeline import PipelineStep
from monitor.tilt_pipeline import TiltSamples
from monitor.transport.items import Notification


def tiltmon(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor.cli", *args], capture_output=True, text=True, timeout=120
    )


def test_a_command_after_sim_is_refused_with_the_right_order() -> None:
    result = tiltmon("--sim", "stream")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "tiltmon: 'stream' is a command, not a scenario: name the command first,"
        " `tiltmon stream --sim`"
    )


def test_an_unreachable_radio_names_the_cause_not_an_internal_object() -> None:
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = tiltmon(
        "stream", "--seconds", "1", "--no-record", "--radio", f"tcp-client:127.0.0.1:{port}"
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"tiltmon: the virtual radio tcp-client:127.0.0.1:{port} does not answer"
        " (connection refused); is `tiltmon sim` running?"
    )


def test_replay_help_states_both_default_speeds() -> None:
    text = " ".join(tiltmon("replay", "--help").stdout.split())
    assert "default: 10 on the dashboard, max with --headless" in text


def test_the_status_line_shows_the_mean_angle_over_the_second_not_one_reading() -> None:
    # A stride sways the pelvis ±3° about -0.2°; packets of 50 samples at 100 Hz end at the
    # same phase of a 0.5 s step, so the last reading of each second is always the trough.
    live = live_pipeline()
    status = StatusLine(live, io.StringIO())
    t = np.arange(100) / 100.0
    frontal = -0.2 - 3.0 * np.cos(2 * math.pi * 2.0 * (t + 0.01))
    sagittal = np.full(100, 4.0)
    for start in (0, 50):
        part = slice(start, start + 50)
        tilt = TiltSamples(sagittal[part], frontal[part], np.zeros((50, 4)))
        status.on_step(PipelineStep(item=Notification(0.0, b""), tilt=tilt))
    assert frontal[49] == frontal[99] == -3.2  # one reading a second: the trough every line
    line = status.render()
    assert "sagittal +4.0° frontal -0.2°" in line, line


def test_replaying_a_file_that_is_no_recording_is_one_line_before_any_screen(
    tmp_path: Path,
) -> None:
    not_a_recording = tmp_path / "day.csv"
    not_a_recording.write_text("t,ax,ay,az\n0,0,0,9.81\n")
    result = tiltmon("replay", str(not_a_recording))
    assert result.returncode == 1
    assert result.stderr.strip() == f"tiltmon: {not_a_recording} is not a tiltmon recording"
    assert result.stdout == ""  # the dashboard never drew a frame
    assert not_a_recording.read_text() == "t,ax,ay,az\n0,0,0,9.81\n"
