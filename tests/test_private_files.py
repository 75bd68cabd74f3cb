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
