"""Batch simulation and the streaming sensor: determinism, streaming = batch, truth, mounting."""

from __future__ import annotations

import dataclasses
import math
import subprocess
import sys

import numpy as np
import pytest

from firmware_sim.imu_model import ImuErrors, acc_lsb, gyr_lsb
from firmware_sim.motion import G0, Activity, quat_rotate, quat_to_matrix
from firmware_sim.scenarios import build_scenario
from firmware_sim.simulation import BLOCK_SAMPLES, SimulatedSensor, simulate


def test_same_seed_same_bytes_different_seed_different_bytes() -> None:
    a = simulate("desk_short", seed=4, duration_s=100.0)
    b = simulate("desk_short", seed=4, duration_s=100.0)
    c = simulate("desk_short", seed=5, duration_s=100.0)
    assert a.acc_counts.tobytes() == b.acc_counts.tobytes()
    assert a.gyr_counts.tobytes() == b.gyr_counts.tobytes()
    assert a.q_EP.tobytes() == b.q_EP.tobytes()
    np.testing.assert_array_equal(a.mounting, b.mounting)
    assert a.acc_counts.tobytes() != c.acc_counts.tobytes()
    assert a.gyr_counts.tobytes() != c.gyr_counts.tobytes()
    assert not np.allclose(a.mounting, c.mounting)


def test_recording_shapes_and_defaults() -> None:
    rec = simulate("standing", seed=1)
    n = round(build_scenario("standing", 1).duration_s * 100)
    assert len(rec) == n
    assert rec.acc.shape == rec.gyr.shape == rec.acc_counts.shape == (n, 3)
    assert rec.acc_counts.dtype == rec.gyr_counts.dtype == np.int16
    assert rec.q_EP.shape == (n, 4) and rec.gyro_bias.shape == (n, 3)
    assert rec.saturated.shape == rec.activity.shape == rec.zone.shape == (n,)
    assert (rec.acc_range_g, rec.gyr_range_dps, rec.rate_hz) == (8, 500, 100.0)
    assert rec.errors == ImuErrors()
    np.testing.assert_allclose(rec.t, np.arange(n) / 100.0)
    assert np.linalg.norm(rec.mounting) == pytest.approx(1.0)
    # duration can be shorter or longer than the scenario (longer: the last posture is held)
    assert len(simulate("standing", duration_s=2.5, rate_hz=104.0)) == 260
    held = simulate("standing", duration_s=90.0)
    assert len(held) == 9000 and np.all(held.activity[7000:] == Activity.STANDING)


def test_quiet_standing_reads_gravity_through_the_mounting() -> None:
    rec = simulate("standing", seed=3, duration_s=5.0)
    # rotate the sensor-frame specific force into the pelvis frame: ≈ +g on z while standing still
    f_P = quat_rotate(rec.mounting, rec.acc)
    mean = f_P.mean(axis=0)
    assert np.linalg.norm(mean) == pytest.approx(G0, rel=0.03)  # scale and bias errors included
    assert math.degrees(math.acos(mean[2] / np.linalg.norm(mean))) < 3.0
    # and the sensor axes themselves are far from the pelvis axes for a random clip
    assert np.abs(rec.acc.mean(axis=0) - [0.0, 0.0, G0]).max() > 1.0


def test_ideal_sensor_reports_the_truth_within_half_an_lsb() -> None:
    scen = build_scenario("desk_short", 2)
    rec = simulate("desk_short", seed=2, errors=ImuErrors.ideal(), duration_s=120.0)
    truth = scen.motion().evaluate(rec.t_true)
    np.testing.assert_array_equal(rec.t_true, rec.t)  # no clock drift
    r_ps = quat_to_matrix(rec.mounting)
    acc_S = truth.specific_force_P @ r_ps
    gyr_S = truth.omega_P @ r_ps
    assert np.abs(rec.acc - acc_S).max() <= 0.5 * acc_lsb(8) + 1e-12
    assert np.abs(rec.gyr - gyr_S).max() <= 0.5 * gyr_lsb(500) + 1e-12
    np.testing.assert_allclose(rec.q_EP, truth.q_EP)
    np.testing.assert_array_equal(rec.gyro_bias, 0.0)


def test_gyro_bias_truth_is_what_the_still_sensor_reads() -> None:
    errors = dataclasses.replace(ImuErrors(), gyr_noise=0.0)
    rec = simulate("standing", seed=6, errors=errors, gyr_range_dps=125)
    scen = build_scenario("standing", 6)
    truth = scen.motion().evaluate(rec.t_true)
    omega_S = truth.omega_P @ quat_to_matrix(rec.mounting)
    assert np.abs(rec.gyr - omega_S - rec.gyro_bias).max() <= 0.5 * gyr_lsb(125) + 1e-12
    assert np.degrees(np.abs(rec.gyro_bias).max()) > 0.05


