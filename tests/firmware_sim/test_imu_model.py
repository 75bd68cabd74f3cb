"""The IMU error model: error magnitudes, quantisation, saturation, mounting and clock drift."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from firmware_sim.imu_model import (
    INT16_MAX,
    INT16_MIN,
    ImuErrorModel,
    ImuErrors,
    acc_lsb,
    gyr_lsb,
    quantize,
    random_mounting,
)
from firmware_sim.motion import G0, quat_to_matrix
from firmware_sim.simulation import simulate


def test_defaults_are_consumer_mems_and_ideal_is_error_free() -> None:
    e = ImuErrors()
    assert 0.003 <= e.acc_noise <= 0.01
    assert 0.001 <= e.gyr_noise <= 0.005
    assert 0.0 < e.gyr_bias_dps <= 1.0
    assert 0.05 <= e.acc_bias <= 0.2
    assert 0.01 <= e.acc_scale <= 0.02
    assert 0.0 < abs(e.clock_drift_ppm) <= 50.0
    ideal = ImuErrors.ideal()
    assert all(
        getattr(ideal, f.name) == 0.0 for f in dataclasses.fields(ideal) if "tau" not in f.name
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        e.acc_noise = 1.0  # type: ignore[misc]
    assert not hasattr(e, "__dict__")  # slotted
    with pytest.raises(ValueError, match="acc_noise"):
        ImuErrors(acc_noise=-1.0)


def test_lsb_is_range_over_32768() -> None:
    assert acc_lsb(8) == pytest.approx(8 * G0 / 32768)
    assert acc_lsb(2) == pytest.approx(2 * G0 / 32768)
    assert gyr_lsb(500) == pytest.approx(math.radians(500) / 32768)
    assert gyr_lsb(2000) == pytest.approx(math.radians(2000) / 32768)
    with pytest.raises(ValueError, match="acc range"):
        acc_lsb(3)
    with pytest.raises(ValueError, match="gyro range"):
        gyr_lsb(300)


def test_quantize_rounds_to_the_nearest_count_and_flags_clipping() -> None:
    lsb = acc_lsb(4)
    vals = np.array(
        [
            [0.0, lsb, -lsb],
            [0.49 * lsb, 0.51 * lsb, -1.51 * lsb],
            [1e6, 0.0, 0.0],
            [0.0, -1e6, 0.0],
            [32767 * lsb, -32768 * lsb, 0.0],
        ]
    )
    counts, sat = quantize(vals, lsb)
    assert counts.dtype == np.int16
    np.testing.assert_array_equal(
        counts, [[0, 1, -1], [0, 1, -2], [INT16_MAX, 0, 0], [0, INT16_MIN, 0], [32767, -32768, 0]]
    )
    np.testing.assert_array_equal(sat, [False, False, True, True, False])
    # the round trip is within half an LSB for anything in range
    x = np.random.default_rng(0).uniform(-3.9 * G0, 3.9 * G0, size=(1000, 3))
    c, s = quantize(x, lsb)
    assert not s.any()
    assert np.abs(c * lsb - x).max() <= 0.5 * lsb + 1e-12


def test_random_mounting_is_a_seeded_uniform_rotation() -> None:
    q0 = random_mounting(0)
    assert np.linalg.norm(q0) == pytest.approx(1.0)
    assert q0[0] >= 0.0
    np.testing.assert_array_equal(q0, random_mounting(0))
    assert not np.allclose(q0, random_mounting(1))
    # uniform over SO(3): the mean rotation matrix vanishes and the clip's z axis points anywhere
    qs = np.array([random_mounting(s) for s in range(400)])
    mats = quat_to_matrix(qs)
    assert np.abs(mats.mean(axis=0)).max() < 0.12
    assert (mats[:, 2, 2] < -0.5).mean() > 0.15  # often upside down


def test_drawn_biases_and_scales_respect_the_magnitudes() -> None:
    e = ImuErrors()
    for seed in range(20):
        m = ImuErrorModel(e, seed)
        assert np.all(np.abs(np.degrees(m.gyr_bias_const)) <= e.gyr_bias_dps)
        assert np.all(np.abs(m.acc_bias) <= e.acc_bias)
        assert np.all(np.abs(m.acc_scale - 1.0) <= e.acc_scale)
        np.testing.assert_array_equal(m.gyr_scale, 1.0)  # gyro scale error off by default
    a, b = ImuErrorModel(e, 1), ImuErrorModel(e, 2)
    assert not np.allclose(a.gyr_bias_const, b.gyr_bias_const)


def test_gyro_bias_wanders_slowly_by_a_few_tenths_of_a_degree_per_second() -> None:
    t = np.arange(0.0, 8 * 3600.0, 1.0)
    changes = []
    for seed in range(6):
        m = ImuErrorModel(ImuErrors(), seed)
        bias = np.degrees(m.gyro_bias(t))
        np.testing.assert_allclose(bias[0], np.degrees(m.gyr_bias_const), atol=1e-12)
        drift = bias - bias[0]
        changes.append(np.abs(drift).max())
        # slow: hardly anything happens within a second or a minute
        assert np.abs(np.diff(bias, axis=0)).max() < 0.01
        assert np.abs(bias[60:] - bias[:-60]).max() < 0.1
    assert 0.1 < np.median(changes) < 1.0
    assert max(changes) < 1.5


def test_gyro_bias_does_not_depend_on_how_it_is_queried() -> None:
    t = np.arange(0.0, 30000.0, 0.37)
    whole = ImuErrorModel(ImuErrors(), 5).gyro_bias(t)
    m = ImuErrorModel(ImuErrors(), 5)
    late_first = m.gyro_bias(t[50000:])  # extends the cached wander out of order
    parts = np.concatenate([m.gyro_bias(c) for c in np.array_split(t[:50000], 9)])
    np.testing.assert_array_equal(np.concatenate([parts, late_first]), whole)


def test_noise_level_and_its_rate_scaling() -> None:
    e = ImuErrors(
        acc_noise=0.008, gyr_noise=0.003, gyr_bias_dps=0.0, gyr_bias_drift_dps=0.0, acc_bias=0.0
    )
    e = dataclasses.replace(e, acc_scale=0.0)
    m = ImuErrorModel(e, 0)
    n = 8192
    zeros = np.zeros((n, 3))
    ts = np.arange(n) / 100.0
    gyr, acc, bias = m.apply(0, ts, 100.0, zeros, zeros)
    np.testing.assert_array_equal(bias, 0.0)
    assert acc.std() == pytest.approx(0.008, rel=0.05)
    assert gyr.std() == pytest.approx(0.003, rel=0.05)
    _, acc4, _ = m.apply(0, ts, 400.0, zeros, zeros)
    assert acc4.std() == pytest.approx(0.016, rel=0.05)  # white noise: ×sqrt(4)
    # a block's noise is fixed by (seed, block index)
    np.testing.assert_array_equal(m.apply(0, ts, 100.0, zeros, zeros)[1], acc)
    assert not np.array_equal(m.apply(1, ts, 100.0, zeros, zeros)[1], acc)


def test_bias_and_scale_act_on_the_true_signal() -> None:
    e = dataclasses.replace(ImuErrors.ideal(), acc_bias=0.2, acc_scale=0.02, gyr_bias_dps=1.0)
    m = ImuErrorModel(e, 3)
    force = np.tile([1.0, -2.0, G0], (10, 1))
    omega = np.tile([0.1, 0.2, -0.3], (10, 1))
    gyr, acc, bias = m.apply(0, np.arange(10) / 100.0, 100.0, omega, force)
    np.testing.assert_allclose(acc, force * m.acc_scale + m.acc_bias)
    np.testing.assert_allclose(gyr, omega + m.gyr_bias_const)
    np.testing.assert_allclose(bias, np.tile(m.gyr_bias_const, (10, 1)))


def test_clock_drift_maps_sensor_time_to_true_time() -> None:
    m = ImuErrorModel(dataclasses.replace(ImuErrors.ideal(), clock_drift_ppm=50.0), 0)
    assert m.true_time(1000.0) == pytest.approx(1000.0 / 1.00005)
    rec = simulate(
        "standing",
        duration_s=20.0,
        errors=dataclasses.replace(ImuErrors(), clock_drift_ppm=-40.0),
    )
    assert rec.clock_drift_ppm == -40.0
    np.testing.assert_allclose(rec.t, np.arange(2000) / 100.0)
    np.testing.assert_allclose(rec.t_true, rec.t / (1.0 - 40e-6))


def test_saturation_is_clipped_and_reported() -> None:
    # brisk walking turns reach 150+ dps about the clip's z axis (identity mounting)
    kw = {"seed": 1, "mounting": [1.0, 0.0, 0.0, 0.0]}
    rec = simulate("walk", gyr_range_dps=125, acc_range_g=2, **kw)
    wide = simulate("walk", gyr_range_dps=2000, acc_range_g=16, **kw)
    clipped = (rec.gyr_counts == INT16_MAX) | (rec.gyr_counts == INT16_MIN)
    clipped |= (rec.acc_counts == INT16_MAX) | (rec.acc_counts == INT16_MIN)
    assert 0 < rec.saturated.sum() < 0.05 * len(rec)
    np.testing.assert_array_equal(rec.saturated, clipped.any(axis=1))
    assert np.abs(rec.gyr).max() == pytest.approx(math.radians(125), rel=1e-3)
    # the flagged samples are exactly those whose true rate is beyond the range
    beyond = np.abs(wide.gyr).max(axis=1) > math.radians(125) + gyr_lsb(2000)
    within = np.abs(wide.gyr).max(axis=1) < math.radians(125) - gyr_lsb(2000)
    assert np.all(rec.saturated[beyond]) and not np.any(rec.saturated[within])
    assert not wide.saturated.any()


def test_quantisation_step_of_the_recording() -> None:
    rec = simulate("standing", duration_s=5.0, acc_range_g=16, gyr_range_dps=2000)
    np.testing.assert_array_equal(rec.acc, rec.acc_counts * acc_lsb(16))
    np.testing.assert_array_equal(rec.gyr, rec.gyr_counts * gyr_lsb(2000))
    steps = np.unique(np.abs(np.diff(rec.acc[:, 0])))
    assert steps[steps > 0].min() == pytest.approx(acc_lsb(16))
