"""Files that are not recordings get a clear error; damaged ones are read as far as possible."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from recording_helpers import Item, synthetic_items, write_session

from monitor.errors import MonitorError
from monitor.recording import Recording, RecordingError
from monitor.recording.summary import summarise_replay
from monitor.transport.items import Notification
from monitor.transport.replay import ReplayTransport


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Item]]:
    items = synthetic_items(60.0)
    path = tmp_path_factory.mktemp("damage") / "whole.tiltmon"
    write_session(path, items)
    return path, items


def read_what_we_can(path: Path) -> tuple[list[Item], list[str]] | None:
    """The items a damaged copy yields and its notices; None if it is refused outright."""
    try:
        with Recording(path) as recording:
            return list(recording.items()), recording.finish_notices()
    except RecordingError:
        return None


def assert_in_order_from(original: list[Item], got: list[Item]) -> None:
    position = {item: i for i, item in enumerate(original)}
    indices = [position[item] for item in got]  # KeyError: an item that was never recorded
    assert indices == sorted(indices)


def test_the_undamaged_file_reads_whole(session: tuple[Path, list[Item]]) -> None:
    path, items = session
    assert read_what_we_can(path) == (items, [])


@pytest.mark.parametrize("fraction", [0.0, 0.001, 0.01, 0.05, 0.2, 0.5, 0.77, 0.95, 0.999])
def test_a_truncated_file_reads_up_to_the_cut(
    session: tuple[Path, list[Item]], tmp_path: Path, fraction: float
) -> None:
    path, items = session
    size = path.stat().st_size
    cut = tmp_path / "cut.tiltmon"
    shutil.copy(path, cut)
    with cut.open("r+b") as f:
        f.truncate(int(size * fraction))
    result = read_what_we_can(cut)
    if result is None:
        return  # the metadata went with the cut: refusing is the right answer
    got, notices = result
    assert_in_order_from(items, got)
    if len(got) < len(items):
        assert notices, "a partial read must say so"


@pytest.mark.parametrize("fraction", [0.03, 0.25, 0.5, 0.75, 0.9])
def test_overwritten_bytes_are_skipped_never_replayed_as_data(
    session: tuple[Path, list[Item]], tmp_path: Path, fraction: float
) -> None:
    path, items = session
    damaged = tmp_path / "damaged.tiltmon"
    shutil.copy(path, damaged)
    with damaged.open("r+b") as f:
        f.seek(int(damaged.stat().st_size * fraction))
        f.write(bytes(range(256)) * 2)
    result = read_what_we_can(damaged)
    if result is None:
        return
    got, notices = result
    assert_in_order_from(items, got)
    if len(got) < len(items):
        assert notices


async def test_a_truncated_file_replays_with_a_notice(
    session: tuple[Path, list[Item]], tmp_path: Path
) -> None:
    path, items = session
    cut = tmp_path / "cut.tiltmon"
    shutil.copy(path, cut)
    with cut.open("r+b") as f:
        f.truncate(int(path.stat().st_size * 0.6))
    async with ReplayTransport(cut, speed=None) as replay:
        summary = await summarise_replay(replay)
    whole = sum(1 for i in items if isinstance(i, Notification)) * 19
    assert 0 < summary.samples < whole
    assert any("damaged" in n for n in summary.notices)


def test_files_that_are_not_recordings_are_refused_clearly(tmp_path: Path) -> None:
    empty = tmp_path / "empty.tiltmon"
    empty.write_bytes(b"")
    text = tmp_path / "notes.tiltmon"
    text.write_text("sat for 3 hours\n" * 100)
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE t (x)")
    db.close()
    for path, message in [
        (tmp_path / "missing.tiltmon", "no recording"),
        (empty, "not a tiltmon recording"),
        (text, "not a tiltmon recording"),
        (other, "not a tiltmon recording"),
    ]:
        with pytest.raises(RecordingError, match=message) as caught:
            Recording(path)
        assert isinstance(caught.value, MonitorError)


def test_a_newer_format_asks_for_an_upgrade(
    session: tuple[Path, list[Item]], tmp_path: Path
) -> None:
    newer = tmp_path / "newer.tiltmon"
    shutil.copy(session[0], newer)
    with sqlite3.connect(newer) as db:
        db.execute("PRAGMA user_version = 2")
    db.close()
    with pytest.raises(RecordingError, match="newer tiltmon"):
        Recording(newer)
