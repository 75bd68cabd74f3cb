"""Alignment from unlabelled recordings, and re-alignment after the clip moves."""

from __future__ import annotations

import numpy as np
import pytest

from calibration import (
    Neutral,
    NoAlignmentError,
    align_recording,
    auto_align,
    find_walking_bouts,
    quat_angle_deg,
)
from calibration.rotation import angle_deg, matrix_to_quat, quat_multiply, quat_to_matrix
from firmware_sim import simulate

DAY_START_S = 240.0  # the office day opens: still standing, a walk in, standing at the desk


@pytest.mark.parametrize("seed", [0, 4, 9, 13, 21])
def test_auto_alignment_on_random_mountings(seed: int) -> None:
    rec = simulate("office_day", seed=seed, duration_s=DAY_START_S)
    q = auto_align(rec.acc, rec.gyr, rec.rate_hz)
    r, rt = quat_to_matrix(q), quat_to_matrix(rec.mounting)
    assert angle_deg(r[0], rt[0]) < 2.0  # forward, sign included
    assert quat_angle_deg(q, rec.mounting) < 2.0


def test_walking_bouts_are_found_and_sitting_is_not_walking() -> None:
    rec = simulate("desk_short", seed=2)
    bouts = find_walking_bouts(rec.acc, rec.rate_hz)
    walking = rec.activity == 2
    assert bouts
    for start, stop in bouts:
        assert walking[start:stop].mean() > 0.9
    sitting = simulate("sitting", seed=2)
    assert find_walking_bouts(sitting.acc, sitting.rate_hz) == []
    with pytest.raises(NoAlignmentError, match="no walking found"):
        auto_align(sitting.acc, sitting.gyr, sitting.rate_hz)


def rotation(axis: list[float], degrees: float) -> np.ndarray:
    a = np.asarray(axis, dtype=float) / np.linalg.norm(axis)
    half = np.radians(degrees) / 2
    return np.array([np.cos(half), *(np.sin(half) * a)])


@pytest.mark.parametrize(("seed", "slip_deg"), [(3, 25.0), (8, 12.0)])
def test_a_clip_slip_is_detected_and_realigned(seed: int, slip_deg: float) -> None:
    rec = simulate("office_day", seed=seed, duration_s=DAY_START_S)
    # The same stretch again with the clip turned: v_S' = R_slip · v_S.
    q_slip = rotation([0.3, -1.0, 0.5], slip_deg)
    r_slip = quat_to_matrix(q_slip)
    acc = np.concatenate([rec.acc, rec.acc @ r_slip.T])
    gyr = np.concatenate([rec.gyr, rec.gyr @ r_slip.T])
    truth_after = quat_multiply(rec.mounting, q_slip * np.array([1, -1, -1, -1]))
    segments = align_recording(acc, gyr, rec.rate_hz, initial_q_PS=rec.mounting)
    assert len(segments) == 2
    first, second = segments
    assert first.start == 0 and np.allclose(first.q_PS, rec.mounting)
    assert len(rec) <= second.start < len(rec) + 60 * rec.rate_hz
    assert quat_angle_deg(second.q_PS, truth_after) < 0.5


def test_no_false_slip_and_no_still_standing() -> None:
    rec = simulate("office_day", seed=5, duration_s=DAY_START_S)
    assert len(align_recording(rec.acc, rec.gyr, rec.rate_hz)) == 1
    walk = simulate("walk", seed=5)
    start = int(10 * walk.rate_hz)  # cut the still start off: walking only
    # No still stand: the neutral falls back to the posture while walking, and says so;
    # forward still comes from the walking.
    (only,) = align_recording(walk.acc[start:-800], walk.gyr[start:-800], walk.rate_hz)
    assert only.neutral == Neutral.WALKING and only.still_windows == 0
    assert quat_angle_deg(only.q_PS, walk.mounting) < 5.0


def test_matrix_quat_round_trip() -> None:
    rng = np.random.default_rng(1)
    for _ in range(50):
        q = rng.normal(size=4)
        q /= np.linalg.norm(q)
        q = q if q[0] >= 0 else -q
        assert np.allclose(matrix_to_quat(quat_to_matrix(q)), q)
