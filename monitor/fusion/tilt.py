"""Pelvic tilt angles from an orientation estimate and the mounting rotation (docs/conventions.md).

Inputs are the sensor-to-earth quaternions ``q_ES`` (N, 4) from the estimators and the mounting
``q_PS`` (sensor → pelvis), one (4,) for the whole recording or (N, 4). Only the earth's up
direction seen in the pelvis frame enters, so heading and gyroscope heading drift never do:

    u = R_EP^T · [0, 0, 1] with R_EP = R_ES · R_PS^T, i.e. u = R_PS · (R_ES^T · [0, 0, 1])
    sagittal = atan2(-u_x, sqrt(u_y² + u_z²))        frontal = atan2(u_y, u_z)

Sagittal > 0 is anterior tilt (top of the pelvis forward); frontal > 0 is the right hip lower.
NaN quaternions give NaN angles.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from monitor.fusion import quat
from monitor.fusion.errors import FusionError

FloatArray = npt.NDArray[np.float64]


def _as_quats(q: npt.ArrayLike, name: str) -> FloatArray:
    arr = np.asarray(q, dtype=np.float64)
    if arr.shape[-1:] != (4,) or arr.ndim > 2:
        raise FusionError(f"{name} must have shape (4,) or (n, 4), got {arr.shape}")
    return arr


def earth_up_in_pelvis(q_ES: npt.ArrayLike, q_PS: npt.ArrayLike) -> FloatArray:
    """Unit earth-up direction in the pelvis frame, shape (..., 3)."""
    q_es = _as_quats(q_ES, "q_ES")
    q_ps = quat.normalize(_as_quats(q_PS, "q_PS"))
    return quat.rotate(q_ps, quat.earth_up_in_sensor(q_es))


def tilt_from_up(u_P: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """``(sagittal_deg, frontal_deg)`` from earth-up vectors in the pelvis frame."""
    u = np.asarray(u_P, dtype=np.float64)
    if u.shape[-1:] != (3,):
        raise FusionError(f"u_P must have shape (..., 3), got {u.shape}")
    ux, uy, uz = np.moveaxis(u, -1, 0)
    sagittal = np.degrees(np.arctan2(-ux, np.hypot(uy, uz)))
    frontal = np.degrees(np.arctan2(uy, uz))
    return sagittal, frontal


def tilt_deg(q_ES: npt.ArrayLike, q_PS: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """``(sagittal_deg, frontal_deg)`` of the pelvis for each orientation."""
    return tilt_from_up(earth_up_in_pelvis(q_ES, q_PS))


def sagittal_deg(q_ES: npt.ArrayLike, q_PS: npt.ArrayLike) -> FloatArray:
    """Anterior (+) / posterior (−) pelvic tilt in degrees."""
    return tilt_deg(q_ES, q_PS)[0]


def frontal_deg(q_ES: npt.ArrayLike, q_PS: npt.ArrayLike) -> FloatArray:
    """Frontal-plane tilt in degrees; positive when the right hip is lower."""
    return tilt_deg(q_ES, q_PS)[1]


def pelvis_quat(
    sagittal: npt.ArrayLike, frontal: npt.ArrayLike, heading: npt.ArrayLike = 0.0
) -> FloatArray:
    """``q_EP`` of a pelvis posture, ``R_EP = Rz(heading)·Ry(sagittal)·Rx(frontal)`` (degrees).

    The inverse of :func:`tilt_deg` for a given heading; handy for tests and simulations.
    """
    angles = (heading, sagittal, frontal)
    h, s, f = np.broadcast_arrays(*(np.radians(np.asarray(v, np.float64)) for v in angles))
    zeros = np.zeros_like(h)
    qz = quat.from_rotvec(np.stack([zeros, zeros, h], -1))
    qy = quat.from_rotvec(np.stack([zeros, s, zeros], -1))
    qx = quat.from_rotvec(np.stack([f, zeros, zeros], -1))
    return quat.multiply(quat.multiply(qz, qy), qx)
