"""The pelvis motion model: conventions, plausibility, and gyro/accelerometer consistency."""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import pytest

from firmware_sim.motion import (
    G0,
    Activity,
    MotionModel,
    MotionState,
    Segment,
    TiltZone,
    quat_conjugate,
    quat_from_euler_zyx,
    quat_multiply,
    quat_rotate,
    quat_to_matrix,
    tilt_from_quat,
)
from firmware_sim.scenarios import build_scenario

FloatArray = np.ndarray


def _rx(a: float) -> FloatArray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _ry(a: float) -> FloatArray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def _rz(a: float) -> FloatArray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def _angle_deg(q1: FloatArray, q2: FloatArray) -> FloatArray:
    d = np.abs(np.sum(q1 * q2, axis=-1)).clip(0.0, 1.0)
    return 2.0 * np.degrees(np.arccos(d))


@cache
def _state(name: str, seed: int = 0, rate: float = 100.0) -> MotionState:
    m = build_scenario(name, seed).motion()
    return m.evaluate(np.arange(0.0, m.duration_s, 1.0 / rate))


# --- frames and angle conventions -------------------------------------------------------------


def test_euler_quaternion_matches_rz_ry_rx() -> None:
    rng = np.random.default_rng(1)
    for _ in range(20):
        psi, th, ph = rng.uniform(-3, 3), rng.uniform(-1.5, 1.5), rng.uniform(-3, 3)
        q = quat_from_euler_zyx(psi, th, ph)
        np.testing.assert_allclose(quat_to_matrix(q), _rz(psi) @ _ry(th) @ _rx(ph), atol=1e-12)
        sag, fro = tilt_from_quat(q)
        assert sag == pytest.approx(math.degrees(th), abs=1e-9)
        assert fro == pytest.approx(math.degrees(ph), abs=1e-9)


def test_quaternion_helpers_are_hamilton() -> None:
    qz90 = quat_from_euler_zyx(math.pi / 2, 0.0, 0.0)
    np.testing.assert_allclose(quat_rotate(qz90, [1.0, 0.0, 0.0]), [0.0, 1.0, 0.0], atol=1e-12)
    q = quat_from_euler_zyx(0.3, -0.2, 0.5)
    np.testing.assert_allclose(quat_multiply(q, quat_conjugate(q)), [1, 0, 0, 0], atol=1e-12)
    # composition order: (a ⊗ b) rotates by b first, then a
    a, b = quat_from_euler_zyx(0.4, 0.1, 0.0), quat_from_euler_zyx(0.0, 0.3, -0.7)
    v = np.array([0.2, -1.0, 0.5])
    np.testing.assert_allclose(
        quat_rotate(quat_multiply(a, b), v), quat_rotate(a, quat_rotate(b, v)), atol=1e-12
    )


def _still(sag: float = 0.0, fro: float = 0.0, dur: float = 20.0) -> MotionState:
    segs = [
        Segment(Activity.STANDING, 5.0, fidget=0.0),
        Segment(Activity.STANDING, dur, sagittal_deg=sag, frontal_deg=fro, ramp_s=2.0, fidget=0.0),
    ]
    return MotionModel(segs, seed=3).evaluate(np.arange(0.0, 5.0 + dur, 0.01))


def test_anterior_tilt_is_positive_and_moves_the_top_of_the_pelvis_forward() -> None:
    st = _still(sag=12.0)
    before, after = slice(0, 450), slice(1000, None)
    assert abs(st.sagittal_deg[before].mean()) < 1.0
    assert st.sagittal_deg[after].mean() == pytest.approx(12.0, abs=1.0)
    up_E = quat_rotate(st.q_EP, [0.0, 0.0, 1.0])  # the pelvis's "up" axis in the earth frame
    fwd_E = quat_rotate(st.q_EP, [1.0, 0.0, 0.0])
    fwd_h = fwd_E[:, :2] / np.linalg.norm(fwd_E[:, :2], axis=1, keepdims=True)
    top_forward = np.sum(up_E[:, :2] * fwd_h, axis=1)
    assert np.all(top_forward[after] > math.sin(math.radians(10.0)))
    assert np.all(fwd_E[after, 2] < 0.0)  # front of the pelvis goes down
    # gravity seen from the tilted pelvis leans backwards
    assert np.all(st.specific_force_P[after, 0] < -0.15 * G0)


