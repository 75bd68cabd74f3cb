"""``tiltmon analyze`` on CSV files written from the simulator, run as the real command."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np

from firmware_sim.motion import Activity
from firmware_sim.simulation import simulate

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
