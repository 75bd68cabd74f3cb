"""Every sensor model gives the tiltmon profile's tilt and posture: the protocol is only a path.

The same simulated wearer (scenario, seed, IMU errors, mounting) is sent as each device sends it
(the firmware's packetisers, no radio), through the stream and the whole pipeline, with the
mounting known; tilt error against the ground truth must match the tiltmon profile's within
0.2° for the gyroscope models.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pytest

from firmware_sim import metamotion as metamotion_fw
from firmware_sim import movesense as movesense_fw
from firmware_sim import polar as polar_fw
from firmware_sim import thingy as thingy_fw
from firmware_sim import witmotion as witmotion_fw
from firmware_sim.motion import Activity
from firmware_sim.packets import packetize
from firmware_sim.simulation import SimulatedRecording, simulate
from monitor.activity import Posture
from monitor.pipeline import Pipeline
from monitor.sensors import StreamFormat
from monitor.transport.items import LinkEvent, LinkEventKind, Notification, TransportItem

T0 = 1_750_000_000.0
SCENARIO, SEED = "desk_short", 5


def run(
    rec: SimulatedRecording, fmt: StreamFormat, notes: Iterable[tuple[float, bytes]]
) -> dict[str, float]:
    pipeline = Pipeline(q_PS=rec.mounting)
    items: list[TransportItem] = [LinkEvent(T0, LinkEventKind.CONFIGURED, config=fmt)]
    items += [Notification(T0 + at, payload) for at, payload in notes]
    sag: list[np.ndarray] = []
    fro: list[np.ndarray] = []
    agree = scored = 0
    truth = {
        Activity.SITTING: Posture.SITTING,
        Activity.STANDING: Posture.STANDING,
        Activity.LYING: Posture.LYING,
    }
    for item in items:
        step = pipeline.feed(item)
        assert not step.stream_events, step.stream_events
        if step.tilt is not None:
            sag.append(step.tilt.sagittal_deg)
            fro.append(step.tilt.frontal_deg)
        for snap in step.snapshots:
            i = min(round((snap.t - T0) * rec.rate_hz), len(rec.t) - 1)
            expected = truth.get(Activity(rec.activity[i]))
            if expected is not None:
                scored += 1
                agree += snap.posture is expected
    s, f = np.concatenate(sag), np.concatenate(fro)
    n = len(s)
    settled = slice(int(10 * rec.rate_hz), n)  # after the estimator's first seconds
    return {
        "samples": n,
        "sagittal_rms": float(np.sqrt(np.mean((s - rec.sagittal_deg[:n])[settled] ** 2))),
        "frontal_rms": float(np.sqrt(np.mean((f - rec.frontal_deg[:n])[settled] ** 2))),
        "posture": agree / scored,
    }


@pytest.fixture(scope="module")
def tiltmon() -> dict[str, float]:
    rec = simulate(SCENARIO, seed=SEED, rate_hz=50)
    fmt = StreamFormat(50, 8, 500, True, 19, True)
    return run(rec, fmt, ((t + 0.012, p) for t, p in packetize(rec)))


@pytest.mark.slow
def test_witmotion_matches_the_tiltmon_profile(tiltmon: dict[str, float]) -> None:
    rec = simulate(SCENARIO, seed=SEED, rate_hz=50, acc_range_g=16, gyr_range_dps=2000)
    fmt = StreamFormat(50, 16, 2000, protocol="witmotion")
    got = run(rec, fmt, witmotion_fw.packetize(rec))
    assert got["samples"] == len(rec.t)
    assert got["sagittal_rms"] == pytest.approx(tiltmon["sagittal_rms"], abs=0.2)
    assert got["frontal_rms"] == pytest.approx(tiltmon["frontal_rms"], abs=0.2)
    assert got["posture"] == pytest.approx(tiltmon["posture"], abs=0.02)


def test_polar_matches_the_tiltmon_profile(tiltmon: dict[str, float]) -> None:
    rec = simulate(SCENARIO, seed=SEED, rate_hz=52, acc_range_g=8, gyr_range_dps=2000)
    fmt = StreamFormat(52, 8, 2000, protocol="polar", gyr_factor=2000 / 32768)
    got = run(rec, fmt, polar_fw.packetize(rec))
    assert got["samples"] >= len(rec.t) - polar_fw.SAMPLES_PER_FRAME
    assert got["sagittal_rms"] == pytest.approx(tiltmon["sagittal_rms"], abs=0.2)
    assert got["frontal_rms"] == pytest.approx(tiltmon["frontal_rms"], abs=0.2)
    assert got["posture"] == pytest.approx(tiltmon["posture"], abs=0.02)


def test_movesense_matches_the_tiltmon_profile(tiltmon: dict[str, float]) -> None:
    rec = simulate(SCENARIO, seed=SEED, rate_hz=52, acc_range_g=8, gyr_range_dps=2000)
    fmt = StreamFormat(52, 8, 2000, protocol="movesense")
    got = run(rec, fmt, movesense_fw.packetize(rec))
    assert got["samples"] >= len(rec.t) - movesense_fw.SAMPLES_PER_NOTIFICATION
    assert got["sagittal_rms"] == pytest.approx(tiltmon["sagittal_rms"], abs=0.2)
    assert got["frontal_rms"] == pytest.approx(tiltmon["frontal_rms"], abs=0.2)
    assert got["posture"] == pytest.approx(tiltmon["posture"], abs=0.02)


@pytest.mark.slow
def test_metamotion_matches_the_tiltmon_profile(tiltmon: dict[str, float]) -> None:
    rec = simulate(SCENARIO, seed=SEED, rate_hz=50, acc_range_g=8, gyr_range_dps=500)
    fmt = StreamFormat(50, 8, 500, samples_per_packet=3, protocol="metamotion")
    got = run(rec, fmt, metamotion_fw.packetize(rec))
    assert got["samples"] >= len(rec.t) - metamotion_fw.SAMPLES_PER_PACKED
    assert got["sagittal_rms"] == pytest.approx(tiltmon["sagittal_rms"], abs=0.2)
    assert got["frontal_rms"] == pytest.approx(tiltmon["frontal_rms"], abs=0.2)
    assert got["posture"] == pytest.approx(tiltmon["posture"], abs=0.02)


@pytest.mark.slow
def test_thingy_matches_the_tiltmon_profile(tiltmon: dict[str, float]) -> None:
    rec = simulate(SCENARIO, seed=SEED, rate_hz=50, acc_range_g=16, gyr_range_dps=2000)
    fmt = StreamFormat(50, 16, 2000, protocol="thingy")
    got = run(rec, fmt, thingy_fw.packetize(rec))
    assert got["samples"] == len(rec.t)
    assert got["sagittal_rms"] == pytest.approx(tiltmon["sagittal_rms"], abs=0.2)
    assert got["frontal_rms"] == pytest.approx(tiltmon["frontal_rms"], abs=0.2)
    assert got["posture"] == pytest.approx(tiltmon["posture"], abs=0.02)
