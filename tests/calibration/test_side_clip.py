"""Alignment with the clip at the side of the pelvis, and the neutral from the opening stand."""

from __future__ import annotations

import numpy as np
import pytest

from calibration import Neutral, align_recording
from calibration.rotation import quat_to_matrix
from firmware_sim import simulate


@pytest.mark.parametrize(("seed", "side"), [(0, 1.0), (1, -1.0), (3, -1.0), (6, 1.0)])
def test_forward_holds_with_the_clip_at_the_side(seed: int, side: float) -> None:
    # 15 cm to the side: the hip swings with the pelvis's rotation in every stride, which
    # turned the forward found from walking accelerations by up to 2-4 degrees.
    rec = simulate(
        "office_day",
        seed=seed,
        rate_hz=50.0,
        duration_s=1800.0,
        lever_arm_m=(0.0, side * 0.15, 0.0),
    )
    first = align_recording(rec.acc, rec.gyr, rec.rate_hz)[0]
    est, true = quat_to_matrix(first.q_PS), quat_to_matrix(rec.mounting)
    up = est[2]
    forward_true = true[0] - (true[0] @ up) * up
    forward_true /= np.linalg.norm(forward_true)
    heading_err = np.degrees(np.arccos(np.clip(est[0] @ forward_true, -1.0, 1.0)))
    assert heading_err < 1.2


def test_the_opening_still_stand_is_the_neutral() -> None:
    # The office day opens with the calibration protocol: a 5 s still stand, then a walk.
    rec = simulate("office_day", seed=2, rate_hz=50.0, duration_s=1800.0)
    first = align_recording(rec.acc, rec.gyr, rec.rate_hz)[0]
    assert first.neutral == Neutral.OPENING_STAND
    stand = rec.acc[25:225].mean(axis=0)
    stand /= np.linalg.norm(stand)
    up = quat_to_matrix(first.q_PS)[2]
    assert np.degrees(np.arccos(np.clip(stand @ up, -1.0, 1.0))) < 0.2