def test_right_hip_drop_is_positive_frontal() -> None:
    st = _still(fro=8.0)
    after = slice(1000, None)
    assert st.frontal_deg[after].mean() == pytest.approx(8.0, abs=1.0)
    left_E = quat_rotate(st.q_EP, [0.0, 1.0, 0.0])
    assert np.all(left_E[after, 2] > math.sin(math.radians(6.0)))  # left hip up, right hip down
    assert np.all(st.specific_force_P[after, 1] > 0.1 * G0)


def test_still_upright_pelvis_reads_plus_g_on_z() -> None:
    st = _still()
    f = st.specific_force_P
    np.testing.assert_allclose(np.linalg.norm(f, axis=1), G0, atol=1e-3)
    np.testing.assert_allclose(f.mean(axis=0), [0.0, 0.0, G0], atol=0.05)


def test_truth_angles_agree_with_the_quaternion() -> None:
    st = _state("desk_short")
    sag, fro = tilt_from_quat(st.q_EP)
    np.testing.assert_allclose(sag, st.sagittal_deg, atol=1e-9)
    np.testing.assert_allclose(fro, st.frontal_deg, atol=1e-9)


# --- consistency of the inertial signals with the trajectory ----------------------------------


def _rk4_propagators(omega: FloatArray, h: float) -> FloatArray:
    """RK4 steps for q' = ½·q⊗ω with ω at t, t+h/2, t+h (rows 0, 1, 2, …) as quaternions."""
    a = np.zeros((omega.shape[0], 4))
    a[:, 1:] = 0.5 * omega
    a1, a2, a3 = a[0:-1:2], a[1::2], a[2::2]
    one = np.zeros_like(a1)
    one[:, 0] = 1.0
    k2 = quat_multiply(one + 0.5 * h * a1, a2)
    k3 = quat_multiply(one + 0.5 * h * k2, a2)
    k4 = quat_multiply(one + h * k3, a3)
    return one + (h / 6.0) * (a1 + 2.0 * k2 + 2.0 * k3 + k4)


def _chain(q0: FloatArray, steps: FloatArray) -> FloatArray:
    w, x, y, z = (float(v) for v in q0)
    out = np.empty((steps.shape[0] + 1, 4))
    out[0] = q0
    for k, (a, b, c, d) in enumerate(steps.tolist()):
        w, x, y, z = (
            w * a - x * b - y * c - z * d,
            w * b + x * a + y * d - z * c,
            w * c - x * d + y * a + z * b,
            w * d + x * c - y * b + z * a,
        )
        n = (w * w + x * x + y * y + z * z) ** -0.5
        w, x, y, z = w * n, x * n, y * n, z * n
        out[k + 1] = (w, x, y, z)
    return out


@pytest.mark.parametrize(("name", "minutes"), [("desk_short", None), ("office_day", 12.0)])
def test_integrating_the_gyro_reproduces_the_orientation(name: str, minutes: float | None) -> None:
    model = build_scenario(name, 0).motion()
    rate = 100.0
    h = 1.0 / rate
    dur = model.duration_s if minutes is None else minutes * 60.0
    n = int(dur * rate)
    st = model.evaluate(np.arange(2 * n + 1) * (0.5 * h))  # samples plus midpoints
    q = _chain(st.q_EP[0], _rk4_propagators(st.omega_P, h))
    err = _angle_deg(q, st.q_EP[::2])
    assert dur > 240.0
    assert err.max() < 0.05  # observed ~1e-5°, the arccos resolution
    # and the integration is not trivially satisfied: the pelvis really turned and tilted
    assert np.ptp(st.heading_deg) > 90.0
    assert np.ptp(st.sagittal_deg) > 20.0


