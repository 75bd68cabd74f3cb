"""CSV import: real files written to disk, good and bad."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from monitor import csv_import
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
    "line 40: time 0.1 comes before the previous line.s 0.74": with_field(
        lines_of(still_rows()), 40, 0, "0.1"
    ),
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


# --- timing that real devices produce: gaps, other units, repeats (issue 11) ------------------


def test_a_long_gap_splits_the_runs_and_is_reported_not_filled(tmp_path: Path) -> None:
    rows = still_rows(3000)
    rows[1500:, 0] += 7200.0  # a two-hour hole
    rec = read_imu_csv(write_csv(tmp_path / "g.csv", HEADER, rows))
    assert len(rec) == 3000  # nothing invented in the hole
    assert rec.run_starts == (0, 1500)
    (gap,) = rec.gaps
    assert gap.duration_s == pytest.approx(7200.02)
    assert gap.line == 1502
    assert not np.any((rec.t > gap.start) & (rec.t < gap.end))
    assert any("1 gap in time" in n and "line 1502" in n for n in rec.notes())


def test_a_huge_jump_in_irregular_timing_allocates_by_samples_not_by_time(tmp_path: Path) -> None:
    rows = still_rows(2000)
    rows[:, 0] += np.random.default_rng(2).uniform(0, 0.008, len(rows))  # put on a grid
    rows[1000:, 0] += 1e7  # 116 days: on one grid, 5e8 samples and GiBs of memory
    rec = read_imu_csv(write_csv(tmp_path / "j.csv", HEADER, rows))
    assert rec.resampled
    assert len(rec) <= 2100
    assert len(rec.gaps) == 1 and rec.gaps[0].duration_s > 9.9e6
    # Each run is on the grid; no grid step bridges the gap.
    steps = np.diff(rec.t)
    assert np.count_nonzero(steps > 0.1) == 1


@pytest.mark.parametrize(("unit", "scale"), [("ms", 1e3), ("us", 1e6), ("ns", 1e9)])
def test_time_in_ms_us_ns_is_recognised_and_said(tmp_path: Path, unit: str, scale: float) -> None:
    rows = still_rows()
    rows[:, 0] = np.round((1_750_000_000.0 + rows[:, 0]) * scale)  # Unix time in that unit
    path = tmp_path / "u.csv"
    with path.open("w") as f:
        f.write(HEADER + "\n")
        np.savetxt(f, rows, delimiter=",", fmt=["%d"] + ["%.6f"] * 6)
    rec = read_imu_csv(path)
    assert rec.time_unit == unit
    assert rec.rate_hz == pytest.approx(50.0, rel=1e-6)
    assert rec.t[0] == pytest.approx(1_750_000_000.0)
    assert len(rec) == 200 and not rec.gaps
    assert any("time column read as" in n for n in rec.notes())
    # Said explicitly, the unit is taken as given.
    assert read_imu_csv(path, time_unit=unit).time_unit == unit


def test_a_time_unit_that_fits_no_imu_rate_is_said_plainly(tmp_path: Path) -> None:
    rows = still_rows()
    rows[:, 0] *= 1e-5  # steps of 2e-7: 5 MHz in seconds, 5 kHz in ms ...
    path = write_csv(tmp_path / "u.csv", HEADER, rows)
    with pytest.raises(CsvImportError, match="say which unit"):
        read_imu_csv(path)


def test_repeated_timestamps_are_dropped_and_counted(tmp_path: Path) -> None:
    rows = still_rows()
    rows = np.insert(rows, [10, 50, 51], rows[[9, 49, 50]], axis=0)  # three exact repeats
    rec = read_imu_csv(write_csv(tmp_path / "d.csv", HEADER, rows))
    assert rec.duplicates == 3
    assert len(rec) == 200 and not rec.gaps and not rec.resampled
    assert any("3 rows repeating the previous time dropped" in n for n in rec.notes())


def test_time_going_back_is_refused_with_times_that_differ(tmp_path: Path) -> None:
    lines = lines_of(still_rows())
    lines[1] = "1750000000.123456," + lines[1].split(",", 1)[1]
    lines[2] = "1750000000.123455," + lines[2].split(",", 1)[1]
    path = tmp_path / "b.csv"
    path.write_text("\n".join(lines[:3]) + "\n")
    with pytest.raises(CsvImportError) as error:
        read_imu_csv(path)
    assert "1750000000.123455" in str(error.value) and "1750000000.123456" in str(error.value)


def test_a_byte_order_mark_is_not_part_of_the_header(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + "\n".join(lines_of(still_rows())).encode() + b"\n")
    rec = read_imu_csv(path)
    assert len(rec) == 200 and rec.gyr is not None


@pytest.mark.parametrize("header", [HEADER, "t,ax,ay,az"])
def test_a_row_with_extra_fields_is_refused_with_its_line(tmp_path: Path, header: str) -> None:
    lines = lines_of(still_rows(gyro=header == HEADER), header)
    lines[29] += ",0.5"  # line 30 has one field too many: its columns may be shifted
    path = tmp_path / "x.csv"
    path.write_text("\n".join(lines) + "\n")
    width = header.count(",") + 1
    with pytest.raises(CsvImportError, match=f"line 30: {width + 1} fields where the header has"):
        read_imu_csv(path)
    # Quoted commas and blank lines are not extra fields.
    good = lines_of(still_rows(gyro=header == HEADER), header)
    quoted = [header + ",note", *(f'{line},"a, b"' for line in good[1:])]
    path.write_text("\n".join(quoted[:50]) + "\n\n" + "\n".join(quoted[50:]) + "\n")
    assert len(read_imu_csv(path)) == 200


@pytest.mark.parametrize(
    ("line_51", "message"),
    [
        ("0.98,0,0," + "9" * 2_000_000, "line 51, column 'az': inf is not a number"),
        ("0.98,0,0,9.8" + ",1" * 1_000_000, "line 51: 1000004 fields where the header has 4"),
        ("0.98,0,0," + "x" * 2_000_000, "line 51: field larger than field limit"),
    ],
)
def test_a_huge_line_is_one_clear_error(tmp_path: Path, line_51: str, message: str) -> None:
    lines = lines_of(still_rows(gyro=False), "t,ax,ay,az")
    lines[50] = line_51
    path = tmp_path / "long.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(CsvImportError, match=message):
        read_imu_csv(path)


# --- read in chunks (issue 13: flat memory): the same samples, the same lines in messages ------


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(csv_import, "CHUNK_ROWS", 7)  # every boundary case within 200 rows


def test_chunked_reading_keeps_every_sample_and_repeat_across_boundaries(
    tmp_path: Path, small_chunks: None
) -> None:
    rows = still_rows()
    rows[:, 1:] += np.random.default_rng(4).normal(0, 0.01, (len(rows), 6))
    # repeats right at chunk boundaries (rows 7 and 14 start chunks) and within one
    rows = np.insert(rows, [7, 14, 30], rows[[6, 13, 29]], axis=0)
    rows[150:, 0] += 60.0  # a gap, found across chunks, its line counted past the repeats
    rec = read_imu_csv(write_csv(tmp_path / "c.csv", HEADER, rows))
    assert rec.duplicates == 3 and len(rec) == 200
    assert rec.acc.dtype == np.float32
    kept = np.delete(rows, [7, 15, 32], axis=0)
    np.testing.assert_allclose(rec.t, kept[:, 0], rtol=0, atol=1e-9)
    np.testing.assert_allclose(rec.acc, kept[:, 1:4], atol=1e-5)  # file: 6 decimals
    assert rec.gyr is not None
    np.testing.assert_allclose(rec.gyr, kept[:, 4:7], atol=1e-5)
    (gap,) = rec.gaps
    assert gap.line == 150 + 2  # file row 150 (after 3 repeats): header + 1-based


@pytest.mark.parametrize(
    ("line", "column", "text", "message"),
    [
        (15, 3, "nan", "line 15, column 'az': nan is not a number"),
        (99, 2, "abc", "line 99, column 'ay': 'abc' is not a number"),
        (9, 0, "0.1", "line 9: time 0.1 comes before the previous line's 0.12"),  # chunk start
    ],
)
def test_chunked_reading_names_the_line_in_a_later_chunk(
    tmp_path: Path, small_chunks: None, line: int, column: int, text: str, message: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("\n".join(with_field(lines_of(still_rows()), line, column, text)) + "\n")
    with pytest.raises(CsvImportError, match=message):
        read_imu_csv(path)
