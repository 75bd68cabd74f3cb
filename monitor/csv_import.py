"""Read IMU recordings from CSV files, from tiltmon or from any other device.

The columns are named in a header: time, accelerometer and optionally gyroscope, in units the
caller states (time in s, ms, µs or ns: recognised from the sample rate unless stated). Anything
that cannot be trusted stops the import with a message that names the line or the column, because
an analysis of wrong numbers looks just as convincing as one of right numbers.

Nothing is invented: a step in time longer than :data:`GAP_PERIODS` sample periods is a gap.
The samples on either side are kept apart (each run put on its own grid, so memory follows the
number of samples, never the span of time), and the gaps are reported. Exact repeats of a
timestamp (real devices send them) are dropped, the first row kept, and counted.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import TextIO

import numpy as np
import numpy.typing as npt

from monitor.errors import MonitorError

STANDARD_GRAVITY = 9.80665
FloatArray = npt.NDArray[np.float64]

GAP_PERIODS = 5.0  # a step longer than this many sample periods is a gap: split, never bridged
TIME_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}
_UNIT_NAMES = {"s": "seconds", "ms": "milliseconds", "us": "microseconds", "ns": "nanoseconds"}
# Rates an IMU is plausibly sampled at. The window is a factor 1000 wide, so the windows of the
# four time units meet without overlapping and the median step picks exactly one unit.
PLAUSIBLE_RATE_HZ = (2.0, 2000.0)
_READ_CHUNK = 1 << 22  # characters per read while counting fields


class CsvImportError(MonitorError, ValueError):
    """The CSV file cannot be read as an IMU recording."""


@dataclass(frozen=True, slots=True)
class CsvColumns:
    time: str = "t"
    acc: tuple[str, str, str] = ("ax", "ay", "az")
    gyr: tuple[str, str, str] = ("gx", "gy", "gz")

    @classmethod
    def parse(cls, spec: str) -> CsvColumns:
        """``t,ax,ay,az[,gx,gy,gz]``: the names of the columns to use, in this order."""
        names = [n.strip() for n in spec.split(",")]
        if len(names) not in (4, 7) or not all(names):
            raise CsvImportError(
                "--columns takes 4 or 7 comma-separated names (t,ax,ay,az[,gx,gy,gz]),"
                f" not {spec!r}"
            )
        gyr = (names[4], names[5], names[6]) if len(names) == 7 else cls().gyr
        return cls(names[0], (names[1], names[2], names[3]), gyr)


@dataclass(frozen=True, slots=True)
class Gap:
    """Time with no samples: from the last sample before it to the first one after, s."""

    start: float
    end: float
    line: int  # the file's line (header = 1) of the first sample after the gap

    @property
    def duration_s(self) -> float:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class ImuRecording:
    """Runs of samples on a uniform time grid, in SI units, with the gaps between the runs."""

    t: FloatArray  # (N,) s
    acc: FloatArray  # (N, 3) m/s²
    gyr: FloatArray | None  # (N, 3) rad/s, None when the file has no gyroscope
    rate_hz: float
    resampled: bool  # True when the file's timing was irregular and was put on a grid
    run_starts: tuple[int, ...] = (0,)  # index of the first sample of each run (after a gap)
    gaps: tuple[Gap, ...] = ()  # gaps[i] lies before run_starts[i + 1]
    duplicates: int = 0  # rows dropped because they repeated the previous row's time exactly
    time_unit: str = "s"  # the unit the file's time column was read in

    def __len__(self) -> int:
        return len(self.t)

    def notes(self) -> list[str]:
        """What the reader did to the file's timing, for the user (empty when nothing)."""
        notes: list[str] = []
        if self.time_unit != "s":
            notes.append(
                f"time column read as {_UNIT_NAMES[self.time_unit]} ({self.rate_hz:.4g} Hz);"
                " say --time-unit if that is wrong"
            )
        if self.duplicates:
            notes.append(
                f"{self.duplicates} row{'s' if self.duplicates != 1 else ''} repeating the"
                " previous time dropped (the first row of each time kept)"
            )
        if self.gaps:
            total = sum(g.duration_s for g in self.gaps)
            longest = max(self.gaps, key=lambda g: g.duration_s)
            notes.append(
                f"{len(self.gaps)} gap{'s' if len(self.gaps) != 1 else ''} in time, {total:.6g} s"
                f" without data in all (longest {longest.duration_s:.6g} s, before line"
                f" {longest.line}): not filled in; marked no_data in the output"
            )
        return notes


