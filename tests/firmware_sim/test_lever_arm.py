"""A clip at the side of the pelvis: the accelerometer feels the rotation, the gyro does not."""

from __future__ import annotations

import numpy as np
import pytest

from firmware_sim.imu_model import ImuErrors
from firmware_sim.motion import Activity
from firmware_sim.simulation import SimulatedSensor, simulate

SIDE = (0.0, 0.15, 0.0)  # on the left hip, 15 cm from the centre


def test_rotation_is_felt_by_the_accelerometer_only() -> None:
    ideal = ImuErrors.ideal()
    centre = simulate("walk", seed=2, rate_hz=100.0, errors=ideal)
    side = simulate("walk", seed=2, rate_hz=100.0, errors=ideal, lever_arm_m=SIDE)
    np.testing.assert_array_equal(side.gyr_counts, centre.gyr_counts)
    np.testing.assert_array_equal(side.lever_arm_m, SIDE)
    walking = side.activity == Activity.WALKING
    diff = np.linalg.norm(side.acc - centre.acc, axis=1)
    # While walking the pelvis rocks and turns: tenths of a m/s² more at the hip...
    assert 0.05 < float(np.sqrt(np.mean(diff[walking] ** 2))) < 2.0
    # ...and nothing beyond quantisation while the pelvis does not rotate.
    still = np.linalg.norm(centre.gyr, axis=1) < 0.02  # postural sway at most
    assert still.any()
    assert float(np.max(diff[still])) < 0.05


def test_a_side_clip_streams_exactly_as_it_simulates() -> None:
    rec = simulate("walk", seed=4, rate_hz=100.0, duration_s=100.0, lever_arm_m=SIDE)
    sensor = SimulatedSensor("walk", seed=4, rate_hz=100.0, lever_arm_m=SIDE)
    parts = []
    while sensor.sample_index < len(rec):
        acc, _ = sensor.read(min(777, len(rec) - sensor.sample_index))
        parts.append(acc)
    assert np.concatenate(parts).tobytes() == rec.acc_counts.tobytes()


@pytest.mark.parametrize("bad", [(0.0, 0.15), (0.0, float("nan"), 0.0), (0.0, 0.9, 0.0)])
def test_a_lever_arm_must_be_three_finite_numbers_within_reach(bad: tuple[float, ...]) -> None:
    with pytest.raises(ValueError, match="lever_arm_m"):
        simulate("walk", seed=1, duration_s=1.0, lever_arm_m=bad)
