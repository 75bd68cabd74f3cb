"""The guided procedure: phases, prompts, results on random mountings, and every error."""

from __future__ import annotations

import numpy as np
import pytest
from calib_sim import forward_tilts, stand, still, synth, walk

from calibration import (
    CalibrationError,
    CalibrationProcedure,
    Failed,
    Finished,
    MovedDuringStillError,
    NotEnoughWalkingError,
    NotUprightError,
    Phase,
    ProcedureConfig,
    Progress,
    Prompt,
    TiltsTooSmallError,
    quat_angle_deg,
    still_estimate,
)
from calibration.rotation import angle_deg, quat_to_matrix
from firmware_sim import simulate


def run(proc: CalibrationProcedure, t, acc, gyr, chunk: int = 19, start: int = 0) -> list:
    events: list = []
    for i in range(start, len(t), chunk):
        events += proc.feed(t[i : i + chunk], acc[i : i + chunk], gyr[i : i + chunk])
        if proc.finished:
            break
    return events


@pytest.mark.parametrize("seed", [0, 3, 7, 11])
def test_walk_calibration_recovers_the_mounting(seed: int) -> None:
    rec = simulate("calibration", seed=seed)
    proc = CalibrationProcedure(rec.rate_hz)
    events = run(proc, rec.t, rec.acc, rec.gyr, start=100)  # the stream joins 1 s late
    prompts = [e.phase for e in events if isinstance(e, Prompt)]
    assert prompts == [Phase.GET_READY, Phase.STAND_STILL, Phase.WALK, Phase.DONE]
    assert isinstance(events[-1], Finished)
    overall = [e.overall for e in events if isinstance(e, Progress)]
    assert overall == sorted(overall) and overall[-1] == 1.0
    result = proc.result
    assert result is not None
    # The accelerometer bias (±0.15 m/s² per axis) alone tilts "up" by up to ~1.5°.
    assert quat_angle_deg(result.q_PS, rec.mounting) < 2.0
    r, rt = quat_to_matrix(result.q_PS), quat_to_matrix(rec.mounting)
    assert angle_deg(r[0], rt[0]) < 2.0
    assert result.quality["steps"] >= 15
    assert proc.feed(rec.t[:5], rec.acc[:5], rec.gyr[:5]) == []  # finished: ignores samples


@pytest.mark.parametrize("seed", [1, 2, 5])
def test_tilt_calibration_finds_forward(seed: int) -> None:
    data = synth([still(), *forward_tilts(12.0), stand(5.0)], seed=seed)
    proc = CalibrationProcedure(100.0, ProcedureConfig(method="tilt", tilt_s=18.0))
    events = run(proc, data.t, data.acc, data.gyr)
    assert Phase.TILT in [e.phase for e in events if isinstance(e, Prompt)]
    assert proc.result is not None, proc.error
    r, rt = quat_to_matrix(proc.result.q_PS), quat_to_matrix(data.mounting)
    assert angle_deg(r[0], rt[0]) < 3.0
    assert proc.result.quality["tilt_deg"] > 10.0


def failure(proc: CalibrationProcedure, events: list) -> CalibrationError:
    assert proc.phase is Phase.FAILED
    assert isinstance(events[-1], Failed)
    assert proc.error is events[-1].error
    return events[-1].error


def test_moving_during_the_still_phase_fails_plainly() -> None:
    data = synth([walk(30.0)], seed=4)
    proc = CalibrationProcedure(100.0)
    error = failure(proc, run(proc, data.t, data.acc, data.gyr))
    assert isinstance(error, MovedDuringStillError)
    assert "you moved during the still phase" in str(error)


def test_not_walking_fails_plainly() -> None:
    data = synth([still(), stand(30.0)], seed=4)
    proc = CalibrationProcedure(100.0)
    error = failure(proc, run(proc, data.t, data.acc, data.gyr))
    assert isinstance(error, NotEnoughWalkingError)
    assert "I did not see you walk" in str(error)


def test_too_short_a_walk_fails_plainly() -> None:
    data = synth([still(), walk(4.0), stand(10.0)], seed=4)
    proc = CalibrationProcedure(100.0)
    error = failure(proc, run(proc, data.t, data.acc, data.gyr))
    assert isinstance(error, NotEnoughWalkingError)
    assert "not enough walking" in str(error)


def test_small_tilts_fail_plainly() -> None:
    data = synth([still(), *forward_tilts(2.0)], seed=4)
    proc = CalibrationProcedure(100.0, ProcedureConfig(method="tilt"))
    error = failure(proc, run(proc, data.t, data.acc, data.gyr))
    assert isinstance(error, TiltsTooSmallError)
    assert "the tilts were too small" in str(error)


def test_tilts_both_ways_fail_plainly() -> None:
    rocking = [still()] + [stand(3.0, s) for s in (10.0, -10.0, 10.0, -10.0, 0.0)]
    data = synth(rocking, seed=4)
    proc = CalibrationProcedure(100.0, ProcedureConfig(method="tilt"))
    error = failure(proc, run(proc, data.t, data.acc, data.gyr))
    assert isinstance(error, TiltsTooSmallError)
    assert "did not go one way" in str(error)


def test_a_sensor_not_measuring_gravity_is_not_upright() -> None:
    acc = np.tile([0.0, 0.0, 3.0], (300, 1))
    with pytest.raises(NotUprightError, match=r"instead of about 9\.8"):
        still_estimate(acc, np.zeros((300, 3)), 100.0)


def test_a_still_phase_that_moved_is_rejected() -> None:
    rng = np.random.default_rng(0)
    acc = np.tile([0.0, 0.0, 9.8], (300, 1)) + rng.normal(0, 0.5, (300, 3))
    with pytest.raises(MovedDuringStillError, match="you moved during the still phase"):
        still_estimate(acc, np.zeros((300, 3)), 100.0)


def test_bad_config_and_rows() -> None:
    with pytest.raises(ValueError, match="method"):
        ProcedureConfig(method="dance")
    with pytest.raises(ValueError, match="rate_hz"):
        CalibrationProcedure(0.0)
    with pytest.raises(ValueError, match="same number of rows"):
        CalibrationProcedure(100.0).feed([0.0, 0.01], np.zeros((1, 3)), np.zeros((1, 3)))