ACC_UNITS = {"m/s2": 1.0, "g": STANDARD_GRAVITY}
GYR_UNITS = {"rad/s": 1.0, "deg/s": math.pi / 180.0}


def read_imu_csv(
    path: Path | str,
    *,
    columns: CsvColumns = CsvColumns(),
    acc_unit: str = "m/s2",
    gyr_unit: str = "rad/s",
    time_unit: str = "auto",
) -> ImuRecording:
    path = Path(path)
    if time_unit != "auto" and time_unit not in TIME_UNITS:
        raise CsvImportError(f"time unit must be 'auto' or one of {sorted(TIME_UNITS)}")
    if acc_unit not in ACC_UNITS:
        raise CsvImportError(f"accelerometer unit must be one of {sorted(ACC_UNITS)}")
    if gyr_unit not in GYR_UNITS:
        raise CsvImportError(f"gyroscope unit must be one of {sorted(GYR_UNITS)}")
    try:
        # utf-8-sig: a byte-order mark (spreadsheets write one) is not part of the first name.
        with path.open(newline="", encoding="utf-8-sig") as f:
            try:
                header = [h.strip() for h in next(csv.reader([f.readline()]), [])]
            except csv.Error as exc:
                raise CsvImportError(f"{path}, line 1: {exc}") from exc
            if not header or not f.readline().strip():
                raise CsvImportError(f"{path}: empty file, or a header and no data")
            missing = [n for n in (columns.time, *columns.acc) if n not in header]
            if missing:
                raise CsvImportError(
                    f"{path}: missing column{'s' if len(missing) > 1 else ''} "
                    + ", ".join(repr(m) for m in missing)
                    + f" (the header has: {', '.join(header)}); name yours with --columns"
                )
            has_gyr = all(n in header for n in columns.gyr)
            wanted = [columns.time, *columns.acc, *(columns.gyr if has_gyr else ())]
            indexes = [header.index(n) for n in wanted]
            _check_widths(path, f, len(header))
            f.seek(0)
            values = _parse(path, f, indexes, wanted, len(header))
    except OSError as exc:
        raise CsvImportError(f"{path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise CsvImportError(f"{path}: not a text CSV file ({exc.reason})") from exc
    keep, lines = _check_time(path, values[:, 0])
    duplicates = len(keep) - int(np.count_nonzero(keep))
    if duplicates:
        values, lines = values[keep], lines[keep]
    unit = time_unit if time_unit != "auto" else _time_unit(path, values[:, 0])
    t = values[:, 0] * TIME_UNITS[unit]
    acc = values[:, 1:4] * ACC_UNITS[acc_unit]
    gyr = values[:, 4:7] * GYR_UNITS[gyr_unit] if has_gyr else None
    _check_units(path, acc, gyr, acc_unit, gyr_unit)
    return _in_runs(t, acc, gyr, lines, duplicates=duplicates, time_unit=unit)


def _rows(path: Path, f: TextIO) -> Iterator[tuple[int, list[str]]]:
    """The csv module's rows after the header, numbered as editors number lines.

    Its own refusals (a field over its size limit, a stray quote) name the line too.
    """
    reader = csv.reader(f)
    try:
        for row in reader:
            yield reader.line_num + 1, row
    except csv.Error as exc:
        raise CsvImportError(f"{path}, line {reader.line_num + 1}: {exc}") from exc


def _check_widths(path: Path, f: TextIO, width: int) -> None:
    """Every row must have the header's number of fields: a longer row is a shifted one.

    Counting commas and line ends in large reads is cheap and needs no memory; only when the
    counts disagree (a row of the wrong width, or just quoted commas or blank lines) does the
    csv module go through the file to find the line, if there is one.
    """
    f.seek(0)
    f.readline()
    rows = commas = 0
    last = "\n"
    while chunk := f.read(_READ_CHUNK):
        rows += chunk.count("\n")
        commas += chunk.count(",")
        last = chunk[-1]
    rows += last != "\n"
    if commas == rows * (width - 1):
        return
    f.seek(0)
    f.readline()
    for number, row in _rows(path, f):
        if row and len(row) != width:
            raise CsvImportError(
                f"{path}, line {number}: {len(row)} fields where the header has {width}"
            )


def _parse(path: Path, f: TextIO, indexes: list[int], names: list[str], width: int) -> FloatArray:
    """pandas' C parser over the open file; the slow pass only to explain a failure.

    pandas, not ``np.loadtxt``: the same numbers in about a fifth of the CPU time.
    """
    import pandas as pd  # here: the rest of tiltmon starts without it

    try:
        frame = pd.read_csv(
            f,
            header=None,
            skiprows=1,
            usecols=indexes,
            dtype=np.float64,
            engine="c",
        )
        # usecols gives the columns in file order; put them in the order asked for
        in_file = sorted(indexes)
        values = frame.to_numpy(dtype=np.float64)[:, [in_file.index(i) for i in indexes]]
    except (ValueError, pd.errors.ParserError):
        values = None
    if values is None or values.shape[1] != len(indexes):
        f.seek(0)
        raise _first_bad_line(path, f, indexes, names, width)
    bad = ~np.isfinite(values)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise CsvImportError(
            f"{path}, line {row + 2}, column {names[col]!r}: {values[row, col]} is not a number"
            " (NaN or infinite values cannot be analysed; remove or fill them)"
        )
    return np.asarray(values, dtype=np.float64)


def _first_bad_line(
    path: Path, f: TextIO, indexes: list[int], names: list[str], width: int
) -> CsvImportError:
    """The slow second pass that finds which line broke the fast parser."""
    f.readline()  # the header
    for number, row in _rows(path, f):
        if not row:
            continue
        if len(row) != width:
            return CsvImportError(
                f"{path}, line {number}: {len(row)} fields where the header has {width}"
            )
        for index, name in zip(indexes, names, strict=True):
            try:
                float(row[index])
            except ValueError:
                return CsvImportError(
                    f"{path}, line {number}, column {name!r}: {row[index]!r} is not a number"
                )
    return CsvImportError(f"{path}: could not be parsed as CSV")


def _check_time(path: Path, t: FloatArray) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.int64]]:
    """Rows to keep (exact repeats of the previous time dropped) and each row's line number.

    Time going backwards is refused, naming both times with every digit they have.
    """
    if len(t) < 2:
        raise CsvImportError(f"{path}: fewer than two samples")
    steps = np.diff(t)
    back = np.flatnonzero(steps < 0)
    if len(back):
        row = int(back[0]) + 1
        raise CsvImportError(
            f"{path}, line {row + 2}: time {float(t[row])!r} comes before the previous line's"
            f" {float(t[row - 1])!r} (time must increase from line to line)"
        )
    keep = np.concatenate([[True], steps > 0])
    if np.count_nonzero(keep) < 2:
        raise CsvImportError(f"{path}: fewer than two samples with different times")
    return keep, np.arange(2, len(t) + 2, dtype=np.int64)


