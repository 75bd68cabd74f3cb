"""Read IMU recordings from CSV files, from tiltmon or from any other device.

The columns are named in a header: time in seconds, accelerometer and optionally gyroscope, in
units the caller states. Anything that cannot be trusted stops the import with a message that
names the line or the column, because an analysis of wrong numbers looks just as convincing as
one of right numbers.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import numpy as np
import numpy.typing as npt

from monitor.errors import MonitorError

STANDARD_GRAVITY = 9.80665
FloatArray = npt.NDArray[np.float64]


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
class ImuRecording:
    """Samples on a uniform time grid, in SI units."""

    t: FloatArray  # (N,) s
    acc: FloatArray  # (N, 3) m/s²
    gyr: FloatArray | None  # (N, 3) rad/s, None when the file has no gyroscope
    rate_hz: float
    resampled: bool  # True when the file's timing was irregular and was put on a grid

    def __len__(self) -> int:
        return len(self.t)


ACC_UNITS = {"m/s2": 1.0, "g": STANDARD_GRAVITY}
GYR_UNITS = {"rad/s": 1.0, "deg/s": math.pi / 180.0}


def read_imu_csv(
    path: Path | str,
    *,
    columns: CsvColumns = CsvColumns(),
    acc_unit: str = "m/s2",
    gyr_unit: str = "rad/s",
) -> ImuRecording:
    path = Path(path)
    if acc_unit not in ACC_UNITS:
        raise CsvImportError(f"accelerometer unit must be one of {sorted(ACC_UNITS)}")
    if gyr_unit not in GYR_UNITS:
        raise CsvImportError(f"gyroscope unit must be one of {sorted(GYR_UNITS)}")
    try:
        with path.open(newline="") as f:
            header = [h.strip() for h in next(csv.reader([f.readline()]), [])]
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
            f.seek(0)
            values = _parse(path, f, indexes, wanted, len(header))
    except OSError as exc:
        raise CsvImportError(f"{path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise CsvImportError(f"{path}: not a text CSV file ({exc.reason})") from exc
    t = values[:, 0]
    acc = values[:, 1:4] * ACC_UNITS[acc_unit]
    gyr = values[:, 4:7] * GYR_UNITS[gyr_unit] if has_gyr else None
    _check_time(path, t)
    _check_units(path, acc, gyr, acc_unit, gyr_unit)
    return _on_grid(t, acc, gyr)


def _parse(path: Path, f: TextIO, indexes: list[int], names: list[str], width: int) -> FloatArray:
    """The fast C parser over the open file; the slow pass only to explain a failure."""
    try:
        values = np.loadtxt(
            f, delimiter=",", skiprows=1, usecols=indexes, dtype=np.float64, ndmin=2
        )
    except ValueError:
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
    for number, row in enumerate(csv.reader(f), start=2):
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


def _check_time(path: Path, t: FloatArray) -> None:
    if len(t) < 2:
        raise CsvImportError(f"{path}: fewer than two samples")
    steps = np.diff(t)
    bad = np.flatnonzero(steps <= 0)
    if len(bad):
        row = int(bad[0]) + 1
        raise CsvImportError(
            f"{path}, line {row + 2}: time {t[row]:g} s does not come after {t[row - 1]:g} s"
            " (time must increase from line to line)"
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


def _on_grid(t: FloatArray, acc: FloatArray, gyr: FloatArray | None) -> ImuRecording:
    """Estimators need a fixed rate: keep a regular file as is, resample an irregular one."""
    steps = np.diff(t)
    period = float(np.median(steps))
    rate = 1.0 / period
    if np.max(np.abs(steps - period)) <= 0.05 * period:
        return ImuRecording(t, acc, gyr, rate, resampled=False)
    grid = np.arange(t[0], t[-1] + 0.5 * period, period)

    def interpolate(values: FloatArray) -> FloatArray:
        return np.stack([np.interp(grid, t, values[:, k]) for k in range(3)], axis=1)

    return ImuRecording(
        grid, interpolate(acc), interpolate(gyr) if gyr is not None else None, rate, resampled=True
    )
