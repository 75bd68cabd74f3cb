"""A replayed session gives the same posture timeline and nudges as the live run did."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from recording_helpers import T0, write_session

from firmware_sim.packets import packetize
from firmware_sim.peripheral import Faults
from firmware_sim.simulation import simulate
from monitor.live import LiveStream, stream_for
from monitor.nudge import NudgeConfig, NudgePolicy, NudgeShown, fixed_offset
from monitor.pipeline import Pipeline, PipelineStep
from monitor.recording import RecordingTransport, SessionRecorder
from monitor.recording.summary import summarise_replay
from monitor.sensors import StreamFormat
from monitor.transport.ble import ReconnectPolicy, StreamSettings
from monitor.transport.items import LinkEvent, LinkEventKind, Notification, TransportItem
from monitor.transport.replay import ReplayTransport
from monitor.transport.sim import SimulatedSensorTransport


class Steps:
    """A step listener keeping every step."""

    def __init__(self, into: list[PipelineStep]) -> None:
        self.into = into

    def on_step(self, step: PipelineStep) -> None:
        self.into.append(step)


def short_nudges() -> NudgePolicy:
    return NudgePolicy(
        NudgeConfig(gentle_min=20, firm_min=25, quiet_hours=()), local_time=fixed_offset(0)
    )


def timeline(steps: list[PipelineStep]) -> list[tuple[float, str, str, float, float]]:
    return [
        (s.t, s.posture.value, s.zone.value, round(s.sagittal_deg, 9), round(s.frontal_deg, 9))
        for step in steps
        for s in step.snapshots
    ]


async def replay_steps(path: Path, policy: NudgePolicy) -> list[PipelineStep]:
    steps: list[PipelineStep] = []
    async with ReplayTransport(path, speed=None) as transport:
        summary = await summarise_replay(
            transport, listeners=[Steps(steps)], live=LiveStream(pipeline=Pipeline(nudges=policy))
        )
    shown = [n for s in steps for n in s.nudges if isinstance(n, NudgeShown)]
    assert summary.activity["nudges"] == len(shown)
    return steps


async def test_a_long_sit_replays_to_the_same_timeline_and_nudges(tmp_path: Path) -> None:
    rec = simulate("sitting", seed=6, rate_hz=25, duration_s=27 * 60)
    config = StreamFormat(25, 8, 500, True, 19, True)
    items: list[TransportItem] = [LinkEvent(T0, LinkEventKind.CONFIGURED, config=config)]
    items += [Notification(T0 + t + 0.01, payload) for t, payload in packetize(rec)]
    live = Pipeline(nudges=short_nudges())
    live_steps = [live.feed(item) for item in items]
    write_session(tmp_path / "s.tiltmon", items)

    replayed = await replay_steps(tmp_path / "s.tiltmon", short_nudges())
    assert timeline(replayed) == timeline(live_steps)
    live_nudges = [n for s in live_steps for n in s.nudges]
    assert [n for s in replayed for n in s.nudges] == live_nudges
    assert len(live_nudges) >= 2


@pytest.mark.slow
async def test_a_live_radio_session_replays_to_the_same_timeline(tmp_path: Path) -> None:
    path = tmp_path / "live.tiltmon"
    recorder = SessionRecorder(path, transport="sim:sit_stand")
    transport = RecordingTransport(
        SimulatedSensorTransport(
            "sit_stand",
            seed=2,
            faults=Faults(drop_fraction=0.02),
            settings=StreamSettings(rate_hz=50),
            policy=ReconnectPolicy(first_delay_s=0.1, watchdog_s=1.0),
        ),
        recorder,
    )
    live_steps: list[PipelineStep] = []
    async with transport:
        await stream_for(
            transport,
            12.0,
            live=LiveStream(pipeline=Pipeline(nudges=short_nudges())),
            listeners=[Steps(live_steps)],
        )
    await asyncio.sleep(0)
    replayed = await replay_steps(path, short_nudges())
    assert len(timeline(live_steps)) >= 10
    assert timeline(replayed) == timeline(live_steps)