def _time_unit(path: Path, t: FloatArray) -> str:
    """The unit that puts the median step at a plausible IMU rate, or a plain refusal."""
    step = float(np.median(np.diff(t)))
    lo, hi = PLAUSIBLE_RATE_HZ
    for unit, scale in TIME_UNITS.items():
        if lo <= 1.0 / (step * scale) < hi:
            return unit
    raise CsvImportError(
        f"{path}: the time column's typical step is {step:.6g}, which is not a sample rate"
        f" between {lo:g} and {hi:g} Hz in seconds, milliseconds, microseconds or nanoseconds;"
        " say which unit it is with --time-unit"
    )


def _check_units(
    path: Path, acc: FloatArray, gyr: FloatArray | None, acc_unit: str, gyr_unit: str
) -> None:
    """Gravity must look like gravity: the commonest mistake is g read as m/s² or vice versa."""
    gravity = float(np.median(np.linalg.norm(acc, axis=1)))
    if not 0.6 * STANDARD_GRAVITY <= gravity <= 1.4 * STANDARD_GRAVITY:
        hint = ""
        if 0.6 <= gravity <= 1.4 and acc_unit != "g":
            hint = "; the values look like g: use --acc-unit g"
        elif 6 * STANDARD_GRAVITY <= gravity <= 14 * STANDARD_GRAVITY and acc_unit == "g":
            hint = "; the values look like m/s²: use --acc-unit m/s2"
        raise CsvImportError(
            f"{path}: the accelerometer's typical magnitude is {gravity:.3g} m/s² after unit"
            f" conversion, not the {STANDARD_GRAVITY} m/s² of gravity{hint}"
        )
    if gyr is not None:
        # A belt-worn sensor rarely turns faster than ~10 rad/s; deg/s read as rad/s is 57× off.
        fast = float(np.percentile(np.abs(gyr), 99))
        if fast > 20.0:
            hint = "; the values look like °/s: use --gyr-unit deg/s" if gyr_unit == "rad/s" else ""
            raise CsvImportError(
                f"{path}: 1% of gyroscope readings exceed {fast:.3g} rad/s, implausible for a"
                f" belt-worn sensor{hint}"
            )