def test_specific_force_is_gravity_plus_the_second_derivative_of_position() -> None:
    st = _state("desk_short", rate=400.0)
    # algebra: f_P = R_EPᵀ·(a_E + g·ẑ)
    r = quat_to_matrix(st.q_EP)
    f = np.einsum("nji,nj->ni", r, st.accel_E + np.array([0.0, 0.0, G0]))
    np.testing.assert_allclose(f, st.specific_force_P, atol=1e-9)
    # calculus: the acceleration integrates to the velocity (trapezoid at 400 Hz)
    dt = 1.0 / 400.0
    v = st.velocity_E[0] + np.concatenate(
        [np.zeros((1, 3)), np.cumsum(0.5 * (st.accel_E[1:] + st.accel_E[:-1]) * dt, axis=0)]
    )
    np.testing.assert_allclose(v, st.velocity_E, atol=1e-3)


def test_sit_stand_moves_the_pelvis_down_and_up_with_an_anterior_pitch() -> None:
    st = _state("sit_stand")
    dt = 0.01
    height = np.cumsum(st.velocity_E[:, 2]) * dt
    sitting = st.activity == Activity.SITTING
    standing = st.activity == Activity.STANDING
    assert -0.5 < np.median(height[sitting]) < -0.35
    assert abs(np.median(height[standing])) < 0.05
    assert np.all(np.abs(st.velocity_E[standing | sitting, 2]) < 0.05)
    trans = st.activity == Activity.TRANSITION
    # each sit-down / stand-up leans the pelvis forward past both postures
    edges = np.flatnonzero(np.diff(trans.astype(int)) == 1) + 1
    assert len(edges) >= 10
    for i0 in edges:
        seg = slice(i0, i0 + 200)
        peak = st.sagittal_deg[seg].max()
        assert peak > max(st.sagittal_deg[i0 - 1], st.sagittal_deg[i0 + 300]) + 8.0
    # transitions take 2–3 s
    lengths = np.diff(np.flatnonzero(np.diff(trans.astype(int)) != 0))[::2] * dt
    assert np.all((lengths > 1.9) & (lengths < 3.1))
    # vertical accelerations of a few m/s² at most, and they happen in the transitions
    assert np.abs(st.accel_E[trans, 2]).max() > 0.3
    assert np.abs(st.accel_E[~trans, 2]).max() < 0.3


# --- activities ------------------------------------------------------------------------------


