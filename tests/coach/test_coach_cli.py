"""``tiltmon coach`` end to end: a simulated wearer over the virtual radio, the real BLE client,
the live pipeline, the coach, the recording and the history read back from it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from firmware_sim.exercises import exercise_truth
from monitor.coach.simulated import RANGE_SCENARIO
from monitor.config import CONFIG_DIR_ENV


def tiltmon(*args: str, env: dict[str, str] | None = None, timeout: float = 240) -> Any:
    import os

    out = subprocess.run(
        [sys.executable, "-m", "monitor.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
    return out


@pytest.mark.slow
def test_range_test_with_a_simulated_wearer_ends_with_the_json_line(tmp_path: Path) -> None:
    record = tmp_path / "range.tiltmon"
    out = tiltmon(
        "coach", "range", "--sim", "--seed", "3", "--rate", "50", "--json", "--record", str(record)
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    truth = exercise_truth(RANGE_SCENARIO, 3)
    fwd = [r.range_deg for r in truth.reps if r.movement == "range_sagittal" and r.direction > 0]
    back = [r.range_deg for r in truth.reps if r.movement == "range_sagittal" and r.direction < 0]
    assert result["completed"] is True
    assert result["sagittal_range_deg"] == pytest.approx(sum(fwd) / 3 + sum(back) / 3, abs=2.0)
    assert {"frontal_range_deg", "neutral_fraction", "asymmetry_deg"} <= result.keys()
    assert 0.0 < result["neutral_fraction"] < 1.0
    assert record.stat().st_mode & 0o777 == 0o600
    # the result is in the recording, and the history reads it back
    from monitor.coach.history import build_history
    from monitor.recording.reader import Recording

    with Recording(record) as rec:
        found = [(e.at, e.kind, e.data) for e in rec.app_events()]
    history = build_history(found)
    assert len(history.ranges) == 1
    assert history.ranges[0].sagittal_range_deg == pytest.approx(result["sagittal_range_deg"])


@pytest.mark.slow
def test_a_routine_counts_per_exercise_and_side(tmp_path: Path) -> None:
    # a short routine of the wearer's own, so the simulated wearer is done in a minute
    mine = tmp_path / "mine.toml"
    mine.write_text(
        '[[routine]]\nname = "quick"\nkind = "lateral_left"\ntitle = "Quick"\n'
        'steps = [{ exercise = "Hip hike (standing on the left leg)",'
        " reps = { left = 4, right = 2 } }]\n",
        encoding="utf-8",
    )
    config = tmp_path / "config"
    config.mkdir()
    (config / "config.toml").write_text(f'[nudge]\nexercises_file = "{mine}"\n', encoding="utf-8")
    env = {CONFIG_DIR_ENV: str(config)}
    out = tiltmon(
        "coach",
        "routine",
        "quick",
        "--sim",
        "--seed",
        "2",
        "--rate",
        "50",
        "--json",
        "--no-record",
        env=env,
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    truth = exercise_truth("coach:hip_hike:4/2", 2)
    done = {s.side: s.done for s in truth.sets}
    assert result["repetitions"] == {"Hip hike (standing on the left leg)": done}
    assert result["completed"] is True and result["total_repetitions"] == sum(done.values())


def test_an_unknown_routine_or_movement_is_one_line(tmp_path: Path) -> None:
    out = tiltmon("coach", "routine", "nope", "--sim", "--no-record")
    assert out.returncode == 1
    assert out.stderr.strip().splitlines() == [
        "tiltmon: no routine 'nope'; the routines are: anterior, posterior, lateral_left,"
        " lateral_right, awareness"
    ]
    out = tiltmon("coach", "range", "--sim", "coach:jump:3", "--no-record")
    assert out.returncode == 1 and "bad exercise item 'jump:3'" in out.stderr


def test_list_says_what_the_sensor_measures() -> None:
    out = tiltmon("coach", "list", "--json")
    rows = json.loads(out.stdout)
    bridge = next(s for s in rows[0]["steps"] if s["exercise"] == "Glute bridge")
    assert bridge["measure"] == "count" and "cannot" in bridge["note"]
    stretch = next(s for s in rows[0]["steps"] if s["measure"] == "timed")
    assert "cannot judge" in stretch["note"]


def test_the_json_result_counts_per_exercise_and_side_or_in_all() -> None:
    from coach_helpers import ramps

    from monitor.coach.routine import RoutineRun
    from monitor.commands.coach import finish_result
    from monitor.exercises import load_catalogue

    run = RoutineRun(load_catalogue().routines["anterior"])
    run.feed(
        *ramps(
            (0.0, 0.0, 0.0),
            (2.0, 0.0, 0.0),
            (3.0, 10.0, 0.0),
            (4.5, -8.0, 0.0),
            (5.5, 0.0, 0.0),
            (7.0, 0.0, 0.0),
        )
    )
    result = finish_result(run, 8.0, None)
    assert result["repetitions"] == {"Standing pelvic tilts": 1}
    assert result["completed"] is False and result["total_repetitions"] == 1
    steps = result["steps"]
    assert isinstance(steps, list) and steps[0]["status"] == "stopped"
    assert steps[0]["sides"]["all"]["done"] == 1
