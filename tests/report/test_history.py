"""``tiltmon report --week / --month``: a row per day, the same figures as the day report."""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from report_helpers import save_true_profile, write_sim_session

from monitor.cli import main
from monitor.report_history import build_history, cache_path

LAST = dt.date(2026, 11, 20)
EARLIER = LAST - dt.timedelta(days=3)


def at(day: dt.date, hour: int, minute: int = 0) -> float:
    return dt.datetime(day.year, day.month, day.day, hour, minute).timestamp()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Three sessions on two days of a week: 45 min of office day, then two short ones."""
    path = tmp_path_factory.mktemp("history-data")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TILTMON_DATA_DIR", str(path))
        sessions = path / "sessions"
        sessions.mkdir(mode=0o700)
        rec = write_sim_session(
            sessions / "a.tiltmon", "office_day", at(EARLIER, 9), seed=3, duration_s=45 * 60
        )
        save_true_profile(rec)
        write_sim_session(sessions / "b.tiltmon", "sit_stand", at(LAST, 10), seed=4)
        write_sim_session(sessions / "c.tiltmon", "desk_short", at(LAST, 14), seed=5)
        yield path


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_a_week_is_a_row_per_day_agreeing_with_the_day_reports(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "--week", "--day", LAST.isoformat()]) == 0
    out = capsys.readouterr().out
    assert "2 of 7 days recorded" in out
    sessions = data_dir / "sessions"
    rows = read_rows(sessions / f"week-{LAST.isoformat()}.history.csv")
    assert [r["day"] for r in rows] == [
        (LAST - dt.timedelta(days=6 - i)).isoformat() for i in range(7)
    ]
    by_day = {r["day"]: r for r in rows}
    assert by_day[LAST.isoformat()]["sessions"] == "2"
    assert by_day[EARLIER.isoformat()]["sessions"] == "1"
    assert sum(int(r["sessions"]) for r in rows) == 3  # the other days: empty rows
    for day in (EARLIER, LAST):
        assert main(["report", "--day", day.isoformat(), "--json", "--no-png"]) == 0
        figures = json.loads(capsys.readouterr().out)
        row = by_day[day.isoformat()]
        assert float(row["sitting_min"]) == figures["sitting_min"]
        assert int(row["bouts_over_30_min"]) == figures["bouts_over_30_min"]
        assert int(row["breaks"]) == figures["breaks"]
        assert int(row["nudges"]) == figures["nudges"]
        assert float(row["neutral_min"]) == figures["zone_min"]["neutral"]
    assert float(by_day[EARLIER.isoformat()]["sitting_min"]) > 20  # the office morning sat
    png = sessions / f"week-{LAST.isoformat()}.history.png"
    assert png.read_bytes().startswith(b"\x89PNG")
    for written in (png, sessions / f"week-{LAST.isoformat()}.history.csv"):
        assert stat.S_IMODE(written.stat().st_mode) == 0o600


async def test_unchanged_days_come_from_the_cache(data_dir: Path) -> None:
    sessions = data_dir / "sessions"
    await build_history(sessions, LAST, 7)  # fills the cache if the test above did not
    again = await build_history(sessions, LAST, 7)
    assert again.replayed == 0
    assert stat.S_IMODE(cache_path().stat().st_mode) == 0o600
    touched = sessions / "c.tiltmon"
    st = touched.stat()
    os.utime(touched, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    changed = await build_history(sessions, LAST, 7)
    assert changed.replayed == 1  # only the day whose recording changed
    assert [d.row() for d in changed.days] == [d.row() for d in again.days]


def test_a_month_is_thirty_rows_with_json(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_csv = tmp_path / "month.csv"
    assert main(["report", "--month", "--day", LAST.isoformat(), "--json", "--no-png",
                 "--csv", str(out_csv)]) == 0  # fmt: skip
    result = json.loads(capsys.readouterr().out)
    assert len(result["days"]) == 30 and result["png"] is None
    assert len(read_rows(out_csv)) == 30


def test_bad_requests_are_one_line_and_touch_nothing(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recording = data_dir / "sessions" / "a.tiltmon"
    before = recording.read_bytes()
    assert main(["report", "--week", "--day", LAST.isoformat(), "--csv", str(recording)]) == 1
    assert recording.read_bytes() == before
    assert main(["report", "--week", "--day", "2020-01-07"]) == 1
    assert main(["report", "--csv", "x.csv"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 3
    assert "no sessions recorded from 2020-01-01 to 2020-01-07" in err[1]
    assert "--csv goes with --week or --month" in err[2]
