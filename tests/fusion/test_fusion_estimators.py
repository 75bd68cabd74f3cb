"""Estimators on synthetic motion: accuracy, live = batch, bad rows, input errors."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from fusion_synth import Motion, inclination_error_deg, make_motion, rmse, rotating, static

from monitor.errors import MonitorError
from monitor.fusion import (
    ESTIMATORS,
    AccTiltEstimator,
    FusionError,
    OrientationEstimator,
    VQFEstimator,
    VQFParams,
    estimate,
    make_estimator,
    quat,
)

RATE = 100.0
CAUSAL = [n for n in ESTIMATORS if make_estimator(n, RATE).causal]
OFFLINE = [n for n in ESTIMATORS if not make_estimator(n, RATE).causal]
SLOW = {"madgwick", "mahony", "ekf"}  # pure-Python adapters: keep their inputs short
TILTED = quat.normalize([0.9, 0.3, -0.2, 0.1])


def gyr_for(name: str, m: Motion) -> np.ndarray | None:
    return None if not make_estimator(name, RATE).needs_gyro else m.gyr


@pytest.fixture(scope="module")
def motion() -> Motion:
    return rotating(RATE, 40.0, gyr_bias=(0.01, -0.02, 0.015), gyr_noise=0.005, acc_noise=0.05)


def chunks(n: int, rng: np.random.Generator) -> list[slice]:
    out, i = [], 0
    while i < n:
        k = int(rng.choice([0, 1, 2, 5, 19, 20, 37]))
        out.append(slice(i, min(n, i + k)))
        i += k
    return out


# --- interface --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_registry_entries_follow_the_protocol(name: str) -> None:
    est = make_estimator(name, RATE)
    assert isinstance(est, OrientationEstimator)
    assert est.name == name
    assert est.rate_hz == RATE
    assert est.coeffs.dt == pytest.approx(1.0 / RATE)  # dt comes from the rate


@pytest.mark.parametrize("name", CAUSAL)
def test_streaming_equals_batch(name: str, motion: Motion) -> None:
    n = 300 if name in SLOW else len(motion.acc)
    acc, gyr = motion.acc[:n].copy(), gyr_for(name, motion)
    gyr = None if gyr is None else gyr[:n].copy()
    # Some bad rows too: they must be handled identically on both paths.
    acc[[5, 50, 51]] = np.nan
    if gyr is not None:
        gyr[[70, 71, 72]] = np.nan
    est = make_estimator(name, RATE)
    batch = est.update_batch(acc, gyr)
    est.reset()
    parts = [
        est.update(acc[s], None if gyr is None else gyr[s])
        for s in chunks(n, np.random.default_rng(1))
    ]
    live = np.concatenate(parts)
    np.testing.assert_array_equal(live, batch)
    assert estimate(acc, gyr, RATE, estimator=name).tolist() == batch.tolist()


@pytest.mark.parametrize("name", ["vqf-lc", "basic-vqf", "acc-lowpass", "mahony", "ekf"])
def test_state_snapshot_resumes(name: str, motion: Motion) -> None:
    acc, gyr = motion.acc[:400], gyr_for(name, motion)
    gyr = None if gyr is None else gyr[:400]
    est = make_estimator(name, RATE)
    est.update(acc[:200], None if gyr is None else gyr[:200])
    snap = est.state
    first = est.update(acc[200:], None if gyr is None else gyr[200:])
    est.update(acc[:50], None if gyr is None else gyr[:50])  # wander off
    est.state = snap
    again = est.update(acc[200:], None if gyr is None else gyr[200:])
    np.testing.assert_array_equal(again, first)


@pytest.mark.parametrize("name", OFFLINE)
def test_offline_estimators_refuse_to_stream(name: str, motion: Motion) -> None:
    est = make_estimator(name, RATE)
    with pytest.raises(FusionError, match="offline"):
        est.update(motion.acc[:10], motion.gyr[:10])
    with pytest.raises(FusionError, match="offline=True"):
        estimate(motion.acc, motion.gyr, RATE, estimator=name)
    assert estimate(
        motion.acc, gyr_for(name, motion), RATE, offline=True, estimator=name
    ).shape == (
        len(motion.acc),
        4,
    )


def test_estimator_instance_is_used_and_rate_checked(motion: Motion) -> None:
    est = VQFEstimator(RATE)
    np.testing.assert_array_equal(
        estimate(motion.acc, motion.gyr, RATE, estimator=est),
        estimate(motion.acc, motion.gyr, RATE, estimator="vqf"),
    )
    with pytest.raises(FusionError, match="Hz"):
        estimate(motion.acc, motion.gyr, 50.0, estimator=est)


# --- accuracy on synthetic motion -------------------------------------------------------------


@pytest.mark.parametrize("name", [n for n in ESTIMATORS])
def test_static_tilt(name: str) -> None:
    m = static(TILTED, RATE, 3.0 if name in SLOW else 20.0, acc_noise=0.05, gyr_noise=0.002)
    est = make_estimator(name, RATE)
    q = est.update_batch(m.acc, m.gyr if est.needs_gyro else None)
    np.testing.assert_allclose(np.linalg.norm(q, axis=1), 1.0, atol=1e-9)
    # Madgwick and Mahony start from the first (noisy) sample and converge at their own pace.
    assert inclination_error_deg(m.q[-1], q[-1]) < (0.3 if name in SLOW else 0.1)


@pytest.mark.parametrize(
    ("name", "limit"),
    [
        ("vqf", 0.5),
        ("offline-vqf", 0.3),
        ("vqf-lc", 0.7),
        ("offline-vqf-lc", 0.6),
        ("basic-vqf", 5.0),
    ],
)
def test_rotating_with_gyro_bias(name: str, limit: float, motion: Motion) -> None:
    q = estimate(motion.acc, motion.gyr, RATE, offline=name.startswith("off"), estimator=name)
    err = inclination_error_deg(motion.q, q)
    assert rmse(err[round(10 * RATE) :]) < limit  # after the bias has been learned


def test_latency_setting_cancels_a_sensor_delay() -> None:
    """Samples that trail the motion by 20 ms: predicting 20 ms ahead restores the accuracy."""
    m = rotating(RATE, 30.0)
    delay = 2  # samples = 20 ms
    acc, gyr, q_true = m.acc[:-delay], m.gyr[:-delay], m.q[delay:]
    plain = estimate(acc, gyr, RATE, estimator=VQFEstimator(RATE))
    fixed = estimate(acc, gyr, RATE, estimator=VQFEstimator(RATE, VQFParams(latency_s=0.02)))
    tail = slice(round(10 * RATE), None)
    e_plain = rmse(inclination_error_deg(q_true, plain)[tail])
    e_fixed = rmse(inclination_error_deg(q_true, fixed)[tail])
    assert e_fixed < 0.5 * e_plain


def test_sample_rate_sets_the_time_step() -> None:
    """The same motion at two rates gives the same tilt: dt really is 1 / rate."""
    errs = []
    for rate in (50.0, 200.0):
        m = rotating(rate, 20.0)
        q = estimate(m.acc, m.gyr, rate, estimator="vqf")
        errs.append(rmse(inclination_error_deg(m.q, q)))
    assert max(errs) < 0.3
    m = rotating(200.0, 20.0)
    wrong = estimate(m.acc, m.gyr, 100.0, estimator="vqf")  # integrates half the rotation
    assert rmse(inclination_error_deg(m.q, wrong)) > 3.0


def test_accelerometer_only_tilt() -> None:
    # Slow posture change (0.1 rad/s about x for 5 s) between rests.
    n = round(RATE * 20)
    omega = np.zeros((n, 3))
    omega[round(5 * RATE) : round(10 * RATE), 0] = 0.1
    m = make_motion(omega, RATE, q0=TILTED, acc_noise=0.1)
    for offline in (False, True):
        q = estimate(m.acc, None, RATE, offline=offline)
        err = inclination_error_deg(m.q, q)
        assert err[-1] < 0.2  # settled after the change
        assert err.max() < (15.0 if not offline else 10.0)
    # Under fast rotation the gyroscope is far better than acc-only.
    r = rotating(RATE, 20.0)
    acc_only = rmse(inclination_error_deg(r.q, estimate(r.acc, None, RATE)))
    with_gyro = rmse(inclination_error_deg(r.q, estimate(r.acc, r.gyr, RATE)))
    assert acc_only > 5 * with_gyro


# --- bad rows ---------------------------------------------------------------------------------


def test_nan_gyro_rows_are_skipped_and_held(motion: Motion) -> None:
    acc, gyr = motion.acc.copy(), motion.gyr.copy()
    bad = np.zeros(len(acc), bool)
    bad[1000:1040] = True
    gyr[bad, 1] = np.nan
    q = estimate(acc, gyr, RATE, estimator="vqf")
    assert np.isfinite(q).all()
    np.testing.assert_array_equal(q[1000:1040], np.tile(q[999], (40, 1)))  # held
    # Skipping = the filter never saw those rows: the state is not poisoned.
    clean = estimate(acc[~bad], gyr[~bad], RATE, estimator="vqf")
    np.testing.assert_array_equal(q[~bad], clean)


def test_nan_acc_rows_are_gyro_only_steps(motion: Motion) -> None:
    acc = motion.acc.copy()
    acc[2000:2100] = np.nan  # 1 s without accelerometer
    q = estimate(acc, motion.gyr, RATE, estimator="vqf")
    assert np.isfinite(q).all()
    err = inclination_error_deg(motion.q, q)
    assert err[2000:2100].max() < 1.0  # the gyroscope carries the tilt through the gap
    assert rmse(err[3000:]) < 0.5


@pytest.mark.parametrize("name", ["vqf-lc", "acc-lowpass", "madgwick", "offline-vqf-lc"])
def test_leading_and_all_nan(name: str) -> None:
    m = static(TILTED, RATE, 3.0)
    acc = m.acc.copy()
    acc[:10] = np.nan
    acc[20, 0] = np.inf  # inf is as unusable as NaN
    gyr = m.gyr if make_estimator(name, RATE).needs_gyro else None
    offline = name.startswith("off")
    q = estimate(acc, gyr, RATE, estimator=name, offline=offline)
    if offline:
        assert np.isfinite(q).all()  # offline may fill from the first estimate
    else:
        assert np.isnan(q[:10]).all()  # tilt unknown before gravity is seen
        assert np.isfinite(q[10:]).all()
    assert inclination_error_deg(m.q[-1], q[-1]) < 0.1
    q_all = estimate(
        np.full((5, 3), np.nan),
        None if gyr is None else gyr[:5],
        RATE,
        estimator=name,
        offline=offline,
    )
    assert q_all.shape == (5, 4) and np.isnan(q_all).all()


def test_nan_chunk_in_a_stream_then_recovery() -> None:
    m = static(TILTED, RATE, 6.0)
    est = make_estimator("vqf-lc", RATE)
    est.update(m.acc[:200], m.gyr[:200])
    held = est.update(np.full((19, 3), np.nan), np.full((19, 3), np.nan))
    assert np.isfinite(held).all()  # the last estimate is held through the gap
    after = est.update(m.acc[200:], m.gyr[200:])
    assert inclination_error_deg(m.q[-1], after[-1]) < 0.1


def test_empty_input() -> None:
    assert estimate(np.empty((0, 3)), np.empty((0, 3)), RATE).shape == (0, 4)
    assert estimate(np.empty((0, 3)), None, RATE, offline=True).shape == (0, 4)
    assert make_estimator("vqf", RATE).update(np.empty((0, 3)), np.empty((0, 3))).shape == (0, 4)


# --- input errors -----------------------------------------------------------------------------

GOOD = np.tile([0.0, 0.0, 9.81], (10, 1))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"acc": np.zeros(10)}, r"acc must have shape \(n, 3\)"),
        ({"acc": np.zeros((10, 4))}, r"acc must have shape \(n, 3\)"),
        ({"gyr": np.zeros((10, 3, 1))}, r"gyr must have shape \(n, 3\)"),
        ({"gyr": np.zeros((9, 3))}, "same number of rows"),
        ({"acc": np.full((10, 3), "x")}, "real numbers"),
        ({"acc": GOOD.astype(complex)}, "real numbers"),
        ({"acc": [[1, 2, 3], [1, 2]]}, r"\(n, 3\)"),
        ({"rate_hz": 0.0}, "rate_hz"),
        ({"rate_hz": -100.0}, "rate_hz"),
        ({"rate_hz": float("nan")}, "rate_hz"),
        ({"rate_hz": float("inf")}, "rate_hz"),
        ({"rate_hz": "100"}, "rate_hz"),
        ({"rate_hz": True}, "rate_hz"),
        ({"estimator": "kalman9000"}, "unknown estimator"),
        ({"estimator": 3}, "name or an OrientationEstimator"),
        ({"gyr": None, "estimator": "vqf"}, "needs gyroscope"),
        ({"estimator": "offline-vqf"}, "offline=True"),
    ],
)
def test_input_errors(kwargs: dict[str, Any], match: str) -> None:
    args: dict[str, Any] = {"acc": GOOD, "gyr": np.zeros((10, 3)), "rate_hz": RATE, **kwargs}
    with pytest.raises(FusionError, match=match) as info:
        estimate(args.pop("acc"), args.pop("gyr"), args.pop("rate_hz"), **args)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, MonitorError)


def test_parameter_errors() -> None:
    with pytest.raises(FusionError, match="tau_acc"):
        VQFParams(tau_acc=0.0)
    with pytest.raises(FusionError, match="latency_s"):
        VQFParams(latency_s=1.0)
    with pytest.raises(FusionError, match="vqf rejected"):
        VQFEstimator(RATE, VQFParams(vqf_options={"noSuchOption": 1.0}))
    with pytest.raises(FusionError, match="rate_hz"):
        AccTiltEstimator(0.0)
    with pytest.raises(FusionError, match="rate_hz"):
        make_estimator("vqf", -1.0)
