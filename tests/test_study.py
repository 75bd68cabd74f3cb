"""``tiltmon analyze`` over many recordings: --out-dir, summary.csv, reruns, --jobs and Dask."""

from __future__ import annotations

import csv
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from firmware_sim.motion import Activity
from firmware_sim.simulation import simulate
from monitor.analysis_file import ReadOptions
from monitor.study import SUMMARY_COLUMNS, Task, expand_inputs, run_study, write_summary

# 2026-11-20 23:50 local time: a recording that runs past midnight spans two calendar days
T0 = dt.datetime(2026, 11, 20, 23, 50).timestamp()


def write_csv(path: Path, scenario: str, seed: int, t0: float = T0) -> np.ndarray:
    rec = simulate(scenario, seed=seed, rate_hz=25)
    data = np.column_stack([t0 + rec.t, rec.acc, rec.gyr])
    with path.open("w") as f:
        f.write("t,ax,ay,az,gx,gy,gz\n")
        np.savetxt(f, data, delimiter=",", fmt=["%.4f"] + ["%.6f"] * 6)
    return np.asarray(rec.activity)


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor.cli", *args], capture_output=True, text=True, timeout=300
    )


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cohort")
    (folder / "site_b").mkdir()
    write_csv(folder / "p01.csv", "desk_short", seed=1)
    write_csv(folder / "p02.csv", "desk_short", seed=2, t0=T0 - 3600)
    write_csv(folder / "site_b" / "p03.csv", "desk_short", seed=3)
    return folder


def test_a_folder_gives_a_file_per_recording_and_a_row_per_recording_and_day(
    cohort: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    result = run_cli("analyze", str(cohort), "--out-dir", str(out))
    assert result.returncode == 0, result.stderr
    assert "recordings" not in result.stderr  # no progress bar into a pipe or a log
    for name in ("p01", "p02", "p03"):
        seconds = read_rows(out / f"{name}.seconds.csv")
        assert len(seconds) > 300
        assert {"sitting", "standing", "walking"} <= {r["posture"] for r in seconds}
    rows = read_rows(out / "summary.csv")
    assert list(rows[0]) == list(SUMMARY_COLUMNS)
    # p01 and p03 start at 23:50 and last about 5.5 minutes: all before midnight; p02 an hour
    # earlier. Each is one row; a recording across midnight would be two.
    assert [(r["recording"], r["date"]) for r in rows] == [
        ("p01", "2026-11-20"),
        ("p02", "2026-11-20"),
        ("p03", "2026-11-20"),
    ]
    for row in rows:
        assert row["status"] == "ok"
        parts = sum(float(row[k]) for k in ("sitting_min", "standing_min", "walking_min"))
        assert float(row["wear_min"]) == pytest.approx(parts + float(row["lying_min"]), abs=0.3)
        assert 4.5 < float(row["wear_min"]) < 6.5
    assert (out / "summary.csv").stat().st_mode & 0o077 == 0


def test_a_rerun_skips_what_has_not_changed(cohort: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run_cli("analyze", str(cohort / "*.csv"), "--out-dir", str(out)).returncode == 0
    first = (out / "summary.csv").read_text()
    again = run_cli("analyze", str(cohort / "*.csv"), "--out-dir", str(out))
    assert again.returncode == 0, again.stderr
    assert "analysed 0, unchanged 2" in again.stdout
    assert (out / "summary.csv").read_text() == first


def test_a_bad_recording_fails_alone_in_one_line(cohort: Path, tmp_path: Path) -> None:
    bad = tmp_path / "broken.csv"
    bad.write_text("t,ax,ay,az\n0,1,2\n")
    out = tmp_path / "out"
    result = run_cli("analyze", str(cohort / "p01.csv"), str(bad), "--out-dir", str(out))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    # the failure is said in one line even without a terminal
    (said,) = [line for line in result.stderr.splitlines() if "failed" in line]
    assert said == f"{bad}: failed, line 2: 3 fields where the header has 4"
    rows = {r["recording"]: r for r in read_rows(out / "summary.csv")}
    assert rows["p01"]["status"] == "ok"
    assert rows["broken"]["status"].startswith("failed: ")


def test_out_and_out_dir_are_told_apart(cohort: Path, tmp_path: Path) -> None:
    both = run_cli("analyze", str(cohort), "--out", str(tmp_path / "x.csv"))
    assert both.returncode == 1 and "--out-dir" in both.stderr
    jobs = run_cli(
        "analyze", str(cohort / "p01.csv"), "--out", str(tmp_path / "y.csv"), "--jobs", "2"
    )
    assert jobs.returncode == 1 and "--out-dir" in jobs.stderr
    assert not (tmp_path / "x.csv").exists() and not (tmp_path / "y.csv").exists()


def test_one_file_named_twice_is_one_recording_and_two_files_of_one_name_are_refused(
    cohort: Path,
) -> None:
    twice = expand_inputs([str(cohort / "site_b" / "p03.csv"), str(cohort / "site_b")])
    assert twice == [(cohort / "site_b" / "p03.csv").resolve()]
    (cohort / "site_b" / "p01.csv").write_bytes((cohort / "p01.csv").read_bytes())
    try:
        with pytest.raises(ValueError, match="named 'p01'"):
            expand_inputs([str(cohort)])
    finally:
        (cohort / "site_b" / "p01.csv").unlink()


@pytest.mark.slow
def test_jobs_and_dask_give_the_same_summary_as_one_process(cohort: Path, tmp_path: Path) -> None:
    from distributed import LocalCluster

    sources = expand_inputs([str(cohort)])
    summaries = []
    for how in ("serial", "jobs", "dask"):
        out = tmp_path / how
        tasks = [Task(s, out, ReadOptions()) for s in sources]
        if how == "dask":
            with LocalCluster(
                n_workers=2,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
            ) as cluster:
                results = run_study(tasks, dask_address=cluster.scheduler_address)
        else:
            results = run_study(tasks, jobs=2 if how == "jobs" else 1)
        assert not any(r.skipped or r.error for r in results)
        write_summary(out / "summary.csv", results)
        summaries.append((out / "summary.csv").read_text())
    assert summaries[0] == summaries[1] == summaries[2]


@pytest.mark.slow
def test_an_unreachable_scheduler_is_one_line(cohort: Path, tmp_path: Path) -> None:
    result = run_cli(
        "analyze",
        str(cohort / "p01.csv"),
        "--out-dir",
        str(tmp_path),
        "--dask",
        "tcp://127.0.0.1:9",
    )
    assert result.returncode == 1
    assert "Dask scheduler" in result.stderr and "Traceback" not in result.stderr


def test_sitting_time_matches_the_truth(cohort: Path, tmp_path: Path) -> None:
    activity = write_csv(tmp_path / "truth.csv", "desk_short", seed=1)
    out = tmp_path / "out"
    assert run_cli("analyze", str(tmp_path / "truth.csv"), "--out-dir", str(out)).returncode == 0
    (row,) = read_rows(out / "summary.csv")
    true_min = float(np.sum(activity == Activity.SITTING)) / 25 / 60
    assert float(row["sitting_min"]) == pytest.approx(true_min, abs=0.3)


def test_tiltmon_sessions_are_analysed_alongside_csv_files(tmp_path: Path) -> None:
    sys.path.insert(0, str(Path(__file__).parent / "report"))
    from report_helpers import write_sim_session

    folder = tmp_path / "cohort"
    folder.mkdir()
    write_sim_session(folder / "session-a.tiltmon", "desk_short", T0, seed=4)
    write_csv(folder / "p01.csv", "desk_short", seed=1)
    out = tmp_path / "out"
    result = run_cli("analyze", str(folder), "--out-dir", str(out))
    assert result.returncode == 0, result.stderr
    rows = {r["recording"]: r for r in read_rows(out / "summary.csv")}
    assert set(rows) == {"session-a", "p01"}
    assert rows["session-a"]["status"] == "ok"
    assert float(rows["session-a"]["sitting_min"]) > 1.0
    seconds = read_rows(out / "session-a.seconds.csv")
    assert {"sitting", "standing"} <= {r["posture"] for r in seconds}
    # the intermediate export is gone; the session itself is untouched
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [
        "p01.seconds.csv",
        "session-a.seconds.csv",
        "summary.csv",
    ]
    assert not list(out.glob(".*samples*"))


def run_on_terminal(*args: str) -> tuple[int, str, str]:
    """The command with stderr on a pseudo-terminal (as in a shell): exit code, stdout, what
    the terminal got."""
    import os
    import pty

    main, sub = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "monitor.cli", *args],
        stdout=subprocess.PIPE,
        stderr=sub,
        text=True,
    )
    os.close(sub)
    screen = b""
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:  # the command exited and closed its end
            break
        if not chunk:
            break
        screen += chunk
    stdout, _ = process.communicate(timeout=300)
    os.close(main)
    return process.returncode, stdout, screen.decode()


