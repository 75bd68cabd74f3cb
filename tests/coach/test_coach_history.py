"""The coach's history from recorded events: routines, range over time, nudges followed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from monitor.coach import events
from monitor.coach.history import build_history, render_history
from monitor.coach.range_test import RangeResult
from monitor.coach.routine import RoutineRun
from monitor.commands.coach import load_history
from monitor.exercises import load_catalogue
from monitor.recording import SessionRecorder
from monitor.report_history import build_history as build_day_history
from monitor.report_history import history_csv, recorded_coach_history
from monitor.report_history import render_history as render_days

DAY = 86400.0
T0 = 1_764_000_000.0


def range_result(t: float, sagittal: float) -> RangeResult:
    return RangeResult(
        t - 60, t, 0.0, 0.0, sagittal * 0.6, sagittal * 0.4, sagittal, 0.4, 6.0, 5.0, 11.0, 1.0, 12
    )


def nudge(t: float, exercise: str) -> tuple[float, str, dict[str, object]]:
    return t, "NudgeShown", {"suggestion": {"exercise": {"name": exercise}}}


def a_routine(t0: float) -> RoutineRun:
    run = RoutineRun(load_catalogue().routines["anterior"])
    run.feed([t0, t0 + 1.0], [0.0, 0.0], [0.0, 0.0])
    run.skip(t0 + 2.0)  # pelvic tilts skipped
    return run


def test_range_over_time_routines_and_nudges_followed() -> None:
    run = a_routine(T0 + 100)
    # the bridge: done in full, by hand here (the counting is tested elsewhere)
    step = run.results[0]
    found = [
        events.range_event(range_result(T0, 30.0)),
        events.range_event(range_result(T0 + 7 * DAY, 34.0)),
        nudge(T0 + 50, "Glute bridge"),
        nudge(T0 + 60, "Hamstring stretch"),
        events.step_event("anterior", step),
        events.routine_event(run.stop(T0 + 200)),
    ]
    # a bridge done after the first nudge
    done = run.result().steps[-1]
    data = events.step_event("anterior", done)[2] | {"exercise": "Glute bridge", "repetitions": 3}
    found.append((T0 + 180, events.STEP, data))
    history = build_history(found)
    assert [p.sagittal_range_deg for p in history.ranges] == [30.0, 34.0]
    assert len(history.routines) == 1 and history.routines[0].completed is False
    assert [(s.exercise, s.done_at) for s in history.suggestions] == [
        ("Glute bridge", T0 + 180),
        ("Hamstring stretch", None),
    ]
    text = render_history(history)
    assert "+4° since first" in text
    assert "nudge suggestions followed with the coach: 1 of 2" in text
    figures = history.figures()
    assert figures["nudge_exercises_done"] == 1 and len(figures["range_tests"]) == 2  # type: ignore[arg-type]


def recorded(data: Path, started_at: float, found: list[tuple[float, str, dict[str, Any]]]) -> Path:
    """A session in the data directory with nothing in it but these coach events."""
    path = data / "sessions" / "a.tiltmon"
    path.parent.mkdir(parents=True, exist_ok=True)
    recorder = SessionRecorder(path, transport="sim:test", started_at=started_at)
    for event in found:
        recorder.record_event(*event)
    recorder.close()
    return path


def test_history_and_day_report_read_the_recordings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TILTMON_DATA_DIR", str(tmp_path))
    import time

    now = time.time()
    path = recorded(tmp_path, now - 300, [events.range_event(range_result(now - 200, 28.0))])
    assert [p.sagittal_range_deg for p in recorded_coach_history([path]).ranges] == [28.0]
    assert [p.sagittal_range_deg for p in load_history(7).ranges] == [28.0]


async def test_the_week_report_has_the_coach_s_columns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import datetime as dt
    import time

    monkeypatch.setenv("TILTMON_DATA_DIR", str(tmp_path))
    now = time.time()
    t, kind, data = events.routine_event(a_routine(now - 300).stop(now - 200))
    found = [
        events.range_event(range_result(now - 500, 26.0)),
        events.range_event(range_result(now - 400, 29.5)),
        (t, kind, data | {"repetitions": 14}),
    ]
    recorded(tmp_path, now - 600, found)

    today = dt.datetime.fromtimestamp(now - 600).date()
    history = await build_day_history(tmp_path / "sessions", today, 7, cache=tmp_path / "c.json")
    row = history.days[-1]
    assert (row.routines, row.repetitions, row.range_tests) == (1, 14, 2)
    assert row.sagittal_range_deg == 29.5  # the day's last test
    assert [d.range_tests for d in history.days[:-1]] == [0] * 6
    csv_text = history_csv(history).splitlines()
    assert csv_text[0].endswith(",routines,repetitions,range_tests,sagittal_range_deg")
    assert csv_text[-1].endswith(",1,14,2,29.5") and csv_text[1].endswith(",0,0,0,")
    table = render_days(history).splitlines()
    today_line = next(line for line in table if line.startswith(f"{today:%a %d %b}"))
    assert table[2].endswith("coach") and today_line.endswith("   14")
    assert all(len(line) <= 80 for line in table)
