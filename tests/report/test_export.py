"""``tiltmon export --csv``: documented columns, private files, and a round trip through analyze."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from report_helpers import save_true_profile, write_sim_session

from monitor.cli import main
from monitor.commands.report import report_for
from monitor.export import EVENT_COLUMNS, SAMPLE_COLUMNS

T0 = 1_763_629_200.0  # 2025-11-20 09:00 UTC


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path) -> Iterator[Path]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TILTMON_DATA_DIR", str(tmp_path / "data"))
        yield tmp_path / "data"


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def export_and_analyse(session: Path, capsys: pytest.CaptureFixture[str]) -> list[dict[str, str]]:
    out = session.with_name("out.csv")
    assert main(["export", str(session), "--csv", "--out", str(out)]) == 0
    assert "samples to" in capsys.readouterr().out
    analysed = session.with_name("analysed.csv")
    assert main(["analyze", str(out), "--out", str(analysed)]) == 0
    return rows(analysed)


def agreement(session: Path, analysed: list[dict[str, str]]) -> tuple[float, int]:
    """Share of analyze's seconds whose posture the replay gave for the same second."""
    postures = [row["posture"] for row in analysed]
    assert postures.count("sitting") > len(postures) / 2  # both scenarios are mostly sat
    snaps = report_for([session], "x").snapshots
    times = np.array([s.t for s in snaps])
    agree = 0
    for row in analysed:
        i = int(np.argmin(np.abs(times - float(row["t"]))))
        agree += snaps[i].posture.value == row["posture"]
    return agree / len(analysed), len(snaps)


def test_export_writes_documented_private_files_that_analyze_reads_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    session = tmp_path / "s.tiltmon"
    # desk_short: analyze (no profile: it aligns from the data) needs no long warm-up for it
    rec = write_sim_session(session, "desk_short", T0, rate_hz=50, seed=5)
    save_true_profile(rec)
    analysed = export_and_analyse(session, capsys)

    out, events = tmp_path / "out.csv", tmp_path / "out.events.csv"
    for path in (out, events):
        assert path.stat().st_mode & 0o777 == 0o600
    samples = rows(out)
    assert tuple(samples[0]) == SAMPLE_COLUMNS
    assert len(samples) == len(rec.t) - len(rec.t) % 19  # every sample of every packet
    t = np.array([float(r["t"]) for r in samples])
    assert np.all(np.diff(t) > 0) and abs(t[0] - T0) < 1
    acc = np.array([[float(r[k]) for k in ("ax", "ay", "az")] for r in samples[:500]])
    np.testing.assert_allclose(acc, rec.acc[:500], atol=1e-4)
    assert {r["posture"] for r in samples} >= {"sitting", "standing", "walking"}
    assert all(r["sagittal_deg"] for r in samples[100:-100])

    log = rows(events)
    assert tuple(log[0]) == EVENT_COLUMNS
    kinds = {r["kind"] for r in log}
    assert {"link:connected", "link:configured", "transition", "mounting"} <= kinds
    assert json.loads(next(r for r in log if r["kind"] == "mounting")["detail"])["source"] == (
        "profile"
    )
    assert [float(r["t"]) for r in log] == sorted(float(r["t"]) for r in log)

    share, seconds = agreement(session, analysed)
    assert abs(len(analysed) - seconds) <= 2
    assert share >= 0.9, share


def test_a_session_with_a_gap_exports_without_the_lost_rows_and_still_analyses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    session = tmp_path / "gap.tiltmon"
    rec = write_sim_session(
        session, "office_day", T0, rate_hz=25, seed=4, duration_s=1200, drop=(600.0, 660.0)
    )
    save_true_profile(rec)
    analysed = export_and_analyse(session, capsys)
    t = np.array([float(r["t"]) for r in rows(tmp_path / "out.csv")])
    assert 55 < np.max(np.diff(t)) < 65  # the rows of the lost minute are simply absent
    log = rows(tmp_path / "out.events.csv")
    gap = json.loads(next(r for r in log if r["kind"] == "gap")["detail"])
    assert gap["reason"] == "dropped" and 55 * 25 <= gap["lost_samples"] <= 65 * 25
    # analyze does not fill the hole in: one row marks it, none is classified inside it
    (mark,) = [r for r in analysed if r["posture"] == "no_data"]
    assert 55 < float(mark["no_data_s"]) < 65
    inside = [r for r in analysed if float(mark["t"]) + 1 < float(r["t"]) < float(mark["t"]) + 55]
    assert not inside
    analysed = [r for r in analysed if r is not mark]
    assert len(analysed) >= 1140 - 60
    share, _ = agreement(session, analysed)
    assert share >= 0.85, share