def _in_runs(
    t: FloatArray,
    acc: FloatArray,
    gyr: FloatArray | None,
    lines: npt.NDArray[np.int64],
    *,
    duplicates: int,
    time_unit: str,
) -> ImuRecording:
    """Split at the gaps; put each run on the common grid (kept as is when already regular)."""
    steps = np.diff(t)
    period = float(np.median(steps))
    cuts = np.flatnonzero(steps > GAP_PERIODS * period) + 1
    bounds = [0, *cuts.tolist(), len(t)]
    gaps = tuple(Gap(float(t[i - 1]), float(t[i]), int(lines[i])) for i in cuts)
    out_t: list[FloatArray] = []
    out_acc: list[FloatArray] = []
    out_gyr: list[FloatArray] = []
    starts: list[int] = []
    resampled = False
    size = 0
    for a, b in pairwise(bounds):
        starts.append(size)
        run_t, run_acc = t[a:b], acc[a:b]
        run_gyr = gyr[a:b] if gyr is not None else None
        run_steps = steps[a : b - 1]
        if len(run_steps) and np.max(np.abs(run_steps - period)) > 0.05 * period:
            # Steps here are at most GAP_PERIODS periods: the grid has at most that many times
            # the run's samples.
            grid = np.arange(run_t[0], run_t[-1] + 0.5 * period, period)
            run_acc = _interpolate(grid, run_t, run_acc)
            run_gyr = _interpolate(grid, run_t, run_gyr) if run_gyr is not None else None
            run_t = grid
            resampled = True
        size += len(run_t)
        out_t.append(run_t)
        out_acc.append(run_acc)
        if run_gyr is not None:
            out_gyr.append(run_gyr)
    return ImuRecording(
        np.concatenate(out_t),
        np.concatenate(out_acc),
        np.concatenate(out_gyr) if gyr is not None else None,
        1.0 / period,
        resampled,
        run_starts=tuple(starts),
        gaps=gaps,
        duplicates=duplicates,
        time_unit=time_unit,
    )


def _interpolate(grid: FloatArray, t: FloatArray, values: FloatArray) -> FloatArray:
    return np.stack([np.interp(grid, t, values[:, k]) for k in range(3)], axis=1)
