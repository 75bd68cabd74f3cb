"""``tiltmon analyze IN.csv --out OUT.csv``: posture, tilt and nudges for any recording."""

from __future__ import annotations

import argparse
import csv
import dataclasses
import datetime as dt
import sys
from pathlib import Path
from typing import Any

import numpy as np

from monitor.analysis import Analysis, analyse
from monitor.config import load_config
from monitor.csv_import import CsvColumns, Gap, read_imu_csv
from monitor.errors import MonitorError
from monitor.gaps import long_gap_breaks
from monitor.nudge import NudgePolicy, NudgeShown, system_local_time
from monitor.private_files import check_output, private_output

OUTPUT_COLUMNS = (
    "t",
    "posture",
    "zone",
    "sagittal_deg",
    "frontal_deg",
    "sitting_bout_min",
    "nudge",
    "nudge_reason",
    "nudge_suggestion",
    "no_data_s",  # on the row marking a gap in the input: how long it lasted
)
NO_DATA = "no_data"
MARKED_GAP_S = 1.0  # gaps of a frame or more get a row of their own
EPOCH_LIKE = 1e9  # a time column this large is already Unix time (after September 2001)


def run_analyze(args: argparse.Namespace) -> int:
    check_output(args.out, inputs=[args.input], force=args.force)
    columns = CsvColumns.parse(args.columns) if args.columns else CsvColumns()
    recording = read_imu_csv(
        args.input,
        columns=columns,
        acc_unit=args.acc_unit,
        gyr_unit=args.gyr_unit,
        time_unit=args.time_unit,
    )
    offset, quiet_hours_apply = _time_offset(recording.t[0], args.start)
    nudge_config = load_config().nudge
    if not quiet_hours_apply:
        nudge_config = dataclasses.replace(nudge_config, quiet_hours=())
    analysis = analyse(
        recording.t + offset,
        recording.acc,
        recording.gyr,
        recording.rate_hz,
        nudges=NudgePolicy(nudge_config, local_time=system_local_time),
        breaks=long_gap_breaks(recording.run_starts, [g.duration_s for g in recording.gaps]),
    )
    rows = write_analysis(args.out, analysis, offset, gaps=recording.gaps)
    for note in (*recording.notes(), *analysis.notes) + (
        () if quiet_hours_apply else ("t is relative and no --start given: quiet hours ignored",)
    ):
        print(f"note: {note}", file=sys.stderr)
    shown = sum(isinstance(e, NudgeShown) for e in analysis.nudges)
    print(f"wrote {rows} rows and {shown} nudges to {args.out}")
    return 0


def _time_offset(first_t: float, start: str | None) -> tuple[float, bool]:
    if first_t > EPOCH_LIKE:
        return 0.0, True
    if start is None:
        return 0.0, False
    try:
        moment = dt.datetime.fromisoformat(start)
    except ValueError as exc:
        raise MonitorError(f"--start {start!r} is not an ISO date and time") from exc
    if moment.tzinfo is None:
        moment = moment.astimezone()  # the computer's zone, as a person would mean it
    return moment.timestamp(), True


def write_analysis(
    path: Path, analysis: Analysis, offset: float, *, gaps: tuple[Gap, ...] = ()
) -> int:
    """A row a second; a gap of a second or more in the input is one ``no_data`` row."""
    nudges = {e.t: e for e in analysis.nudges if isinstance(e, NudgeShown)}
    marks = [g for g in gaps if g.duration_s >= MARKED_GAP_S]
    with private_output(path) as f:
        out = csv.writer(f)
        out.writerow(OUTPUT_COLUMNS)
        m = 0
        for snap in analysis.snapshots:
            while m < len(marks) and marks[m].start + offset < snap.t:
                _gap_row(out, marks[m])
                m += 1
            nudge = nudges.get(snap.t)
            out.writerow(
                (
                    f"{snap.t - offset:.3f}",
                    snap.posture.value,
                    snap.zone.value,
                    _number(snap.sagittal_deg),
                    _number(snap.frontal_deg),
                    f"{snap.sitting_bout_s / 60:.2f}",
                    nudge.level.value if nudge else "",
                    nudge.reason if nudge else "",
                    nudge.suggestion.text() if nudge else "",
                    "",
                )
            )
        for gap in marks[m:]:
            _gap_row(out, gap)
    return len(analysis.snapshots) + len(marks)


def _gap_row(out: Any, gap: Gap) -> None:
    out.writerow(
        (f"{gap.start:.3f}", NO_DATA, NO_DATA, "", "", "", "", "", "", f"{gap.duration_s:.3f}")
    )


def _number(value: float) -> str:
    return "" if not np.isfinite(value) else f"{value:.2f}"
