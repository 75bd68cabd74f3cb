"""Raw samples → calibration → fusion → tilt: the sign conventions end to end, live = batch."""

from __future__ import annotations

import numpy as np
import pytest

from calibration import CalibrationProcedure, CalibrationResult, MountingSegment
from firmware_sim import simulate
from firmware_sim.motion import TiltZone
from monitor.tilt_pipeline import TiltTracker, tilt_batch


def calibrate(seed: int) -> CalibrationResult:
    """The guided procedure on the `calibration` scenario: same seed, same chip and clip."""
    rec = simulate("calibration", seed=seed)
    proc = CalibrationProcedure(rec.rate_hz)
    for i in range(100, len(rec), 19):
        proc.feed(rec.t[i : i + 19], rec.acc[i : i + 19], rec.gyr[i : i + 19])
        if proc.finished:
            break
    assert proc.result is not None, proc.error
    return proc.result


@pytest.mark.parametrize("seed", [2, 6, 10])
def test_anterior_tilt_reads_positive_sagittal(seed: int) -> None:
    cal = calibrate(seed)
    rec = simulate("anterior", seed=seed)
    tilt = tilt_batch(rec.acc, rec.gyr, rec.rate_hz, cal.q_PS)
    held = rec.zone == TiltZone.ANTERIOR
    assert rec.sagittal_deg[held].mean() > 7.0  # the truth: a clear anterior tilt
    assert tilt.sagittal_deg[held].mean() > 7.0
    error = tilt.sagittal_deg[100:] - rec.sagittal_deg[100:]
    assert np.sqrt(np.mean(error**2)) < 1.0


@pytest.mark.parametrize("seed", [3, 8, 12])
def test_dropped_right_hip_reads_positive_frontal(seed: int) -> None:
    cal = calibrate(seed)
    rec = simulate("lateral_right", seed=seed)
    tilt = tilt_batch(rec.acc, rec.gyr, rec.rate_hz, cal.q_PS)
    right = rec.zone == TiltZone.RIGHT
    assert rec.frontal_deg[right].mean() > 4.0
    assert tilt.frontal_deg[right].mean() > 4.0
    for measured, truth in (
        (tilt.frontal_deg, rec.frontal_deg),
        (tilt.sagittal_deg, rec.sagittal_deg),
    ):
        assert np.sqrt(np.mean((measured[100:] - truth[100:]) ** 2)) < 1.0


def test_neutral_standing_reads_zero() -> None:
    cal = calibrate(4)
    rec = simulate("standing", seed=4, duration_s=5.0)
    tilt = tilt_batch(rec.acc, rec.gyr, rec.rate_hz, cal.q_PS, offline=True)
    assert abs(float(np.mean(tilt.sagittal_deg))) < 1.0
    assert abs(float(np.mean(tilt.frontal_deg))) < 1.0


def test_live_equals_batch() -> None:
    rec = simulate("desk_short", seed=5, duration_s=90.0)
    q_PS = rec.mounting
    batch = tilt_batch(rec.acc, rec.gyr, rec.rate_hz, q_PS)
    tracker = TiltTracker(rec.rate_hz, q_PS)
    rng = np.random.default_rng(3)
    sag, fro, i = [], [], 0
    while i < len(rec):
        n = int(rng.integers(1, 40))  # BLE batch sizes vary
        out = tracker.update(rec.acc[i : i + n], rec.gyr[i : i + n])
        assert len(out) == min(n, len(rec) - i)
        sag.append(out.sagittal_deg)
        fro.append(out.frontal_deg)
        i += n
    assert np.array_equal(np.concatenate(sag), batch.sagittal_deg)
    assert np.array_equal(np.concatenate(fro), batch.frontal_deg)


def test_mounting_segments_switch_mid_recording() -> None:
    rec = simulate("standing", seed=1, duration_s=20.0)
    other = np.array([0.0, 1.0, 0.0, 0.0])
    segments = [MountingSegment(0, rec.mounting, 1, 1), MountingSegment(1000, other, 1, 0)]
    mixed = tilt_batch(rec.acc, rec.gyr, rec.rate_hz, segments)
    first = tilt_batch(rec.acc, rec.gyr, rec.rate_hz, rec.mounting)
    second = tilt_batch(rec.acc, rec.gyr, rec.rate_hz, other)
    assert np.array_equal(mixed.sagittal_deg[:1000], first.sagittal_deg[:1000])
    assert np.array_equal(mixed.sagittal_deg[1000:], second.sagittal_deg[1000:])
    tracker = TiltTracker(rec.rate_hz, rec.mounting)
    tracker.update(rec.acc[:1000], rec.gyr[:1000])
    tracker.set_mounting(other)
    live = tracker.update(rec.acc[1000:], rec.gyr[1000:])
    assert np.array_equal(live.sagittal_deg, second.sagittal_deg[1000:])


def test_bad_mounting_and_offline_live() -> None:
    with pytest.raises(ValueError, match="q_PS"):
        TiltTracker(100.0, [0.0, 0.0, 0.0, 0.0])
    acc = np.tile([0.0, 0.0, 9.81], (10, 1))
    with pytest.raises(ValueError, match="offline=True"):
        tilt_batch(acc, np.zeros((10, 3)), 100.0, [1, 0, 0, 0], estimator="offline-vqf")
