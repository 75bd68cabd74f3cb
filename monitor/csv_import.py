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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import TextIO

import numpy as np
import numpy.typing as npt

from monitor.errors import MonitorError

STANDARD_GRAVITY = 9.80665
FloatArray = npt.NDArray[np.float64]
Float32Array = npt.NDArray[np.float32]  # samples as kept: finer than any IMU resolves

GAP_PERIODS = 5.0  # a step longer than this many sample periods is a gap: split, never bridged
TIME_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}
_UNIT_NAMES = {"s": "seconds", "ms": "milliseconds", "us": "microseconds", "ns": "nanoseconds"}
# Rates an IMU is plausibly sampled at. The window is a factor 1000 wide, so the windows of the
# four time units meet without overlapping and the median step picks exactly one unit.
PLAUSIBLE_RATE_HZ = (2.0, 2000.0)
_READ_CHUNK = 1 << 22  # characters per read while counting fields
CHUNK_ROWS = 1 << 17  # rows parsed at a time: ~5 MB of text, ~7 MB of float64
_NORM_BIN = 1e-3  # m/s²: the unit check's median |acc| to well within its 3 digits
_NORM_BINS = 300_000  # up to 300 m/s² (30 g); beyond, in the last bin
FAST_GYRO_RAD_S = 20.0  # a belt-worn sensor beyond this in 1% of readings: the wrong unit


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
    acc: Float32Array  # (N, 3) m/s²
    gyr: Float32Array | None  # (N, 3) rad/s, None when the file has no gyroscope
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
            rows = _check_widths(path, f, len(header))
            f.seek(0)
            store = _SampleStore(path, rows, gyro=has_gyr)
            _parse(path, f, indexes, wanted, len(header), store, ACC_UNITS[acc_unit])
    except OSError as exc:
        raise CsvImportError(f"{path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise CsvImportError(f"{path}: not a text CSV file ({exc.reason})") from exc
    t, acc, gyr = store.arrays()
    if store.rows_read < 2:
        raise CsvImportError(f"{path}: fewer than two samples")
    if len(t) < 2:
        raise CsvImportError(f"{path}: fewer than two samples with different times")
    unit = time_unit if time_unit != "auto" else _time_unit(path, t)
    t *= TIME_UNITS[unit]
    if gyr is not None:
        gyr *= GYR_UNITS[gyr_unit]
    _check_units(path, store, gyr, acc_unit, gyr_unit)
    return _in_runs(t, acc, gyr, store.line_of, duplicates=store.duplicates, time_unit=unit)


class _SampleStore:
    """The samples kept while the file is read a chunk at a time: time in float64 (Unix time
    needs its digits), acceleration and rotation rate in float32 (24 bytes a sample, far finer
    than any IMU's resolution). Repeats of the previous time are dropped as they come, and time
    going back is refused with its line, across chunk boundaries too."""

    def __init__(self, path: Path, rows: int, *, gyro: bool) -> None:
        self.path = path
        capacity = max(rows, 2)
        self.t = np.empty(capacity)
        self.acc = np.empty((capacity, 3), dtype=np.float32)
        self.gyr = np.empty((capacity, 3), dtype=np.float32) if gyro else None
        self.size = 0
        self.rows_read = 0  # rows after the header, kept or not
        self.duplicates = 0
        # for each dropped row, how many rows were kept before it: lines of kept rows follow
        self._dropped_after: list[npt.NDArray[np.int64]] = []
        # |acc| counted in fine bins for the unit check's median (no array of all of them)
        self.norm_counts = np.zeros(_NORM_BINS, dtype=np.int64)

    def add(self, values: FloatArray, acc_scale: float) -> None:
        """One chunk: column 0 time, 1-3 acceleration, 4-6 rotation rate (file units)."""
        t = values[:, 0]
        previous = self.t[self.size - 1] if self.size else None
        steps = np.diff(t, prepend=t[0] if previous is None else previous)
        back = np.flatnonzero(steps < 0)
        if len(back):
            row = int(back[0])
            before = float(t[row - 1]) if row > 0 else float(previous)  # type: ignore[arg-type]
            raise CsvImportError(
                f"{self.path}, line {self.rows_read + row + 2}: time {float(t[row])!r} comes"
                f" before the previous line's {before!r} (time must increase from line to line)"
            )
        keep = steps > 0
        if previous is None:
            keep[0] = True
        dropped = np.flatnonzero(~keep)
        if len(dropped):
            self.duplicates += len(dropped)
            kept_before = self.size + np.cumsum(keep)[dropped]
            self._dropped_after.append(kept_before.astype(np.int64))
            values = values[keep]
        self._grow(self.size + len(values))
        lo, hi = self.size, self.size + len(values)
        self.t[lo:hi] = values[:, 0]
        self.acc[lo:hi] = values[:, 1:4] * acc_scale
        norms = np.linalg.norm(values[:, 1:4] * acc_scale, axis=1)
        bins = np.minimum((norms / _NORM_BIN).astype(np.int64), _NORM_BINS - 1)
        self.norm_counts += np.bincount(bins, minlength=_NORM_BINS)
        if self.gyr is not None:
            self.gyr[lo:hi] = values[:, 4:7]
        self.size = hi
        self.rows_read += len(t)

    def _grow(self, needed: int) -> None:
        if needed <= len(self.t):
            return
        capacity = max(needed, 2 * len(self.t))  # only when the row count was an estimate
        self.t = np.resize(self.t, capacity)
        self.acc = np.resize(self.acc, (capacity, 3))
        if self.gyr is not None:
            self.gyr = np.resize(self.gyr, (capacity, 3))

    def arrays(self) -> tuple[FloatArray, Float32Array, Float32Array | None]:
        n = self.size
        gyr = self.gyr[:n] if self.gyr is not None else None
        return self.t[:n], self.acc[:n], gyr

    def median_norm(self) -> float:
        """The median |acc| of the kept samples, m/s², to within half a bin."""
        middle = int(np.searchsorted(np.cumsum(self.norm_counts), (self.size + 1) // 2))
        return (middle + 0.5) * _NORM_BIN

    def line_of(self, index: int) -> int:
        """The file's line (header = 1) of the kept sample ``index``."""
        dropped = np.concatenate(self._dropped_after) if self._dropped_after else np.zeros(0)
        return index + 2 + int(np.searchsorted(dropped, index, side="right"))


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


def _check_widths(path: Path, f: TextIO, width: int) -> int:
    """Every row must have the header's number of fields: a longer row is a shifted one.

    Counting commas and line ends in large reads is cheap and needs no memory; only when the
    counts disagree (a row of the wrong width, or just quoted commas or blank lines) does the
    csv module go through the file to find the line, if there is one. Returns the number of
    line ends after the header: the rows, or a little more (blank lines, quoted line ends).
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
        return rows
    f.seek(0)
    f.readline()
    for number, row in _rows(path, f):
        if row and len(row) != width:
            raise CsvImportError(
                f"{path}, line {number}: {len(row)} fields where the header has {width}"
            )
    return rows


def _parse(
    path: Path,
    f: TextIO,
    indexes: list[int],
    names: list[str],
    width: int,
    store: _SampleStore,
    acc_scale: float,
) -> None:
    """pandas' C parser over the open file, a chunk at a time into ``store``; the slow pass
    only to explain a failure.

    pandas, not ``np.loadtxt``: the same numbers in about a fifth of the CPU time. Chunks, so
    that memory holds the kept samples and one chunk of text, not the whole file as float64.
    """
    import pandas as pd  # here: the rest of tiltmon starts without it

    in_file = sorted(indexes)  # usecols gives the columns in file order: put them in ours
    order = [in_file.index(i) for i in indexes]
    try:
        chunks = pd.read_csv(
            f,
            header=None,
            skiprows=1,
            usecols=indexes,
            dtype=np.float64,
            engine="c",
            chunksize=CHUNK_ROWS,
        )
        with chunks:
            for frame in chunks:
                values = frame.to_numpy(dtype=np.float64)
                if values.shape[1] != len(indexes):
                    raise ValueError("columns missing")
                if order != sorted(order):
                    values = values[:, order]
                bad = ~np.isfinite(values)
                if bad.any():
                    row, col = np.argwhere(bad)[0]
                    raise CsvImportError(
                        f"{path}, line {store.rows_read + row + 2}, column {names[col]!r}:"
                        f" {values[row, col]} is not a number (NaN or infinite values cannot"
                        " be analysed; remove or fill them)"
                    )
                store.add(values, acc_scale)
    except CsvImportError:
        raise
    except (ValueError, pd.errors.ParserError):
        f.seek(0)
        raise _first_bad_line(path, f, indexes, names, width) from None


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


def _time_unit(path: Path, t: FloatArray) -> str:
    """The unit that puts the median step at a plausible IMU rate, or a plain refusal."""
    step = _median_step(t)
    lo, hi = PLAUSIBLE_RATE_HZ
    for unit, scale in TIME_UNITS.items():
        if lo <= 1.0 / (step * scale) < hi:
            return unit
    raise CsvImportError(
        f"{path}: the time column's typical step is {step:.6g}, which is not a sample rate"
        f" between {lo:g} and {hi:g} Hz in seconds, milliseconds, microseconds or nanoseconds;"
        " say which unit it is with --time-unit"
    )


def _median_step(t: FloatArray) -> float:
    """``np.median(np.diff(t))``, exactly, without an array of all the steps.

    A recording's steps take few distinct values (a regular clock, rounded), so they are counted
    per value a chunk at a time; only if they turn out too varied is the plain way taken.
    """
    values = np.zeros(0)
    counts = np.zeros(0, dtype=np.int64)
    for start in range(0, len(t) - 1, CHUNK_ROWS):
        step_values, step_counts = np.unique(
            np.diff(t[start : start + CHUNK_ROWS + 1]), return_counts=True
        )
        values, where = np.unique(np.concatenate([values, step_values]), return_inverse=True)
        merged = np.zeros(len(values), dtype=np.int64)
        np.add.at(merged, where, np.concatenate([counts, step_counts]))
        counts = merged
        if len(values) > CHUNK_ROWS:  # jittery time stamps: as many values as steps
            return float(np.median(np.diff(t), overwrite_input=True))
    n = int(counts.sum())
    cumulative = np.cumsum(counts)
    low = values[np.searchsorted(cumulative, (n - 1) // 2 + 1)]
    high = values[np.searchsorted(cumulative, n // 2 + 1)]
    return float((low + high) / 2) if n % 2 == 0 else float(low)


def _check_units(
    path: Path,
    store: _SampleStore,
    gyr: Float32Array | None,
    acc_unit: str,
    gyr_unit: str,
) -> None:
    """Gravity must look like gravity: the commonest mistake is g read as m/s² or vice versa."""
    gravity = store.median_norm()
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
        # Counted a block at a time; the percentile itself only when it can exceed the limit.
        over = sum(
            int(np.count_nonzero(np.abs(gyr[i : i + CHUNK_ROWS]) > FAST_GYRO_RAD_S))
            for i in range(0, len(gyr), CHUNK_ROWS)
        )
        if over < 0.005 * gyr.size:
            return
        fast = float(np.percentile(np.abs(gyr).astype(np.float64), 99))
        if fast > FAST_GYRO_RAD_S:
            hint = "; the values look like °/s: use --gyr-unit deg/s" if gyr_unit == "rad/s" else ""
            raise CsvImportError(
                f"{path}: 1% of gyroscope readings exceed {fast:.3g} rad/s, implausible for a"
                f" belt-worn sensor{hint}"
            )


def _in_runs(
    t: FloatArray,
    acc: Float32Array,
    gyr: Float32Array | None,
    line_of: Callable[[int], int],
    *,
    duplicates: int,
    time_unit: str,
) -> ImuRecording:
    """Split at the gaps; put each run on the common grid (kept as is when already regular).

    Regular runs stay where the reader put them (no copy); only a file with irregular timing is
    copied onto its grid.
    """
    period = _median_step(t)
    cuts = np.concatenate(  # a chunk at a time: no array of all the steps
        [
            start
            + 1
            + np.flatnonzero(np.diff(t[start : start + CHUNK_ROWS + 1]) > GAP_PERIODS * period)
            for start in range(0, len(t) - 1, CHUNK_ROWS)
        ]
    ).astype(np.int64)
    bounds = [0, *cuts.tolist(), len(t)]
    gaps = tuple(Gap(float(t[i - 1]), float(t[i]), line_of(int(i))) for i in cuts)
    starts = [a for a, _ in pairwise(bounds)]
    irregular = [_irregular(t[a:b], period) for a, b in pairwise(bounds)]
    if any(irregular):
        t, acc, gyr, starts = _on_grid(t, acc, gyr, bounds, irregular, period)
    return ImuRecording(
        t,
        acc,
        gyr,
        1.0 / period,
        any(irregular),
        run_starts=tuple(starts),
        gaps=gaps,
        duplicates=duplicates,
        time_unit=time_unit,
    )


def _irregular(run_t: FloatArray, period: float) -> bool:
    """Whether a run's steps stray from the period by more than 5 % (checked a block at a time)."""
    for i in range(0, len(run_t) - 1, CHUNK_ROWS):
        steps = np.diff(run_t[i : i + CHUNK_ROWS + 1])
        if len(steps) and np.max(np.abs(steps - period)) > 0.05 * period:
            return True
    return False


def _on_grid(
    t: FloatArray,
    acc: Float32Array,
    gyr: Float32Array | None,
    bounds: list[int],
    irregular: list[bool],
    period: float,
) -> tuple[FloatArray, Float32Array, Float32Array | None, list[int]]:
    # Steps within a run are at most GAP_PERIODS periods: the grid has at most that many times
    # the run's samples.
    grids = [
        np.arange(t[a], t[b - 1] + 0.5 * period, period) if odd else t[a:b]
        for (a, b), odd in zip(pairwise(bounds), irregular, strict=True)
    ]
    starts = np.cumsum([0] + [len(g) for g in grids[:-1]]).tolist()
    total = sum(len(g) for g in grids)
    out_t = np.concatenate(grids)
    out_acc = np.empty((total, 3), dtype=np.float32)
    out_gyr = np.empty((total, 3), dtype=np.float32) if gyr is not None else None
    for (a, b), grid, start, odd in zip(pairwise(bounds), grids, starts, irregular, strict=True):
        stop = start + len(grid)
        for source, out in ((acc, out_acc), (gyr, out_gyr)):
            if source is None or out is None:
                continue
            if odd:
                out[start:stop] = _interpolate(grid, t[a:b], source[a:b])
            else:
                out[start:stop] = source[a:b]
    return out_t, out_acc, out_gyr, starts


def _interpolate(grid: FloatArray, t: FloatArray, values: Float32Array) -> FloatArray:
    return np.stack([np.interp(grid, t, values[:, k]) for k in range(3)], axis=1)
