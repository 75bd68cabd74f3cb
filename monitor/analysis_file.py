"""One CSV recording analysed and written as ``tiltmon analyze`` does: a row a second."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from monitor.activity import Posture
from monitor.analysis import Analysis, analyse
from monitor.config import load_config
from monitor.csv_import import CsvColumns, Gap, read_imu_csv
from monitor.errors import MonitorError
from monitor.fusion.blocks import BLOCK_S
from monitor.gaps import long_gap_breaks
from monitor.nudge import NudgePolicy, NudgeShown, system_local_time
from monitor.private_files import private_output

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
NON_WEAR = Posture.NON_WEAR.value  # posture and zone of a second the sensor was not worn
MARKED_GAP_S = 1.0  # gaps of a frame or more get a row of their own
EPOCH_LIKE = 1e9  # a time column this large is already Unix time (after September 2001)


@dataclass(frozen=True, slots=True)
class ReadOptions:
    """How to read a CSV recording (as a command line states it)."""

    columns: str | None = None  # "t,ax,ay,az[,gx,gy,gz]"
    acc_unit: str = "m/s2"
    gyr_unit: str = "rad/s"
    time_unit: str = "auto"
    start: str | None = None  # ISO wall-clock time of t = 0


@dataclass(frozen=True, slots=True)
class FileAnalysis:
    analysis: Analysis
    offset: float  # s added to the file's t (Unix time of its t = 0; 0 when t is Unix time)
    gaps: tuple[Gap, ...]
    notes: tuple[str, ...]  # what the reader and the analysis noticed, for the user


def analyse_csv(
    path: Path, options: ReadOptions, *, block_s: float | None = BLOCK_S
) -> FileAnalysis:
    """Read one CSV recording and analyse it as ``tiltmon analyze`` does (``block_s``: see
    :func:`monitor.analysis.analyse`)."""
    columns = CsvColumns.parse(options.columns) if options.columns else CsvColumns()
    recording = read_imu_csv(
        path,
        columns=columns,
        acc_unit=options.acc_unit,
        gyr_unit=options.gyr_unit,
        time_unit=options.time_unit,
    )
    offset, quiet_hours_apply = _time_offset(recording.t[0], options.start)
    nudge_config = load_config().nudge
    if not quiet_hours_apply:
        nudge_config = dataclasses.replace(nudge_config, quiet_hours=())
    t = recording.t
    if offset:
        t += offset  # in place: no second copy of a long recording's times
    analysis = analyse(
        t,
        recording.acc,
        recording.gyr,
        recording.rate_hz,
        nudges=NudgePolicy(nudge_config, local_time=system_local_time),
        breaks=long_gap_breaks(recording.run_starts, [g.duration_s for g in recording.gaps]),
        block_s=block_s,
    )
    notes = (*recording.notes(), *analysis.notes)
    if not quiet_hours_apply:
        notes += ("t is relative and no --start given: quiet hours ignored",)
    return FileAnalysis(analysis, offset, recording.gaps, notes)


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
    """A row a second; a gap of a second or more in the input is one ``no_data`` row; a second
    the sensor was not worn is a ``non_wear`` row (no tilt, no bout)."""
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
            worn = snap.posture is not Posture.NON_WEAR
            out.writerow(
                (
                    f"{snap.t - offset:.3f}",
                    snap.posture.value,
                    snap.zone.value if worn else NON_WEAR,
                    _number(snap.sagittal_deg),
                    _number(snap.frontal_deg),
                    f"{snap.sitting_bout_s / 60:.2f}" if worn else "",
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
