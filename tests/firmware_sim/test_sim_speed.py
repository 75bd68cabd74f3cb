"""The simulated world's time runs fast for demos (``--sim-speed``), through the same BLE path."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from firmware_sim.sim_time import SimulationClock
from monitor.recording import read_info


class FakeMonotonic:
    """A hand-turned clock: the test says how much real time passes."""

    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_a_fast_clock_runs_speed_times_real_time_and_waits_for_a_slow_computer() -> None:
    real = FakeMonotonic()
    clock = SimulationClock(60.0, monotonic=real, wall=lambda: 1_000.0)
    real.t += 2.0
    assert clock.elapsed() == pytest.approx(120.0)
    assert clock.now() == pytest.approx(1_120.0)
    assert clock.wall_delay(30.0) == pytest.approx(0.5)
    clock.hold(0.5)  # the computer fell half a second behind: the world waits
    assert clock.elapsed() == pytest.approx(90.0)
    real.t += 1.0
    assert clock.elapsed() == pytest.approx(150.0)


def test_real_time_never_waits() -> None:
    real = FakeMonotonic()
    clock = SimulationClock(1.0, monotonic=real, wall=lambda: 0.0)
    real.t += 3.0
    clock.hold(1.0)  # a real sensor does not wait for its host
    assert clock.elapsed() == pytest.approx(3.0)


@pytest.mark.parametrize("speed", [0.0, -2.0, float("inf"), float("nan")])
def test_a_speed_must_be_a_positive_number(speed: float) -> None:
    with pytest.raises(ValueError, match="positive"):
        SimulationClock(speed)


def tiltmon(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.slow
def test_stream_at_20x_covers_twenty_times_the_sensor_time_without_loss(tmp_path: Path) -> None:
    out = tmp_path / "fast.tiltmon"
    result = tiltmon(
        "stream", "--sim", "standing", "--sim-speed", "20", "--seconds", "3", "--json",
        "--record", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    # 3 s of real time, less connecting: well over ten times that of the sensor's time (the
    # world waits when a busy computer cannot keep up, so not exactly 20x).
    assert summary["sensor_seconds"] > 25.0
    assert summary["configured_rate_hz"] == 25  # above 10x the simulator streams 25 Hz
    assert summary["lost"] == summary["gaps"] == summary["duplicates"] == 0
    in_flight = summary["firmware"]["samples_sent"] - summary["samples"]  # sent, not yet arrived
    assert 0 <= in_flight <= 25
    # The recording lives in the simulated time too: the sensor's span (and connecting), not 3 s.
    assert summary["sensor_seconds"] <= read_info(out).duration_s <= 20 * 3.0 + 5.0


@pytest.mark.slow
def test_a_real_time_stream_keeps_the_asked_rate() -> None:
    result = tiltmon("stream", "--sim", "standing", "--seconds", "2", "--json", "--no-record")
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["configured_rate_hz"] == 100
    assert summary["sensor_seconds"] < 3.0


@pytest.mark.slow
def test_at_60x_a_slump_gets_a_tilt_nudge_within_a_minute() -> None:
    result = tiltmon(
        "stream", "--sim", "slump", "--sim-speed", "60", "--seconds", "60", "--no-record"
    )
    assert result.returncode == 0, result.stderr
    assert "simulated time runs 60x real time (at 25 Hz of its time, not 100)" in result.stdout
    nudges = [line for line in result.stdout.splitlines() if "tilt nudge:" in line]
    assert nudges and "posterior tilt) for 20 minutes" in nudges[0], result.stdout[-2000:]
