"""Tilt angles follow docs/conventions.md, for any mounting and any heading."""

from __future__ import annotations

import numpy as np
import pytest
from fusion_synth import static
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.errors import MonitorError
from monitor.fusion import (
    FusionError,
    earth_up_in_pelvis,
    estimate,
    frontal_deg,
    pelvis_quat,
    quat,
    sagittal_deg,
    tilt_deg,
    tilt_from_up,
)

RNG = np.random.default_rng(20240611)
MOUNTINGS = quat.normalize(RNG.standard_normal((6, 4)))  # random q_PS, one per test case


def sensor_orientation(q_EP: np.ndarray, q_PS: np.ndarray) -> np.ndarray:
    # v_P = R_PS v_S, so R_ES = R_EP · R_PS.
    return quat.multiply(q_EP, q_PS)


def test_anterior_tilt_is_positive_sagittal() -> None:
    q_EP = pelvis_quat(sagittal=12.0, frontal=0.0)
    top_of_pelvis = quat.rotate(q_EP, [0.0, 0.0, 1.0])
    assert top_of_pelvis[0] > 0.2  # the top moved forward (earth x = pelvis forward at heading 0)
    front = quat.rotate(q_EP, [1.0, 0.0, 0.0])
    assert front[2] < -0.2  # and the front went down
    assert sagittal_deg(q_EP, quat.IDENTITY) == pytest.approx(12.0)
    assert frontal_deg(q_EP, quat.IDENTITY) == pytest.approx(0.0, abs=1e-9)


def test_dropped_right_hip_is_positive_frontal() -> None:
    q_EP = pelvis_quat(sagittal=0.0, frontal=7.0)
    right_hip = quat.rotate(q_EP, [0.0, -1.0, 0.0])  # pelvis y points left
    assert right_hip[2] < -0.1
    assert frontal_deg(q_EP, quat.IDENTITY) == pytest.approx(7.0)
    assert sagittal_deg(q_EP, quat.IDENTITY) == pytest.approx(0.0, abs=1e-9)


def test_neutral_is_zero() -> None:
    s, f = tilt_deg(quat.IDENTITY, quat.IDENTITY)
    assert (float(s), float(f)) == pytest.approx((0.0, 0.0), abs=1e-12)


@pytest.mark.parametrize("q_PS", list(MOUNTINGS))
def test_known_tilts_through_random_mountings(q_PS: np.ndarray) -> None:
    sag = np.array([15.0, -20.0, 0.0, 5.0, -3.0])
    fro = np.array([0.0, 0.0, 9.0, -11.0, 4.0])
    heading = np.array([0.0, 40.0, -120.0, 170.0, 77.0])
    q_ES = sensor_orientation(pelvis_quat(sag, fro, heading), q_PS)
    s, f = tilt_deg(q_ES, q_PS)
    np.testing.assert_allclose(s, sag, atol=1e-9)
    np.testing.assert_allclose(f, fro, atol=1e-9)
    # Anterior tilt and right hip drop read positive whatever the mounting.
    assert s[0] > 0 and s[1] < 0 and f[2] > 0 and f[3] < 0


@pytest.mark.parametrize("q_PS", list(MOUNTINGS[:3]))
def test_estimated_tilt_matches_posture_for_random_mountings(q_PS: np.ndarray) -> None:
    """Synthetic standing-still data → estimator → tilt reads the posture."""
    for sag, fro in [(10.0, 0.0), (-15.0, 0.0), (0.0, 6.0), (0.0, -6.0), (8.0, -4.0)]:
        q_ES = sensor_orientation(pelvis_quat(sag, fro, heading=33.0), q_PS)
        m = static(q_ES, 100.0, 2.0, acc_noise=0.02)
        for est in ("vqf", "vqf-lc", "acc-lowpass"):
            q = estimate(m.acc, None if est.startswith("acc") else m.gyr, 100.0, estimator=est)
            s, f = tilt_deg(q[-1], q_PS)
            assert float(s) == pytest.approx(sag, abs=0.1), est
            assert float(f) == pytest.approx(fro, abs=0.1), est


@settings(max_examples=60, deadline=None)
@given(
    sag=st.floats(-85, 85),
    fro=st.floats(-170, 170),
    heading=st.floats(-180, 180),
    mount=st.integers(0, len(MOUNTINGS) - 1),
)
def test_tilt_inverts_pelvis_quat(sag: float, fro: float, heading: float, mount: int) -> None:
    q_PS = MOUNTINGS[mount]
    s, f = tilt_deg(sensor_orientation(pelvis_quat(sag, fro, heading), q_PS), q_PS)
    assert float(s) == pytest.approx(sag, abs=1e-6)
    assert float(f) == pytest.approx(fro, abs=1e-6)


def test_heading_never_enters() -> None:
    q_PS = MOUNTINGS[0]
    base = tilt_deg(sensor_orientation(pelvis_quat(9.0, -3.0, 0.0), q_PS), q_PS)
    for h in (-150.0, -30.0, 60.0, 179.0):
        other = tilt_deg(sensor_orientation(pelvis_quat(9.0, -3.0, h), q_PS), q_PS)
        np.testing.assert_allclose(other, base, atol=1e-9)


def test_earth_up_in_pelvis_is_unit_and_broadcasts() -> None:
    q_ES = quat.normalize(RNG.standard_normal((50, 4)))
    u = earth_up_in_pelvis(q_ES, MOUNTINGS[1])
    assert u.shape == (50, 3)
    np.testing.assert_allclose(np.linalg.norm(u, axis=1), 1.0, atol=1e-12)
    # Per-row mountings give the same as one shared mounting.
    u2 = earth_up_in_pelvis(q_ES, np.tile(MOUNTINGS[1], (50, 1)))
    np.testing.assert_allclose(u2, u, atol=1e-12)
    # The conventions' formulas on u.
    s, f = tilt_from_up(u)
    np.testing.assert_allclose(s, np.degrees(np.arctan2(-u[:, 0], np.hypot(u[:, 1], u[:, 2]))))
    np.testing.assert_allclose(f, np.degrees(np.arctan2(u[:, 1], u[:, 2])))


def test_nan_quaternion_gives_nan_angles() -> None:
    q = np.array([[1.0, 0, 0, 0], [np.nan] * 4])
    s, f = tilt_deg(q, quat.IDENTITY)
    assert np.isfinite(s[0]) and np.isnan(s[1]) and np.isnan(f[1])


@pytest.mark.parametrize("bad", [np.zeros(3), np.zeros((2, 3)), np.zeros((2, 2, 4))])
def test_bad_quaternion_shapes_raise(bad: np.ndarray) -> None:
    with pytest.raises(FusionError) as info:
        tilt_deg(bad, quat.IDENTITY)
    assert isinstance(info.value, ValueError) and isinstance(info.value, MonitorError)
