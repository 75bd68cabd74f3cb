"""Replay pacing and controls, and the commands around recordings."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
from recording_helpers import T0, Item, synthetic_items, write_session

from monitor.cli import main
from monitor.recording import SessionRecorder
from monitor.transport.items import LinkEvent, LinkEventKind, Notification
from monitor.transport.replay import ReplayTransport


@pytest.fixture(scope="module")
def short_session(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Item]]:
    items = synthetic_items(4.0, rate=100)  # the packets span about 4 s
    path = tmp_path_factory.mktemp("replay") / "short.tiltmon"
    write_session(path, items)
    return path, items


def span(items: list[Item]) -> float:
    times = [i.received_at if isinstance(i, Notification) else i.at for i in items]
    return times[-1] - times[0]


async def play(replay: ReplayTransport) -> tuple[list[Item], float]:
    start = time.monotonic()
    got = [item async for item in replay]
    return got, time.monotonic() - start


async def test_speed_ten_takes_a_tenth_of_the_time(short_session: tuple[Path, list[Item]]) -> None:
    path, items = short_session
    async with ReplayTransport(path, speed=10) as replay:
        got, took = await play(replay)
    assert got == items
    assert took == pytest.approx(span(items) / 10, abs=0.08)


async def test_as_fast_as_possible_is_fast(short_session: tuple[Path, list[Item]]) -> None:
    path, items = short_session
    async with ReplayTransport(path, speed=None) as replay:
        got, took = await play(replay)
    assert got == items and took < 0.2


async def test_pause_holds_playback_and_resume_continues(
    short_session: tuple[Path, list[Item]],
) -> None:
    path, items = short_session
    async with ReplayTransport(path, speed=20) as replay:
        got: list[Item] = []
        start = time.monotonic()
        async for item in replay:
            got.append(item)
            if len(got) == 10:
                replay.pause()
                assert replay.paused
                asyncio.get_running_loop().call_later(0.3, replay.resume)
        took = time.monotonic() - start
    assert got == items
    assert took == pytest.approx(span(items) / 20 + 0.3, abs=0.1)


async def test_seek_jumps_forward_and_back(short_session: tuple[Path, list[Item]]) -> None:
    path, items = short_session
    async with ReplayTransport(path, speed=None) as replay:
        got: list[Item] = []
        async for item in replay:
            got.append(item)
            if len(got) == 5:
                replay.seek(3.0)  # seconds after the session started
            elif len(got) == 10:
                replay.seek(0.0)
        assert replay.finished
    # Each seek restarts with the link state, then the items from that point on.
    after_first_seek = got[5:]
    assert [e.kind for e in after_first_seek[:3] if isinstance(e, LinkEvent)] == [
        LinkEventKind.DEVICE_INFO,
        LinkEventKind.CONFIGURED,
        LinkEventKind.BATTERY,
    ]
    first_note = after_first_seek[3]
    assert isinstance(first_note, Notification)
    assert first_note.received_at >= T0 - 0.5 + 3.0
    assert got[10:] == items  # seeking to 0 plays the whole session again


async def test_seek_and_speed_change_while_waiting(short_session: tuple[Path, list[Item]]) -> None:
    path, items = short_session
    async with ReplayTransport(path, speed=1) as replay:
        start = time.monotonic()
        count = 0
        async for _ in replay:
            count += 1
            if count == 8:
                replay.speed = None  # a UI's "skip to the end"
        took = time.monotonic() - start
    assert count == len(items) and took < 1.5
    assert replay.position_s == pytest.approx(span(items) + 0.5, abs=0.01)


def test_sessions_and_replay_commands(
    short_session: tuple[Path, list[Item]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("TILTMON_DATA_DIR", str(tmp_path))
    assert main(["sessions"]) == 0
    assert "no recordings" in capsys.readouterr().out
    sessions = tmp_path / "sessions"
    sessions.mkdir()
    path, items = short_session
    (sessions / "a.tiltmon").write_bytes(path.read_bytes())
    (sessions / "junk.tiltmon").write_text("not a recording")
    recorder = SessionRecorder(sessions / "b.tiltmon", transport="ble")
    recorder.feed(items[0])
    recorder.flush()  # an unfinished one, as after a crash
    recorder.close()
    assert main(["sessions", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [Path(row["file"]).name for row in listed] == ["a.tiltmon", "b.tiltmon", "junk.tiltmon"]
    assert listed[0]["samples"] == sum(19 for i in items if isinstance(i, Notification))
    assert listed[0]["device"] == "tiltmon" and listed[0]["complete"]
    assert "error" in listed[2]
    assert main(["sessions"]) == 0
    table = capsys.readouterr().out
    assert "a.tiltmon" in table and "unreadable" in table

    assert main(["replay", "a", "--headless", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["samples"] == listed[0]["samples"]
    assert summary["lost"] == summary["duplicates"] == summary["gaps"] == 0
    assert summary["link_events"] == {
        "connected": 1,
        "device_info": 1,
        "battery": 2,
        "configured": 1,
    }
    assert summary["complete"] and summary["notices"] == []
    assert main(["replay", str(sessions / "junk.tiltmon"), "--headless"]) == 1
    assert "not a tiltmon recording" in capsys.readouterr().err
