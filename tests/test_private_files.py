"""Owner-only files that are replaced whole or not at all."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.private_files import private_output


def test_written_whole_and_owner_only(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "out.csv"
    with private_output(target) as f:
        f.write("t,ax\n1,2\n")
    assert target.read_text() == "t,ax\n1,2\n"
    assert target.stat().st_mode & 0o777 == 0o600
    assert target.parent.stat().st_mode & 0o777 == 0o700


def test_a_failure_keeps_the_old_file_and_leaves_no_partial(tmp_path: Path) -> None:
    target = tmp_path / "out.png"
    target.write_bytes(b"old")

    def write_half() -> None:
        with private_output(target, binary=True) as f:
            f.write(b"half")
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk"):
        write_half()
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def _under_umask(umask: int, *args: str, env: dict[str, str]) -> None:
    import os
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "monitor.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
        preexec_fn=lambda: os.umask(umask),  # the child's umask only
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("umask", [0o277, 0o022, 0o000])
def test_folders_the_project_creates_are_0700_whatever_the_umask(
    tmp_path: Path, umask: int
) -> None:
    import numpy as np

    from firmware_sim.simulation import simulate

    rec = simulate("desk_short", seed=5, rate_hz=50, duration_s=60.0)
    source = tmp_path / "in.csv"
    with source.open("w") as f:
        f.write("t,ax,ay,az,gx,gy,gz\n")
        np.savetxt(f, np.column_stack([rec.t, rec.acc, rec.gyr]), delimiter=",", fmt="%.6f")
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o755)
    out = shared / "new" / "deeper" / "out.csv"
    _under_umask(umask, "analyze", str(source), "--out", str(out), env={})
    for folder in (shared / "new", shared / "new" / "deeper"):
        assert _mode(folder) == 0o700
    assert _mode(out) == 0o600
    data = tmp_path / "data" / "nested"
    _under_umask(
        umask, "stream", "--sim", "--seconds", "1", "--json", env={"TILTMON_DATA_DIR": str(data)}
    )
    for folder in (tmp_path / "data", data, data / "sessions"):
        assert _mode(folder) == 0o700
    (session,) = (data / "sessions").iterdir()
    assert _mode(session) == 0o600
    assert _mode(shared) == 0o755  # a folder that existed is left as it was
