"""CSV import: real files written to disk, good and bad."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from monitor.csv_import import CsvColumns, CsvImportError, read_imu_csv

G = 9.80665


def write_csv(path: Path, header: str, rows: np.ndarray) -> Path:
    with path.open("w") as f:
        f.write(header + "\n")
        np.savetxt(f, rows, delimiter=",", fmt="%.6f")
    return path


def still_rows(n: int = 200, rate: float = 50.0, *, gyro: bool = True) -> np.ndarray:
    t = np.arange(n) / rate
    acc = np.tile([0.1, 0.2, G], (n, 1))
    columns = [t[:, None], acc] + ([np.full((n, 3), 0.01)] if gyro else [])
    return np.hstack(columns)


def test_reads_si_units_with_gyroscope(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", "t,ax,ay,az,gx,gy,gz", still_rows())
    rec = read_imu_csv(path)
    assert len(rec) == 200
    assert rec.rate_hz == pytest.approx(50.0)
    assert rec.gyr is not None
    np.testing.assert_allclose(rec.acc[0], [0.1, 0.2, G], atol=1e-6)
    assert not rec.resampled


def test_reads_g_and_degrees_and_other_names_and_no_gyro(tmp_path: Path) -> None:
    rows = still_rows()
    rows[:, 1:4] /= G
    rows[:, 4:7] = 5.0  # °/s
    path = write_csv(tmp_path / "b.csv", "time,x,y,z,wx,wy,wz,extra"[:-6], rows)
    rec = read_imu_csv(
        path, columns=CsvColumns.parse("time,x,y,z,wx,wy,wz"), acc_unit="g", gyr_unit="deg/s"
    )
    np.testing.assert_allclose(rec.acc[0, 2], G, rtol=1e-5)
    assert rec.gyr is not None
    np.testing.assert_allclose(rec.gyr[0], np.radians(5.0), rtol=1e-5)
    acc_only = write_csv(tmp_path / "c.csv", "t,ax,ay,az", still_rows(gyro=False))
    assert read_imu_csv(acc_only).gyr is None


def test_irregular_timing_is_resampled_to_a_grid(tmp_path: Path) -> None:
    rows = still_rows()
    rows[:, 0] += np.random.default_rng(1).uniform(0, 0.008, len(rows))
    rows[:, 0] = np.sort(rows[:, 0])
    rec = read_imu_csv(write_csv(tmp_path / "j.csv", "t,ax,ay,az,gx,gy,gz", rows))
    assert rec.resampled
    np.testing.assert_allclose(np.diff(rec.t), 1 / rec.rate_hz)


HEADER = "t,ax,ay,az,gx,gy,gz"


def lines_of(rows: np.ndarray, header: str = HEADER) -> list[str]:
    return [header] + [",".join(f"{v:.6f}" for v in row) for row in rows]


def with_field(lines: list[str], line: int, column: int, text: str) -> list[str]:
    """Replace one field; ``line`` counts from 1 with the header as line 1, as editors do."""
    fields = lines[line - 1].split(",")
    fields[column] = text
    return [*lines[: line - 1], ",".join(fields), *lines[line:]]


def scaled(columns: slice, factor: float) -> list[str]:
    rows = still_rows()
    rows[:, columns] *= factor
    return lines_of(rows)


BAD_FILES = {
    "missing column 'az'": lines_of(still_rows()[:, :3], "t,ax,ay"),
    "line 17, column 'ay': 'abc' is not a number": with_field(lines_of(still_rows()), 17, 2, "abc"),
    "line 9, column 'az': nan is not a number": with_field(lines_of(still_rows()), 9, 3, "nan"),
    "line 40: time 0.1 s does not come after": with_field(lines_of(still_rows()), 40, 0, "0.1"),
    "use --acc-unit g": scaled(slice(1, 4), 1 / G),
    "use --gyr-unit deg/s": scaled(slice(4, 7), 57.3 * 60),
    "line 12: 5 fields where the header has 7": [
        *lines_of(still_rows())[:11],
        "0.22,0,0,9.8,0",
        *lines_of(still_rows())[12:],
    ],
}


@pytest.mark.parametrize("message", BAD_FILES)
def test_bad_files_name_the_problem(tmp_path: Path, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("\n".join(BAD_FILES[message]) + "\n")
    with pytest.raises(CsvImportError, match=message.replace("(", r"\(")):
        read_imu_csv(path)


def test_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(CsvImportError, match="No such file"):
        read_imu_csv(tmp_path / "nope.csv")
    (tmp_path / "empty.csv").write_text("t,ax,ay,az\n")
    with pytest.raises(CsvImportError, match="no data"):
        read_imu_csv(tmp_path / "empty.csv")
    (tmp_path / "binary.csv").write_bytes(b"\xff\xfe\x00\x01" * 10)
    with pytest.raises(CsvImportError):
        read_imu_csv(tmp_path / "binary.csv")
