"""Outputs never replace a recording or an input; failures to write end in one line.

Each test runs the real ``tiltmon`` command in a subprocess on real files: what a user sees is
the exit status and stderr, so those are what is checked.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from report_helpers import write_sim_session

from monitor.recording import read_info

T0 = 1_763_629_200.0


def tiltmon(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def one_line_failure(result: subprocess.CompletedProcess[str], text: str) -> None:
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("tiltmon: ") and text in lines[0], lines[0]


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("rec") / "s.tiltmon"
    write_sim_session(path, "standing", T0, duration_s=20.0)
    return path


@pytest.fixture(scope="module")
def imu_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from firmware_sim.simulation import simulate

    rec = simulate("desk_short", seed=5, rate_hz=50, duration_s=60.0)
    path = tmp_path_factory.mktemp("csv") / "in.csv"
    with path.open("w") as f:
        f.write("t,ax,ay,az,gx,gy,gz\n")
        np.savetxt(f, np.column_stack([T0 + rec.t, rec.acc, rec.gyr]), delimiter=",", fmt="%.6f")
    return path


@pytest.mark.slow
def test_export_refuses_to_write_over_the_recording_even_with_force(
    session: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "copy.tiltmon"
    shutil.copy(session, copy)
    before = copy.read_bytes()
    for extra in ((), ("--force",)):
        result = tiltmon("export", str(copy), "--csv", "--out", str(copy), *extra)
        one_line_failure(result, "will not write over the input")
    assert copy.read_bytes() == before
    assert read_info(copy).complete
    # Another recording as the output: refused too, --force or not.
    other = tmp_path / "other.tiltmon"
    shutil.copy(session, other)
    result = tiltmon("export", str(copy), "--csv", "--out", str(other), "--force")
    one_line_failure(result, "will not write over the recording")
    assert read_info(other).complete


@pytest.mark.slow
def test_export_needs_force_to_replace_an_existing_file(session: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    out.write_text("precious\n")
    one_line_failure(tiltmon("export", str(session), "--csv", "--out", str(out)), "--force")
    assert out.read_text() == "precious\n"
    # The events companion counts as an output too.
    out.unlink()
    events = tmp_path / "out.events.csv"
    events.write_text("precious\n")
    one_line_failure(tiltmon("export", str(session), "--csv", "--out", str(out)), "--force")
    assert events.read_text() == "precious\n" and not out.exists()
    result = tiltmon("export", str(session), "--csv", "--out", str(out), "--force")
    assert result.returncode == 0, result.stderr
    assert out.read_text().startswith("t,sensor_time")
    assert events.read_text().startswith("t,kind")


def test_analyze_refuses_to_write_over_its_input(imu_csv: Path, tmp_path: Path) -> None:
    data = tmp_path / "in.csv"
    shutil.copy(imu_csv, data)
    before = data.read_bytes()
    for extra in ((), ("--force",)):
        one_line_failure(
            tiltmon("analyze", str(data), "--out", str(data), *extra), "will not write over"
        )
    # The same file under another name (a hard link) is still the input.
    link = tmp_path / "link.csv"
    os.link(data, link)
    one_line_failure(
        tiltmon("analyze", str(data), "--out", str(link), "--force"), "will not write over"
    )
    assert data.read_bytes() == before


@pytest.mark.slow
def test_analyze_replaces_another_file_only_with_force(imu_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    out.write_text("precious\n")
    one_line_failure(tiltmon("analyze", str(imu_csv), "--out", str(out)), "pass --force")
    assert out.read_text() == "precious\n"
    result = tiltmon("analyze", str(imu_csv), "--out", str(out), "--force")
    assert result.returncode == 0, result.stderr
    assert out.read_text().startswith("t,posture")


@pytest.mark.parametrize("where", ["folder", "under_a_file", "unwritable"])
def test_an_impossible_out_is_one_line(imu_csv: Path, tmp_path: Path, where: str) -> None:
    out = {
        "folder": tmp_path,
        "under_a_file": imu_csv / "out.csv",
        # /proc refuses new files even to root, whose permission bits are no obstacle.
        "unwritable": Path("/proc/tiltmon-out.csv"),
    }[where]
    result = tiltmon("analyze", str(imu_csv), "--out", str(out), "--force")
    one_line_failure(result, str(out))


def _can_mount_private_tmpfs() -> bool:
    if shutil.which("unshare") is None or os.geteuid() != 0:
        return False
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=16k none /mnt"],
        capture_output=True,
    )
    return probe.returncode == 0


needs_tmpfs = pytest.mark.skipif(
    not _can_mount_private_tmpfs(), reason="needs root and unshare to mount a small tmpfs"
)


def on_full_disk(disk: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """``tiltmon ARGS`` with a full tmpfs mounted at ``disk``, in a private mount namespace.

    Also returns what was left on that disk besides the filler (the mount vanishes with the
    namespace, so it is listed from inside).
    """
    disk.mkdir(exist_ok=True)
    command = " ".join(f"'{a}'" for a in (sys.executable, "-m", "monitor.cli", *args))
    script = (
        f"mount -t tmpfs -o size=32k none '{disk}' || exit 99\n"
        f"cat /dev/zero > '{disk}/filler' 2>/dev/null\n"
        f"{command}\n"
        "rc=$?\n"
        f"echo LEFT: $(ls -A '{disk}')\n"
        "exit $rc\n"
    )
    result = subprocess.run(
        ["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, timeout=120
    )
    left = result.stdout.rsplit("LEFT:", 1)[1].split()
    return result, [name for name in left if name != "filler"]


@needs_tmpfs
def test_a_full_disk_in_analyze_is_one_line(imu_csv: Path, tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    result, left = on_full_disk(disk, "analyze", str(imu_csv), "--out", str(disk / "o.csv"))
    one_line_failure(result, "No space left on device")
    assert left == []  # no partial file left behind


@pytest.mark.slow
@needs_tmpfs
def test_a_full_disk_in_export_and_report_is_one_line(session: Path, tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    result, left = on_full_disk(disk, "export", str(session), "--csv", "--out", str(disk / "o.csv"))
    one_line_failure(result, "No space left on device")
    assert left == []
    result, left = on_full_disk(disk, "report", str(session), "--png", str(disk / "r.png"))
    assert left == []
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].endswith("No space left on device")


def test_a_bug_shows_its_traceback_and_asks_for_a_report(tmp_path: Path) -> None:
    # A programming error planted in a command: it must not pass for a user error (exit 2).
    script = (
        "import sys, monitor.commands.analyze as a, monitor.cli as c\n"
        "def broken(args): return int('not a number')\n"
        "a.run_analyze = broken\n"
        "sys.exit(c.main(['analyze', 'x.csv', '--out', sys.argv[1]]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "o.csv")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 70
    assert "Traceback" in result.stderr and "ValueError" in result.stderr
    assert "this is a bug in tiltmon" in result.stderr
    assert "please report it" in result.stderr


def test_an_unknown_scenario_is_the_users_typo_not_a_bug() -> None:
    result = tiltmon("stream", "--sim", "no_such_scenario", "--seconds", "1", "--no-record")
    one_line_failure(result, "unknown scenario 'no_such_scenario'")


@pytest.mark.slow
def test_the_report_image_never_replaces_a_recording(session: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy.tiltmon"
    shutil.copy(session, copy)
    before = copy.read_bytes()
    one_line_failure(
        tiltmon("report", str(session), "--png", str(copy)), "will not write over the recording"
    )
    assert copy.read_bytes() == before
    one_line_failure(tiltmon("report", str(session), "--png", str(tmp_path)), "is a folder")