@pytest.mark.parametrize("sizes", [[1, 7, 333, 8191, 2, 5000], [8192, 8193, 1], [97]])
def test_streaming_reads_equal_the_batch(sizes: list[int]) -> None:
    rec = simulate("walk", duration_s=230.0, acc_range_g=4, gyr_range_dps=1000, seed=9)
    sensor = SimulatedSensor("walk", seed=9, rate_hz=100.0)
    accs, gyrs, sats, qs = [], [], [], []
    i = 0
    while sensor.sample_index < len(rec):
        n = min(sizes[i % len(sizes)], len(rec) - sensor.sample_index)
        assert sensor.time_s == pytest.approx(sensor.sample_index / 100.0)
        acc, gyr = sensor.read(n, 4, 1000)
        assert acc.shape == gyr.shape == (n, 3) and acc.dtype == np.int16
        assert sensor.last_truth is not None
        accs.append(acc)
        gyrs.append(gyr)
        sats.append(sensor.last_truth.saturated)
        qs.append(sensor.last_truth.q_EP)
        i += 1
    assert i > 2 and len(rec) > 2 * BLOCK_SAMPLES
    assert np.concatenate(accs).tobytes() == rec.acc_counts.tobytes()
    assert np.concatenate(gyrs).tobytes() == rec.gyr_counts.tobytes()
    np.testing.assert_array_equal(np.concatenate(sats), rec.saturated)
    np.testing.assert_array_equal(np.concatenate(qs), rec.q_EP)


def test_streaming_can_start_late_and_change_range() -> None:
    rec8 = simulate("sit_stand", seed=2, acc_range_g=8, gyr_range_dps=500)
    rec16 = simulate("sit_stand", seed=2, acc_range_g=16, gyr_range_dps=2000)
    sensor = SimulatedSensor("sit_stand", seed=2, start_s=50.0)
    assert sensor.sample_index == 5000 and sensor.time_s == 50.0
    a, g = sensor.read(1234, 8, 500)
    np.testing.assert_array_equal(a, rec8.acc_counts[5000:6234])
    np.testing.assert_array_equal(g, rec8.gyr_counts[5000:6234])
    a, g = sensor.read(777, 16, 2000)  # the firmware reconfigured the ranges
    np.testing.assert_array_equal(a, rec16.acc_counts[6234:7011])
    np.testing.assert_array_equal(g, rec16.gyr_counts[6234:7011])
    truth = sensor.last_truth
    assert truth is not None
    np.testing.assert_array_equal(truth.sagittal_deg, rec16.sagittal_deg[6234:7011])
    np.testing.assert_array_equal(truth.activity, rec16.activity[6234:7011])
    np.testing.assert_array_equal(truth.gyro_bias, rec16.gyro_bias[6234:7011])
    a, g = sensor.read(0)
    assert a.shape == (0, 3)


def test_the_stream_never_runs_dry() -> None:
    sensor = SimulatedSensor("standing", seed=0, rate_hz=50.0)
    assert sensor.duration_s == pytest.approx(60.0)
    sensor.read(3000)  # exactly the scenario
    acc, _ = sensor.read(1000)  # 20 s more
    truth = sensor.last_truth
    assert truth is not None
    assert np.all(truth.activity == Activity.STANDING)
    assert np.abs(truth.sagittal_deg).max() < 5.0
    f = acc.astype(float) * acc_lsb(8)
    assert np.linalg.norm(f.mean(axis=0)) == pytest.approx(G0, rel=0.03)


def test_sensor_exposes_its_clock_drift_and_mounting() -> None:
    errors = dataclasses.replace(ImuErrors(), clock_drift_ppm=-25.0)
    sensor = SimulatedSensor("walk", seed=3, errors=errors)
    assert sensor.clock_drift_ppm == -25.0
    np.testing.assert_array_equal(sensor.mounting, simulate("walk", seed=3, duration_s=1).mounting)
    q = np.array([0.0, 0.0, 0.0, 2.0])  # normalised on the way in
    sensor = SimulatedSensor("walk", seed=3, mounting=q)
    np.testing.assert_allclose(sensor.mounting, [0.0, 0.0, 0.0, 1.0])
    sensor.read(10)
    assert sensor.last_truth is not None
    np.testing.assert_allclose(sensor.last_truth.t_true, sensor.last_truth.t / (1 + 30e-6))


def test_bad_arguments_are_rejected() -> None:
    with pytest.raises(ValueError, match="acc range"):
        simulate("standing", acc_range_g=3)
    with pytest.raises(ValueError, match="gyro range"):
        SimulatedSensor("standing").read(5, 8, 333)
    with pytest.raises(ValueError, match="unknown scenario"):
        SimulatedSensor("nope")
    with pytest.raises(ValueError, match="mounting"):
        simulate("standing", mounting=[0.0, 0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="rate_hz"):
        simulate("standing", rate_hz=0.0)


def test_the_simulator_imports_nothing_from_the_host_side() -> None:
    code = "import sys, firmware_sim.simulation; print('\\n'.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    roots = {m.split(".")[0] for m in out.stdout.split()}
    assert not roots & {"monitor", "calibration", "bumble", "bleak"}
