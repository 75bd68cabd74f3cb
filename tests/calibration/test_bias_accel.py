"""Gyroscope bias (at rest and tracked) and the optional accelerometer calibration."""

from __future__ import annotations

import numpy as np
import pytest

from calibration import (
    AccelCalibrationError,
    GyroBiasTracker,
    bias_at_rest,
    fit_accelerometer,
    still_orientation_means,
)
from firmware_sim import ImuErrors, simulate
from firmware_sim.imu_model import ImuErrorModel


def test_bias_tracker_finds_the_bias_of_a_still_sensor() -> None:
    rec = simulate("sitting", seed=6)
    tracker = GyroBiasTracker(rec.rate_hz)
    corrected = tracker.update(rec.acc, rec.gyr)
    truth = rec.gyro_bias[-1]
    assert np.degrees(np.linalg.norm(tracker.bias - truth)) < 0.15
    assert np.degrees(np.linalg.norm(bias_at_rest(rec.gyr[:400]) - rec.gyro_bias[0])) < 0.5
    # the correction in use at the end is the tracked bias
    assert np.allclose(corrected[-1], rec.gyr[-1] - tracker.bias, atol=0.01)


def test_bias_tracker_streams_like_batch() -> None:
    rec = simulate("desk_short", seed=1, duration_s=60.0)
    whole = GyroBiasTracker(rec.rate_hz).update(rec.acc, rec.gyr)
    tracker = GyroBiasTracker(rec.rate_hz)
    rng = np.random.default_rng(0)
    parts, i = [], 0
    while i < len(rec):
        n = int(rng.integers(1, 60))
        parts.append(tracker.update(rec.acc[i : i + n], rec.gyr[i : i + n]))
        i += n
    assert np.array_equal(np.concatenate(parts), whole)


def test_bias_tracker_ignores_motion() -> None:
    rec = simulate("walk", seed=2)
    tracker = GyroBiasTracker(rec.rate_hz)
    tracker.update(rec.acc[1000:10000], rec.gyr[1000:10000])  # walking only
    assert tracker.rest_seconds == 0.0


def six_faces(seed: int, extra: int = 2) -> tuple[np.ndarray, ImuErrorModel]:
    imu = ImuErrorModel(ImuErrors(), seed)
    ups = [np.eye(3)[i] * s for i in range(3) for s in (1, -1)]
    ups += list(np.random.default_rng(seed).normal(size=(extra, 3)))
    means = []
    for k, up in enumerate(ups):
        up = up / np.linalg.norm(up)
        t = np.arange(200) / 100.0
        _, acc, _ = imu.apply(k, t, 100.0, np.zeros((200, 3)), np.tile(up * 9.80665, (200, 1)))
        means.append(acc.mean(axis=0))
    return np.array(means), imu


def test_accelerometer_fit_recovers_bias_and_scale() -> None:
    means, imu = six_faces(3)
    cal = fit_accelerometer(means)
    assert np.allclose(cal.bias, imu.acc_bias, atol=0.005)
    assert np.allclose(cal.scale, imu.acc_scale, atol=0.001)
    fixed = cal.apply(means)
    assert np.allclose(np.linalg.norm(fixed, axis=1), 9.80665, atol=0.01)


def test_accelerometer_fit_errors() -> None:
    means, _ = six_faces(3)
    with pytest.raises(AccelCalibrationError, match="at least 6"):
        fit_accelerometer(means[:4])
    upright_only = np.tile([0.1, 0.0, 9.8], (8, 1)) + np.random.default_rng(0).normal(
        0, 0.3, (8, 3)
    )
    with pytest.raises(AccelCalibrationError, match="each of its six faces"):
        fit_accelerometer(upright_only)


def test_still_orientations_are_found_in_a_recording() -> None:
    means, _ = six_faces(4, extra=0)
    acc = np.concatenate([np.tile(m, (300, 1)) for m in means])
    acc += np.random.default_rng(1).normal(0, 0.005, acc.shape)
    found = still_orientation_means(acc, None, 100.0)
    assert len(found) == 6
    assert np.allclose(found, means, atol=0.01)