def test_a_study_on_a_terminal_shows_a_progress_bar(cohort: Path, tmp_path: Path) -> None:
    code, stdout, screen = run_on_terminal("analyze", str(cohort), "--out-dir", str(tmp_path))
    assert code == 0, screen
    bars = [part for part in screen.split("\r\x1b[2K") if "recordings" in part]
    assert [b.split("] ")[1].split(" ")[0] for b in bars] == ["0/3", "1/3", "2/3", "3/3"]
    assert "about" in bars[1] and "left" in bars[1]
    assert screen.endswith("\r\x1b[2K")  # the bar is cleared at the end
    assert stdout.startswith("analysed 3, unchanged 0, failed 0 of 3")


@pytest.mark.slow
def test_json_is_one_line_and_no_progress_even_on_a_terminal(cohort: Path, tmp_path: Path) -> None:
    bad = tmp_path / "broken.csv"
    bad.write_text("t,ax,ay,az\n0,1,2\n")
    code, stdout, screen = run_on_terminal(
        "analyze", str(cohort / "p01.csv"), str(bad), "--out-dir", str(tmp_path), "--json"
    )
    assert code == 1
    assert "recordings" not in screen
    outcome = json.loads(stdout)
    assert outcome["analysed"] == 1 and outcome["unchanged"] == 0
    assert list(outcome["failed"]) == [str(bad.resolve())]
    assert outcome["summary"] == str(tmp_path / "summary.csv") and outcome["rows"] == 2
    single = run_cli(
        "analyze", str(cohort / "p01.csv"), "--out", str(tmp_path / "one.csv"), "--json"
    )
    figures = json.loads(single.stdout)
    assert figures["rows"] > 300 and figures["non_wear_min"] == 0.0
    assert any("neutral" in note for note in figures["notes"]) and single.stderr == ""
