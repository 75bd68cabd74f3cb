"""Record, reopen, read back: the same items, the metadata, app events, privacy, commits."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from recording_helpers import DEVICE, T0, synthetic_items, write_session

from monitor.live import stream_for
from monitor.recording import Recording, RecordingTransport, SessionRecorder, new_session_path
from monitor.recording.summary import summarise_replay
from monitor.transport import open_transport
from monitor.transport.ble import ReconnectPolicy, StreamSettings
from monitor.transport.items import LinkEvent, LinkEventKind, TransportItem
from monitor.transport.replay import ReplayTransport
from monitor.transport.sim import SimulatedSensorTransport


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def has_wal(path: Path) -> bool:
    return Path(f"{path}-wal").exists()


@pytest.mark.slow
async def test_a_simulated_session_replays_item_for_item(tmp_path: Path) -> None:
    path = tmp_path / "sim.tiltmon"
    seen: list[TransportItem] = []
    recorder = SessionRecorder(path, transport="sim:desk_short")
    sim = SimulatedSensorTransport(
        "desk_short", seed=2, settings=StreamSettings(rate_hz=200), policy=ReconnectPolicy()
    )
    transport = RecordingTransport(sim, recorder)
    async with transport:
        # While recording, the database and its WAL files are the owner's alone.
        for suffix in ("", "-wal", "-shm"):
            assert mode(Path(f"{path}{suffix}")) == 0o600

        live = await stream_for(_Capture(transport, seen), 2.5)
    assert recorder.closed
    assert mode(path) == 0o600
    assert not has_wal(path)  # folded back: a finished session is one file

    with Recording(path) as recording:
        assert list(recording.items()) == seen
        info = recording.info
        assert info.complete and recording.notices == []
        assert info.device is not None and info.device.serial == "SIM-0002"
        assert info.config is not None and info.config.rate_hz == 200
        assert info.transport == "sim:desk_short"
        assert info.samples == live.assembler.stats.samples

    async with open_transport(f"replay:{path}", speed=None) as replay:
        assert isinstance(replay, ReplayTransport)
        replayed = [item async for item in replay]
    assert replayed == seen

    async with ReplayTransport(path, speed=None) as replay:
        summary = await summarise_replay(replay)
    expected = live.summary()
    assert (summary.samples, summary.lost, summary.duplicates, summary.gaps) == (
        expected.samples,
        expected.lost,
        expected.duplicates,
        expected.gaps,
    )
    assert summary.sensor_seconds == expected.sensor_seconds
    assert summary.drift_ppm == expected.drift_ppm
    assert summary.link_events["configured"] == 1
    assert summary.device == "tiltmon" and summary.complete


class _Capture:
    """A transport that notes every item it passes on (to compare with the replay)."""

    def __init__(self, inner: RecordingTransport, seen: list[TransportItem]) -> None:
        self.inner = inner
        self.seen = seen
        self.overflowed = 0

    async def __aenter__(self) -> _Capture:
        return self

    async def __aexit__(self, *exc: object) -> None:
        pass

    def __aiter__(self) -> _Capture:
        self._it = aiter(self.inner)
        return self

    async def __anext__(self) -> TransportItem:
        item = await anext(self._it)
        self.seen.append(item)
        return item


def test_items_metadata_app_events_and_calibrations_round_trip(tmp_path: Path) -> None:
    items = synthetic_items(20.0)
    path = tmp_path / "s.tiltmon"
    recorder = write_session(path, items, close=False)
    recorder.record_event(T0 + 5, "nudge", {"reason": "sitting", "minutes": 45})
    recorder.record_event(T0 + 6, "nudge_response", {"action": "done"})
    recorder.record_calibration(T0 + 1, {"gyro_bias": [0.01, 0.0, -0.02]}, name="SN-1")
    recorder.close()
    with Recording(path) as recording:
        assert list(recording.items()) == items
        assert [(e.kind, e.data) for e in recording.app_events()] == [
            ("nudge", {"reason": "sitting", "minutes": 45}),
            ("nudge_response", {"action": "done"}),
        ]
        (profile,) = recording.calibrations()
        assert profile.name == "SN-1" and profile.profile["gyro_bias"][2] == -0.02
        assert recording.info.device == DEVICE
        assert recording.info.samples == sum(1 for i in items if not isinstance(i, LinkEvent)) * 19


def test_committed_data_is_visible_before_close_and_marked_unfinished(tmp_path: Path) -> None:
    items = synthetic_items(10.0)
    path = tmp_path / "open.tiltmon"
    recorder = write_session(path, items, close=False)
    # Everything up to the last commit (one a second of item time) is on disk already.
    with Recording(path) as recording:
        got = list(recording.items())
        assert got == items[: len(got)]
        assert len(got) >= len(items) - 12  # at most a second's packets still buffered
        assert "ended unexpectedly" in recording.notices[0]
    recorder.close()
    with Recording(path) as recording:
        assert list(recording.items()) == items and recording.notices == []


def test_sessions_get_fresh_private_files_in_the_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TILTMON_DATA_DIR", str(tmp_path / "data"))
    first = new_session_path(T0)
    SessionRecorder(first, transport="ble").close()
    second = new_session_path(T0)
    assert first != second and first.parent == second.parent == tmp_path / "data" / "sessions"
    assert mode(first.parent) == 0o700
    assert mode(first) == 0o600
    with pytest.raises(Exception, match="will not overwrite"):
        SessionRecorder(first, transport="ble")


def test_seek_starts_with_the_link_context(tmp_path: Path) -> None:
    items = synthetic_items(20.0)
    path = tmp_path / "s.tiltmon"
    write_session(path, items)
    with Recording(path) as recording:
        later = list(recording.items(start_at=T0 + 15.0))
    context = later[:3]
    assert [e.kind for e in context if isinstance(e, LinkEvent)] == [
        LinkEventKind.DEVICE_INFO,
        LinkEventKind.CONFIGURED,
        LinkEventKind.BATTERY,  # the later battery reading (89 %), in recorded order
    ]
    rest = later[3:]
    assert rest == items[items.index(rest[0]) :]
    assert rest[0].received_at >= T0 + 15.0 > items[items.index(rest[0]) - 1].received_at  # type: ignore[union-attr]


def test_os_level_umask_does_not_widen_permissions(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        path = tmp_path / "u.tiltmon"
        SessionRecorder(path, transport="ble").close()
    finally:
        os.umask(old)
    assert mode(path) == 0o600
