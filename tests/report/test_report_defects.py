"""A report says what happened apart from what today's algorithm says; overlapping sessions are
counted once and drawn in time order (issue 12). Real session files through ``tiltmon report``."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import json
from collections.abc import Sequence
from pathlib import Path

import pytest
from report_helpers import session_items

from firmware_sim.simulation import simulate
from monitor.activity import TiltZone
from monitor.cli import main
from monitor.commands.report import report_for
from monitor.exercises import Place, kind_for_zone
from monitor.nudge import (
    NudgeConfig,
    NudgeLevel,
    NudgePolicy,
    NudgeShown,
    NudgeSnoozed,
    Suggestion,
)
from monitor.recording import SessionRecorder
from monitor.report import headline
from monitor.report_png import draw_day
from monitor.transport.items import Notification

T0 = dt.datetime(2026, 11, 23, 10, 0).timestamp()


def write_session(
    path: Path,
    scenario: str,
    t0: float,
    minutes: float,
    events: Sequence[NudgeShown | NudgeSnoozed] = (),
) -> Path:
    """A simulated session on disk, with app events recorded at their times, as the app does."""
    rec = simulate(scenario, seed=4, rate_hz=25, duration_s=minutes * 60)
    now = [t0 - 0.5]
    recorder = SessionRecorder(
        path, transport="sim:test", started_at=now[0], monotonic=lambda: now[0]
    )
    pending = sorted(events, key=lambda e: e.t)
    for item in session_items(rec, t0):
        now[0] = item.received_at if isinstance(item, Notification) else item.at
        while pending and pending[0].t <= now[0]:
            event = pending.pop(0)
            recorder.record_event(event.t, type(event).__name__, dataclasses.asdict(event))
        recorder.feed(item)
    recorder.close(ended_at=now[0] + 0.1)
    return path


def a_tilt_nudge(t: float) -> NudgeShown:
    exercises = NudgePolicy(NudgeConfig()).exercises
    kind = kind_for_zone(TiltZone.POSTERIOR)
    suggestion = Suggestion(kind, exercises.stance.move, exercises.pick(kind, 0, place=Place.DESK))
    reason = "Pelvis tucked under, slumped (posterior tilt) for 20 minutes."
    return NudgeShown(t, NudgeLevel.TILT, reason, 21.0, TiltZone.POSTERIOR, suggestion)


def test_the_report_shows_the_recorded_decisions_apart_from_the_replay(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Standing only: today's algorithm gives no nudge; the session recorded one and a snooze.
    shown = a_tilt_nudge(T0 + 60)
    snoozed = NudgeSnoozed(T0 + 75, T0 + 75 + 600, shown.t)
    path = write_session(tmp_path / "s.tiltmon", "standing", T0, 3, [shown, snoozed])
    png = tmp_path / "s.png"
    assert main(["report", str(path), "--png", str(png)]) == 0
    assert png.stat().st_size > 10_000  # recorded nudges drawn apart from replayed ones
    text = capsys.readouterr().out
    happened = text.split("What happened (recorded during the session)\n", 1)[1].split("\n\n")[0]
    assert happened.splitlines()[:3] == [
        "  nudges shown                   1",
        "  snoozed                        1",
        "  dismissed                      0",
    ]
    assert (
        f"{dt.datetime.fromtimestamp(shown.t):%H:%M}  shown      tilt: Pelvis tucked under"
        in happened
    )
    assert f"snoozed    until {dt.datetime.fromtimestamp(snoozed.until):%H:%M}" in happened
    replayed = text.split("Nudges today's settings and algorithm would give", 1)[1]
    assert "would give                     0" in replayed.splitlines()[1]


def test_a_session_without_recorded_decisions_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_session(tmp_path / "s.tiltmon", "standing", T0, 2)
    assert main(["report", str(path), "--no-png", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["recorded"] == []
    assert main(["report", str(path), "--no-png"]) == 0
    assert "nothing recorded: these sessions were not recorded by the dashboard" in (
        capsys.readouterr().out
    )


def test_overlapping_sessions_count_each_second_once_in_time_order(tmp_path: Path) -> None:
    first = write_session(tmp_path / "a.tiltmon", "sitting", T0, 10)
    second = write_session(tmp_path / "b.tiltmon", "sitting", T0 + 300, 10)  # 5 min shared
    report = report_for([first, second], "day")
    times = [s.t for s in report.snapshots]
    assert all(b > a for a, b in itertools.pairwise(times))  # one line, left to right
    assert report.covered_s == pytest.approx(15 * 60, abs=30)  # not 20 minutes
    assert report.end == pytest.approx(T0 + 900, abs=5)  # the axis runs to the last data
    assert report.overlaps == ("b.tiltmon",)
    assert not report.gaps  # the second session carries on where the first ends: no "no data"
    png = draw_day(report, tmp_path / "day.png")
    assert png.stat().st_size > 10_000


def test_the_headline_counts_in_words(tmp_path: Path) -> None:
    path = write_session(tmp_path / "s.tiltmon", "sitting", T0, 4)
    line = headline(report_for([path], "s"))
    assert " in 1 bout " in line and "1 bouts" not in line
    assert "0 breaks" in line and "0 nudges" in line
