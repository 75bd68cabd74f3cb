"""``tiltmon report``: figures of a synthetic office morning with known bouts, the PNG, --day."""

from __future__ import annotations

import datetime as dt
import json
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest
from report_helpers import save_true_profile, sitting_truth_s, truth_bouts, write_sim_session

from firmware_sim.simulation import SimulatedRecording
from monitor.cli import main
from monitor.commands.report import report_for
from monitor.report import DayReport, render_text

DAY = dt.date(2026, 11, 20)
T0 = dt.datetime(2026, 11, 20, 9, 0).timestamp()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("report-data")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TILTMON_DATA_DIR", str(path))
        yield path


@pytest.fixture(scope="module")
def morning(data_dir: Path) -> tuple[Path, SimulatedRecording]:
    """Two hours of the office day at 25 Hz, worn by a calibrated wearer."""
    sessions = data_dir / "sessions"
    sessions.mkdir(mode=0o700)
    path = sessions / "2026-11-20T09-00-00.tiltmon"
    rec = write_sim_session(path, "office_day", T0, seed=3, duration_s=2 * 3600)
    save_true_profile(rec)
    return path, rec


@pytest.fixture(scope="module")
def report(morning: tuple[Path, SimulatedRecording]) -> DayReport:
    return report_for([morning[0]], morning[0].name)


@pytest.mark.slow
def test_the_figures_match_the_truth(
    report: DayReport, morning: tuple[Path, SimulatedRecording]
) -> None:
    _, rec = morning
    truth = truth_bouts(rec, T0)
    lengths = [b - a for a, b in truth]
    assert len(lengths) >= 3 and any(s > 3600 for s in lengths)  # the morning has a long sit
    assert report.totals.sitting_s == pytest.approx(sitting_truth_s(rec), rel=0.02)
    figures = report.figures()
    assert figures["bouts_over_30_min"] == sum(s > 1800 for s in lengths)
    assert figures["bouts_over_60_min"] == sum(s > 3600 for s in lengths)
    # Every true bout longer than 5 minutes is found, starting within a minute of the truth.
    found = report.bouts
    for start, end in truth:
        if end - start > 300:
            assert any(abs(a - start) < 60 and abs(b - end) < 90 for a, b in found), (start, end)
    assert figures["breaks"] == report.totals.breaks >= 2
    assert figures["nudges"] >= 1  # over an hour sat: at least the gentle nudge
    assert sum(figures["zone_min"].values()) > 0.9 * figures["sitting_min"]


def test_the_text_is_aligned_and_charts_the_hours(report: DayReport) -> None:
    text = render_text(report)
    assert text.startswith("tiltmon report — Friday 20 November 2026")
    for heading in ("Posture", "Sitting bouts", "Pelvic tilt", "Nudges", "Sitting per hour"):
        assert f"\n{heading}" in text
    hours = [line for line in text.splitlines() if line.startswith(("  09:00", "  10:00"))]
    assert len(hours) == 2 and all("█" in line for line in hours)
    rows = [line for line in text.splitlines() if line.endswith(" %") and "█" in line]
    assert len({line.index("█") for line in rows}) == 1  # bars start in one column
    assert "provisional" not in text  # calibrated: no warning


@pytest.mark.slow
def test_the_report_command_draws_a_private_png(
    morning: tuple[Path, SimulatedRecording], capsys: pytest.CaptureFixture[str]
) -> None:
    path, _ = morning
    assert main(["report", str(path)]) == 0
    out = capsys.readouterr().out
    png = path.with_name(f"{path.stem}.report.png")
    assert f"timeline: {png}" in out and "sitting" in out
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert 1000 <= width <= 2400 and 500 <= height <= 1400
    assert 30_000 < len(data) < 2_000_000
    assert png.stat().st_mode & 0o777 == 0o600


@pytest.mark.slow
def test_day_combines_the_sessions_of_that_day(
    morning: tuple[Path, SimulatedRecording], data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sessions, clip = morning[0].parent, morning[1].mounting  # the same clip position
    afternoon = sessions / "2026-11-20T14-00-00.tiltmon"
    at_two = dt.datetime(2026, 11, 20, 14, 0).timestamp()
    write_sim_session(afternoon, "office_day", at_two, seed=5, duration_s=2400, mounting=clip)
    # Another day's session is left out.
    write_sim_session(
        sessions / "2026-11-21T09-00-00.tiltmon", "desk_short", T0 + 86400, mounting=clip
    )
    png = data_dir / "day.png"
    assert main(["report", "--day", DAY.isoformat(), "--json", "--png", str(png)]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert [Path(p).name for p in figures["sessions"]] == [morning[0].name, afternoon.name]
    parts = [report_for([p], "x").figures() for p in (morning[0], afternoon)]
    assert parts[1]["sitting_min"] > 20
    assert figures["sitting_min"] == pytest.approx(sum(p["sitting_min"] for p in parts), abs=0.1)
    assert figures["bouts"] == sum(p["bouts"] for p in parts)
    assert figures["breaks"] == sum(p["breaks"] for p in parts)  # a session's end is no break
    assert figures["nudges"] == sum(p["nudges"] for p in parts)
    assert any(b - a > 3 * 3600 for a, b in figures["gaps"])  # lunch to 14:00: no data
    assert figures["png"] == str(png) and png.stat().st_mode & 0o777 == 0o600


def test_bad_inputs_give_a_message_and_a_nonzero_exit(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    not_a_recording = tmp_path / "notes.tiltmon"
    not_a_recording.write_text("hello, this is not a recording\n" * 100)
    assert main(["report", str(not_a_recording)]) == 1
    assert "is not a tiltmon recording" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "missing.tiltmon")]) == 1
    assert "no such recording" in capsys.readouterr().err
    assert main(["report", "--day", "2001-01-01", "--no-png"]) == 1
    assert "no sessions recorded on 2001-01-01" in capsys.readouterr().err
    assert main(["report", "--day", "20th of May"]) == 1
    assert "not a date" in capsys.readouterr().err
    assert main(["export", str(not_a_recording), "--csv"]) == 1
    assert "is not a tiltmon recording" in capsys.readouterr().err
    assert not (tmp_path / "notes.csv").exists()


def test_only_drawing_loads_matplotlib() -> None:
    import subprocess
    import sys

    code = "import sys, monitor.cli, monitor.report, monitor.commands.report, monitor.export\n"
    code += "print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
