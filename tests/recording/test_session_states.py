"""``tiltmon sessions`` tells complete, live, killed, damaged and empty sessions apart, and
deletes and prunes them; run as the real command over real session files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from recording_helpers import synthetic_items, write_session

from monitor.recording import SessionRecorder

KILLED = """
import os, signal, sys
sys.path.insert(0, {helpers!r})
from recording_helpers import synthetic_items, write_session
write_session(__import__("pathlib").Path({path!r}), synthetic_items(5), close=False).flush()
os.kill(os.getpid(), signal.SIGKILL)
"""


def tiltmon(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor.cli", "sessions", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "TILTMON_DATA_DIR": str(data)},
    )


def states(data: Path) -> dict[str, str]:
    result = tiltmon(data, "--json")
    assert result.returncode == 0, result.stderr
    return {Path(row["file"]).name: row["state"] for row in json.loads(result.stdout)}


@pytest.fixture
def sessions(tmp_path: Path) -> tuple[Path, Path]:
    data = tmp_path / "data"
    directory = data / "sessions"
    directory.mkdir(parents=True)
    return data, directory


@pytest.mark.slow
def test_each_kind_of_session_is_listed_as_what_it_is(sessions: tuple[Path, Path]) -> None:
    data, directory = sessions
    write_session(directory / "a-complete.tiltmon", synthetic_items(20))
    cut = directory / "b-cut.tiltmon"
    write_session(cut, synthetic_items(20))
    size = cut.stat().st_size
    os.truncate(cut, size - size // 100)  # 1% lost at the end
    SessionRecorder(directory / "c-empty.tiltmon", transport="ble").close()  # never connected
    killed = directory / "d-killed.tiltmon"
    helpers = str(Path(__file__).parent)
    code = KILLED.format(helpers=helpers, path=str(killed))
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == -9
    live = write_session(directory / "e-live.tiltmon", synthetic_items(5), close=False)
    live.flush()
    try:
        assert states(data) == {
            "a-complete.tiltmon": "complete",
            "b-cut.tiltmon": "damaged",
            "c-empty.tiltmon": "empty",
            "d-killed.tiltmon": "ended unexpectedly",
            "e-live.tiltmon": "recording now",
        }
        table = tiltmon(data).stdout
        assert "a-complete.tiltmon\n" in table  # a healthy one carries no remark
        for name, remark in [
            ("b-cut", "damaged"),
            ("c-empty", "empty"),
            ("d-killed", "ended unexpectedly"),
            ("e-live", "recording now"),
        ]:
            assert f"{name}.tiltmon  ({remark})" in table
    finally:
        live.close()
    assert states(data)["e-live.tiltmon"] == "complete"


def test_prune_removes_empty_sessions_but_not_a_live_one(sessions: tuple[Path, Path]) -> None:
    data, directory = sessions
    write_session(directory / "full.tiltmon", synthetic_items(5))
    SessionRecorder(directory / "empty1.tiltmon", transport="ble").close()
    SessionRecorder(directory / "empty2.tiltmon", transport="ble").close()
    connecting = SessionRecorder(directory / "connecting.tiltmon", transport="ble")
    try:
        result = tiltmon(data, "--prune-empty")
        assert result.returncode == 0, result.stderr
        assert "deleted empty1.tiltmon" in result.stdout
        assert sorted(p.name for p in directory.glob("*.tiltmon")) == [
            "connecting.tiltmon",
            "full.tiltmon",
        ]
    finally:
        connecting.close()


@pytest.mark.slow
def test_delete_removes_a_session_whole_and_refuses_a_live_one(
    sessions: tuple[Path, Path],
) -> None:
    data, directory = sessions
    code = KILLED.format(helpers=str(Path(__file__).parent), path=str(directory / "old.tiltmon"))
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == -9
    # A recorder that died leaves the write-ahead log beside the file.
    assert (directory / "old.tiltmon-wal").exists()
    live = write_session(directory / "live.tiltmon", synthetic_items(5), close=False)
    try:
        result = tiltmon(data, "--delete", "live")
        assert result.returncode == 1
        assert "being recorded now" in result.stderr and "Traceback" not in result.stderr
        assert (directory / "live.tiltmon").exists()
        result = tiltmon(data, "--delete", "nope")
        assert result.returncode == 1 and "no session 'nope'" in result.stderr
        result = tiltmon(data, "--delete", "../data")
        assert result.returncode == 1 and "give a session's name" in result.stderr
    finally:
        live.close()
    result = tiltmon(data, "--delete", "old")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in directory.iterdir()) == ["live.tiltmon"]
