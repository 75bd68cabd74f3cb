"""``tiltmon analyze`` on CSV files written from the simulator, run as the real command."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from firmware_sim.motion import Activity
from firmware_sim.simulation import simulate
from monitor.analysis import Analysis, analyse

T0 = 1_750_000_000.0


def write_sim_csv(path: Path, scenario: str, *, seed: int, units: str = "si") -> np.ndarray:
    rec = simulate(scenario, seed=seed, rate_hz=50)
    acc, gyr = rec.acc, rec.gyr
    if units == "g/deg":
        acc, gyr = acc / 9.80665, np.degrees(gyr)
    data = np.column_stack([T0 + rec.t, acc, gyr])
    with path.open("w") as f:
        f.write("time,a_x,a_y,a_z,w_x,w_y,w_z\n")
        np.savetxt(f, data, delimiter=",", fmt=["%.4f"] + ["%.6f"] * 6)
    return np.asarray(rec.activity)


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor.cli", *args], capture_output=True, text=True, timeout=120
    )


def test_analyze_finds_posture_and_writes_a_row_a_second(tmp_path: Path) -> None:
    activity = write_sim_csv(tmp_path / "in.csv", "desk_short", seed=5, units="g/deg")
    out = tmp_path / "out.csv"
    result = run_cli(
        "analyze",
        str(tmp_path / "in.csv"),
        "--out",
        str(out),
        "--columns",
        "time,a_x,a_y,a_z,w_x,w_y,w_z",
        "--acc-unit",
        "g",
        "--gyr-unit",
        "deg/s",
    )
    assert result.returncode == 0, result.stderr
    with out.open() as f:
        rows = list(csv.DictReader(f))
    assert {"t", "posture", "sagittal_deg", "frontal_deg", "nudge"} <= rows[0].keys()
    assert len(rows) >= len(activity) / 50 - 2
    truth = {
        Activity.SITTING: "sitting",
        Activity.STANDING: "standing",
        Activity.WALKING: "walking",
    }
    agree = total = 0
    for row in rows:
        i = min(int((float(row["t"]) - T0) * 50), len(activity) - 1)
        expected = truth.get(Activity(activity[i]))
        if expected is not None:
            total += 1
            agree += row["posture"] == expected or (
                expected == "walking" and row["posture"] == "standing"
            )
    assert agree / total > 0.9
    assert (out.stat().st_mode & 0o777) == 0o600


def test_analyze_refuses_bad_input_with_a_message_and_nonzero_exit(tmp_path: Path) -> None:
    write_sim_csv(tmp_path / "in.csv", "standing", seed=1)
    result = run_cli("analyze", str(tmp_path / "in.csv"), "--out", str(tmp_path / "o.csv"))
    assert result.returncode != 0
    assert "missing columns 't', 'ax', 'ay', 'az'" in result.stderr
    assert not (tmp_path / "o.csv").exists()
    result = run_cli(
        "analyze",
        str(tmp_path / "in.csv"),
        "--out",
        str(tmp_path / "o.csv"),
        "--columns",
        "time,a_x,a_y,a_z,w_x,w_y,w_z",
        "--acc-unit",
        "g",
    )
    assert result.returncode != 0
    assert "use --acc-unit m/s2" in result.stderr


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open() as f:
        return list(csv.DictReader(f))


def test_a_two_hour_hole_is_no_data_not_two_hours_of_sitting(tmp_path: Path) -> None:
    rec = simulate("desk_short", seed=5, rate_hz=50)
    t = T0 + rec.t
    half = len(t) // 2
    t[half:] += 7200.0
    with (tmp_path / "in.csv").open("w") as f:
        f.write("t,ax,ay,az,gx,gy,gz\n")
        np.savetxt(f, np.column_stack([t, rec.acc, rec.gyr]), delimiter=",", fmt="%.4f")
    result = run_cli("analyze", str(tmp_path / "in.csv"), "--out", str(tmp_path / "o.csv"))
    assert result.returncode == 0, result.stderr
    assert "1 gap in time" in result.stderr
    rows = read_rows(tmp_path / "o.csv")
    marks = [r for r in rows if r["posture"] == "no_data"]
    assert len(marks) == 1 and float(marks[0]["no_data_s"]) > 7199
    times = np.array([float(r["t"]) for r in rows])
    inside = (times > t[half - 1] + 1) & (times < t[half] - 1)
    assert not inside.any()  # no second of the hole is classified
    assert len(rows) <= len(rec.t) / 50 + 4
    bouts = [float(r["sitting_bout_min"]) for r in rows if r["sitting_bout_min"]]
    assert max(bouts) < rec.t[-1] / 60  # no bout runs on through the hole
    assert not any(r["nudge"] for r in rows)


def test_accelerometer_only_and_milliseconds_are_analysed(tmp_path: Path) -> None:
    rec = simulate("desk_short", seed=5, rate_hz=50)
    with (tmp_path / "in.csv").open("w") as f:
        f.write("\ufefftime_ms,ax,ay,az\n")  # with a byte-order mark, as spreadsheets write
        ms = np.round((T0 + rec.t) * 1000)
        np.savetxt(f, np.column_stack([ms, rec.acc]), delimiter=",", fmt=["%d"] + ["%.5f"] * 3)
    result = run_cli(
        "analyze",
        str(tmp_path / "in.csv"),
        "--out",
        str(tmp_path / "o.csv"),
        "--columns",
        "time_ms,ax,ay,az",
    )
    assert result.returncode == 0, result.stderr
    assert "time column read as milliseconds" in result.stderr
    assert "no gyroscope" in result.stderr
    rows = read_rows(tmp_path / "o.csv")
    assert abs(len(rows) - rec.t[-1]) <= 2
    assert abs(float(rows[0]["t"]) - T0) < 2  # seconds, in Unix time
    assert {"sitting", "standing"} <= {r["posture"] for r in rows}


# --- block-wise analysis (issue 13: flat memory) ------------------------------------------------


def _compare(whole: Analysis, blocked: Analysis) -> tuple[float, float]:
    """Share of seconds with the same posture, and the mean |sagittal difference| in degrees."""
    a = {s.t: s for s in whole.snapshots}
    b = {s.t: s for s in blocked.snapshots}
    assert a.keys() == b.keys()
    same = sum(a[t].posture is b[t].posture for t in a) / len(a)
    diffs = [
        abs(a[t].sagittal_deg - b[t].sagittal_deg)
        for t in a
        if np.isfinite(a[t].sagittal_deg) and np.isfinite(b[t].sagittal_deg)
    ]
    return same, float(np.mean(diffs))


@pytest.mark.parametrize(
    ("scenario", "seconds", "rate", "block_s"),
    [("office_day", 3600.0, 25.0, 120.0), ("desk_short", None, 50.0, 40.0)],
)
def test_block_wise_analysis_matches_one_pass(
    scenario: str, seconds: float | None, rate: float, block_s: float
) -> None:
    rec = simulate(scenario, seed=7, rate_hz=rate, duration_s=seconds)
    acc, gyr = rec.acc.astype(np.float32), rec.gyr.astype(np.float32)  # as the reader keeps them
    breaks = [len(rec.t) // 2 + 77]  # posture starts afresh here (as after a long gap), mid-block
    whole = analyse(T0 + rec.t, acc, gyr, rate, breaks=breaks, block_s=None)
    blocked = analyse(T0 + rec.t, acc, gyr, rate, breaks=breaks, block_s=block_s)
    assert len(blocked.snapshots) >= rec.t[-1] - 2
    same, tilt_diff = _compare(whole, blocked)
    assert same >= 0.999
    # The tolerance is 0.05°; with the context either side of each block the filter
    # settles to the same tilt (without it, a block's first seconds differ by ~0.01° on average).
    assert tilt_diff < 0.001
    assert [x.kind for x in blocked.transitions] == [x.kind for x in whole.transitions]
    assert [e.t for e in blocked.nudges] == [e.t for e in whole.nudges]
