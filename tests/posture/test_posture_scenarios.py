"""The failure cases seen on other people's data, as simulated recordings through analysis.

firmware_sim's ``slow_walk``, ``bend_pick_up`` and ``collapse_sit`` scenarios (random clip
mounting, IMU errors) go through ``monitor.analysis.analyse``, the code behind
``tiltmon analyze``, and are scored per second against the simulator's truth.
"""

from __future__ import annotations

import numpy as np
import pytest

from firmware_sim import simulate
from firmware_sim.motion import Activity
from monitor.activity import Posture
from monitor.analysis import analyse

TRUTH = {
    Activity.SITTING: Posture.SITTING,
    Activity.STANDING: Posture.STANDING,
    Activity.WALKING: Posture.WALKING,
    Activity.LYING: Posture.LYING,
}


def per_second(scenario: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(truth, predicted) per analysed second; transitions are not scored."""
    rec = simulate(scenario, seed=seed, rate_hz=50.0, lever_arm_m=(0.0, 0.12, 0.0))
    result = analyse(rec.t, rec.acc, rec.gyr, rec.rate_hz)
    truth, pred = [], []
    for snap in result.snapshots:
        i = min(int((snap.t - 0.5) * rec.rate_hz), len(rec) - 1)  # the middle of the second
        act = Activity(int(rec.activity[i]))
        if act in TRUTH:
            truth.append(TRUTH[act])
            pred.append(snap.posture)
    return np.array(truth, dtype=object), np.array(pred, dtype=object)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_slow_walkers_walk_and_stop_standing(seed: int) -> None:
    truth, pred = per_second("slow_walk", seed)
    walking = truth == Posture.WALKING
    assert np.mean(pred[walking] == Posture.WALKING) >= 0.9
    # the stop after each walk is quiet standing, not sitting
    assert not np.any(pred == Posture.SITTING)
    assert np.mean(truth == pred) >= 0.95


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bending_to_pick_something_up_is_standing(seed: int) -> None:
    truth, pred = per_second("bend_pick_up", seed)
    assert not np.any(pred == Posture.SITTING)
    assert np.mean(truth == pred) >= 0.97


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_collapse_into_a_chair_is_sitting(seed: int) -> None:
    truth, pred = per_second("collapse_sit", seed)
    sitting = truth == Posture.SITTING
    assert np.mean(pred[sitting] == Posture.SITTING) >= 0.95
    assert np.mean(truth == pred) >= 0.95
