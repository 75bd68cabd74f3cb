"""A replay uses the calibrations the session used, not whatever is saved today."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from recording_helpers import DEVICE, T0

from calibration import CalibrationProfile, save_profile
from firmware_sim.packets import packetize
from firmware_sim.simulation import simulate
from monitor.live import LiveStream
from monitor.pipeline import (
    MountingSource,
    Pipeline,
    PipelineStep,
    profile_id,
    profile_identity,
    saved_mounting,
)
from monitor.recording import SessionRecorder
from monitor.recording.summary import summarise_replay
from monitor.sensors import StreamFormat
from monitor.session import StepRecorder, record_mounting, replay_session
from monitor.transport.items import LinkEvent, LinkEventKind, Notification, TransportItem
from monitor.transport.replay import ReplayTransport

RATE = 25
CALIBRATED_AGAIN_AT = T0 + 300.0  # the wearer ran the calibration mid-session


def about(axis: str, deg: float) -> np.ndarray:
    half = np.radians(deg) / 2
    q = np.zeros(4)
    q[0] = np.cos(half)
    q["xyz".index(axis) + 1] = np.sin(half)
    return q


AT_START = about("y", 12.0)  # the saved profile when the session started
MID_SESSION = about("x", -9.0)  # the calibration done during it
TODAY = about("y", -20.0)  # saved weeks later, for another way of wearing the sensor


def save(q_PS: np.ndarray) -> None:
    save_profile(
        CalibrationProfile(
            device_id=profile_id(DEVICE),
            created="2025-06-01T09:00:00",
            q_PS=q_PS,
            gyro_bias=np.zeros(3),
            method="walk",
            identity=profile_identity(DEVICE),
        )
    )


def session_items() -> list[TransportItem]:
    rec = simulate("sit_stand", seed=3, rate_hz=RATE, duration_s=10 * 60)
    items: list[TransportItem] = [
        LinkEvent(T0, LinkEventKind.CONNECTED, "AA:BB"),
        LinkEvent(T0 + 0.05, LinkEventKind.DEVICE_INFO, device_info=DEVICE),
        LinkEvent(
            T0 + 0.2, LinkEventKind.CONFIGURED, config=StreamFormat(RATE, 8, 500, True, 19, True)
        ),
    ]
    items += [Notification(T0 + 0.3 + t, payload) for t, payload in packetize(rec)]
    return items


def tilts(steps: list[PipelineStep]) -> list[tuple[float, str, float, float]]:
    return [
        (s.t, s.posture.value, round(s.sagittal_deg, 6), round(s.frontal_deg, 6))
        for step in steps
        for s in step.snapshots
    ]


class Steps:
    def __init__(self) -> None:
        self.steps: list[PipelineStep] = []

    def on_step(self, step: PipelineStep) -> None:
        self.steps.append(step)


def record_live(path: Path) -> list[PipelineStep]:
    """The session as the dashboard runs it: the saved profile from the start, a calibration
    applied mid-session, every mounting change recorded beside the packets."""
    save(AT_START)
    items = session_items()
    recorder = SessionRecorder(path, transport="sim:sit_stand", started_at=T0 - 0.5)
    record_steps = StepRecorder(recorder)
    live = Pipeline(profile_lookup=saved_mounting)
    steps = []
    calibrated = False
    for item in items:
        t = item.received_at if isinstance(item, Notification) else item.at
        if not calibrated and t >= CALIBRATED_AGAIN_AT:
            record_mounting(recorder, live.set_mounting(MID_SESSION, CALIBRATED_AGAIN_AT))
            calibrated = True
        recorder.feed(item)
        step = live.feed(item)
        record_steps.on_step(step)
        steps.append(step)
    recorder.close(ended_at=t + 0.1)
    return steps


async def replayed(path: Path, live: LiveStream | None = None) -> list[PipelineStep]:
    steps = Steps()
    async with ReplayTransport(path, speed=None) as transport:
        await summarise_replay(transport, listeners=[steps], live=live)
    return steps.steps


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TILTMON_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


async def test_a_report_replays_with_the_session_s_calibrations(
    tmp_path: Path, data_dir: Path
) -> None:
    path = tmp_path / "s.tiltmon"
    live = tilts(record_live(path))
    save(TODAY)  # recalibrated since, for another way of wearing it

    again = tilts(await replayed(path))  # the reports' replay: coalesced, today's settings
    assert again == live
    switched = [s for s in live if s[0] >= CALIBRATED_AGAIN_AT]
    assert len(switched) > 200 and len(switched) < len(live) - 200  # both mountings in play

    # Today's profile would have moved every angle: the test can tell the two apart.
    with_today = Pipeline(profile_lookup=saved_mounting)
    steps = Steps()
    for item in session_items():
        steps.on_step(with_today.feed(item))
    differ = [abs(a[2] - b[2]) for a, b in zip(tilts(steps.steps), live, strict=True)]
    assert np.median(differ) > 5.0


async def test_the_dashboard_s_replay_follows_the_session_too(
    tmp_path: Path, data_dir: Path
) -> None:
    path = tmp_path / "s.tiltmon"
    live = tilts(record_live(path))
    save(TODAY)
    session = replay_session(path, speed=None)
    pipeline = session.live_factory()  # what the dashboard feeds, afresh after every seek
    steps = Steps()
    async with session.transport as transport:
        async for item in transport:
            steps.on_step(pipeline.feed(item))
    assert tilts(steps.steps) == live
    assert pipeline.pipeline.mounting_source is MountingSource.PROFILE


async def test_a_recording_without_mounting_events_uses_the_saved_profile(
    tmp_path: Path, data_dir: Path
) -> None:
    """Files from before mountings were recorded: today's profile is all there is."""
    path = tmp_path / "old.tiltmon"
    recorder = SessionRecorder(path, transport="sim:sit_stand", started_at=T0 - 0.5)
    for item in session_items():
        recorder.feed(item)
    recorder.close(ended_at=T0 + 700)
    save(TODAY)
    steps = Steps()
    expected = Pipeline(profile_lookup=saved_mounting)
    for item in session_items():
        steps.on_step(expected.feed(item))
    assert tilts(await replayed(path)) == tilts(steps.steps)
