"""The processing spine on exact wire bytes from the simulator (no radio needed here)."""

from __future__ import annotations

import numpy as np

from firmware_sim.motion import Activity
from firmware_sim.packets import packetize
from firmware_sim.simulation import SimulatedRecording, simulate
from monitor.activity import Posture
from monitor.nudge import NudgeConfig, NudgePolicy, NudgeShown, fixed_offset
from monitor.pipeline import MountingSource, Pipeline, PipelineStep
from monitor.sensors import StreamFormat
from monitor.transport.items import LinkEvent, LinkEventKind, Notification, TransportItem

T0 = 1_750_000_000.0  # a weekday around midday UTC


def items_of(recording: SimulatedRecording) -> list[TransportItem]:
    config = StreamFormat(int(recording.rate_hz), 8, 500, True, 19, True)
    items: list[TransportItem] = [LinkEvent(T0, LinkEventKind.CONFIGURED, config=config)]
    items += [Notification(T0 + t + 0.012, payload) for t, payload in packetize(recording)]
    return items


def run(pipeline: Pipeline, items: list[TransportItem]) -> list[PipelineStep]:
    return [pipeline.feed(item) for item in items]


def test_uncalibrated_stream_aligns_itself_from_standing_and_walking() -> None:
    rec = simulate("desk_short", seed=4, rate_hz=50)
    steps = run(Pipeline(), items_of(rec))
    changes = [s.mounting for s in steps if s.mounting is not None]
    assert [c.source for c in changes] == [MountingSource.PROVISIONAL, MountingSource.AUTOMATIC]
    # After alignment the tilt follows the truth.
    aligned_at = changes[1].t
    sag = np.concatenate([s.tilt.sagittal_deg for s in steps if s.tilt is not None])
    fro = np.concatenate([s.tilt.frontal_deg for s in steps if s.tilt is not None])
    host = np.concatenate([s.batch.host_time for s in steps if s.batch is not None])
    later = host > aligned_at + 5
    n = len(sag)
    err_s = sag[later] - rec.sagittal_deg[:n][later]
    err_f = fro[later] - rec.frontal_deg[:n][later]
    assert np.sqrt(np.mean(err_s**2)) < 2.0
    assert np.sqrt(np.mean(err_f**2)) < 2.0


def test_posture_follows_the_truth_with_a_profile() -> None:
    rec = simulate("desk_short", seed=1, rate_hz=50)
    pipeline = Pipeline(q_PS=rec.mounting)
    steps = run(pipeline, items_of(rec))
    snapshots = [snap for s in steps for snap in s.snapshots]
    assert len(snapshots) >= 0.95 * len(rec.t) / 50
    truth = {
        Activity.SITTING: Posture.SITTING,
        Activity.STANDING: Posture.STANDING,
        Activity.WALKING: Posture.WALKING,
        Activity.LYING: Posture.LYING,
    }
    agree = total = 0
    for snap in snapshots:
        i = round((snap.t - T0 - 0.5) * 50)
        expected = truth.get(Activity(rec.activity[min(i, len(rec.t) - 1)]))
        if expected is None:
            continue  # transitions are not scored
        total += 1
        agree += (snap.posture is expected) or (
            expected is Posture.WALKING and snap.posture is Posture.STANDING
        )
    assert agree / total > 0.9


def test_a_long_sit_gives_a_nudge_with_a_suggestion() -> None:
    rec = simulate("sitting", seed=2, rate_hz=25, duration_s=26 * 60)
    policy = NudgePolicy(
        NudgeConfig(gentle_min=20, firm_min=25, quiet_hours=()), local_time=fixed_offset(0)
    )
    steps = run(Pipeline(q_PS=rec.mounting, nudges=policy), items_of(rec))
    shown = [n for s in steps for n in s.nudges if isinstance(n, NudgeShown)]
    assert [n.level.value for n in shown][:2] == ["gentle", "firm"]
    assert shown[0].suggestion.text()


def test_a_mounting_given_up_front_counts_as_calibrated() -> None:
    rec = simulate("standing", seed=3, rate_hz=50, duration_s=10)
    pipeline = Pipeline(q_PS=rec.mounting)
    changes = [s.mounting for s in run(pipeline, items_of(rec)) if s.mounting is not None]
    assert [c.source for c in changes] == [MountingSource.PROFILE]
    assert pipeline.calibrated