def test_walking_has_step_frequency_bounce_and_pelvic_oscillations() -> None:
    scen = build_scenario("walk", 0)
    seg = next(s for s in scen.segments if s.activity is Activity.WALKING)
    st = _state("walk")
    walk = st.activity == Activity.WALKING
    steady = np.flatnonzero(walk)[300:-300]
    az = st.accel_E[steady, 2]
    assert 1.5 < np.percentile(az, 99) < 4.0
    assert -4.0 < np.percentile(az, 1) < -1.5
    spec = np.abs(np.fft.rfft(az - az.mean()))
    freqs = np.fft.rfftfreq(az.size, 0.01)
    assert freqs[np.argmax(spec)] == pytest.approx(seg.step_hz, abs=0.05)
    # forward progression at walking speed, with turns
    speed = np.linalg.norm(st.velocity_E[steady, :2], axis=1)
    assert np.median(speed) == pytest.approx(seg.speed_mps, rel=0.1)
    assert np.ptp(st.heading_deg[walk]) > 90.0
    # a few degrees of obliquity and tilt per stride: look at 1 s windows
    win = st.frontal_deg[steady][: (steady.size // 100) * 100].reshape(-1, 100)
    assert 3.0 < np.median(np.ptp(win, axis=1)) < 12.0
    win = st.sagittal_deg[steady][: (steady.size // 100) * 100].reshape(-1, 100)
    assert 1.0 < np.median(np.ptp(win, axis=1)) < 6.0


def test_sitting_postures_and_labels() -> None:
    st = _state("slump")
    sit = st.activity == Activity.SITTING
    upright = sit & (st.zone == TiltZone.NEUTRAL)
    slumped = sit & (st.zone == TiltZone.POSTERIOR)
    assert -15.0 < np.median(st.sagittal_deg[upright]) < -2.0
    late = np.flatnonzero(slumped)[-6000:]
    assert -28.0 < np.median(st.sagittal_deg[late]) < -12.0
    st = _state("anterior")
    ant = (st.activity == Activity.SITTING) & (st.zone == TiltZone.ANTERIOR)
    assert 6.0 < np.median(st.sagittal_deg[ant]) < 18.0  # 8–15° plus fidget shifts
    for name, zone, sign in (
        ("lateral_left", TiltZone.LEFT, -1),
        ("lateral_right", TiltZone.RIGHT, 1),
    ):
        st = _state(name)
        for act in (Activity.SITTING, Activity.STANDING):
            m = (st.activity == act) & (st.zone == zone)
            assert m.sum() > 1000
            assert 3.0 < sign * np.median(st.frontal_deg[m]) < 13.0


def test_lying_supine_and_on_the_side() -> None:
    st = _state("lying")
    lying = st.activity == Activity.LYING
    assert np.all(st.zone[lying] == TiltZone.NONE)
    supine = lying & (st.sagittal_deg < -60.0)
    side = lying & (np.abs(st.frontal_deg) > 60.0)
    assert supine.sum() > 4000 and side.sum() > 6000
    assert -89.0 < np.median(st.sagittal_deg[supine]) < -78.0
    assert np.any(st.frontal_deg[side] < -75.0) and np.any(st.frontal_deg[side] > 75.0)
    # lying on the left side: the pelvis's left axis points down
    left_side = lying & (st.frontal_deg < -75.0)
    assert np.all(quat_rotate(st.q_EP[left_side], [0.0, 1.0, 0.0])[:, 2] < -0.9)


def test_standing_sway_is_small_and_slow() -> None:
    st = _still(dur=60.0)
    still = slice(1000, None)
    for ang in (st.sagittal_deg[still], st.frontal_deg[still]):
        assert 0.05 < ang.std() < 0.8
        assert np.ptp(ang) < 3.0
    assert np.degrees(np.abs(st.omega_P[still])).max() < 3.0


def test_fidgets_and_heading_changes_happen_while_sitting() -> None:
    model = build_scenario("office_day", 2).motion()
    st = model.evaluate(np.arange(0.0, 3600.0, 0.1))
    sit = st.activity == Activity.SITTING
    # swivels: the heading changes by more than 5° within a minute many times
    head = st.heading_deg[sit]
    jumps = np.abs(head[600:] - head[:-600]) > 5.0
    assert jumps.mean() > 0.05
    # small posture shifts: within a sitting zone the posture is not frozen
    assert np.ptp(st.frontal_deg[sit & (st.zone == TiltZone.NEUTRAL)]) > 2.0


def test_evaluation_does_not_depend_on_chunking_and_holds_after_the_end() -> None:
    model = build_scenario("desk_short", 4).motion()
    t = np.arange(0.0, model.duration_s + 30.0, 0.01)
    whole = model.evaluate(t)
    parts = [model.evaluate(c) for c in np.array_split(t, 37)]
    for field in ("q_EP", "omega_P", "specific_force_P", "sagittal_deg"):
        joined = np.concatenate([getattr(p, field) for p in parts])
        np.testing.assert_allclose(joined, getattr(whole, field), rtol=0, atol=1e-9)
    np.testing.assert_array_equal(np.concatenate([p.activity for p in parts]), whole.activity)
    after = t > model.duration_s
    assert np.all(whole.activity[after] == model.segments[-1].activity)
    assert np.all(np.isfinite(whole.q_EP[after]))


def test_segments_validate() -> None:
    with pytest.raises(ValueError, match="duration"):
        Segment(Activity.SITTING, 0.0)
    with pytest.raises(ValueError, match="step_hz"):
        Segment(Activity.WALKING, 5.0, step_hz=0.0)
    with pytest.raises(ValueError, match="segment"):
        MotionModel([])
    with pytest.raises(ValueError, match="non-decreasing"):
        MotionModel([Segment(Activity.SITTING, 5.0)]).evaluate([1.0, 0.5])
