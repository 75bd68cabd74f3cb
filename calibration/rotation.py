"""The few rotation helpers calibration needs (``w, x, y, z`` Hamilton, docs/conventions.md).

``calibration`` must not import ``monitor``, so these are written here, on numpy alone.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def unit(v: npt.ArrayLike) -> FloatArray:
    """``v / |v|`` along the last axis."""
    arr = np.asarray(v, dtype=np.float64)
    return arr / np.linalg.norm(arr, axis=-1, keepdims=True)


def quat_to_matrix(q: npt.ArrayLike) -> FloatArray:
    """Rotation matrix (3, 3) of a unit quaternion (4,)."""
    w, x, y, z = unit(q)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )


def matrix_to_quat(m: npt.ArrayLike) -> FloatArray:
    """Unit quaternion (w ≥ 0) of a rotation matrix (Shepperd's method: stable for any angle)."""
    r = np.asarray(m, dtype=np.float64)
    trace = float(np.trace(r))
    diag = np.diag(r)
    i = int(np.argmax(diag))
    if trace > diag[i]:
        s = 2.0 * np.sqrt(1.0 + trace)
        q = np.array(
            [0.25 * s, (r[2, 1] - r[1, 2]) / s, (r[0, 2] - r[2, 0]) / s, (r[1, 0] - r[0, 1]) / s]
        )
    else:
        j, k = (i + 1) % 3, (i + 2) % 3
        s = 2.0 * np.sqrt(1.0 + r[i, i] - r[j, j] - r[k, k])
        q = np.empty(4)
        q[0] = (r[k, j] - r[j, k]) / s
        q[1 + i] = 0.25 * s
        q[1 + j] = (r[j, i] + r[i, j]) / s
        q[1 + k] = (r[k, i] + r[i, k]) / s
    q = unit(q)
    return q if q[0] >= 0.0 else -q


def quat_multiply(p: npt.ArrayLike, q: npt.ArrayLike) -> FloatArray:
    """Hamilton product ``p ⊗ q`` of two (4,) quaternions."""
    pw, px, py, pz = np.asarray(p, dtype=np.float64)
    qw, qx, qy, qz = np.asarray(q, dtype=np.float64)
    return np.array(
        [
            pw * qw - px * qx - py * qy - pz * qz,
            pw * qx + px * qw + py * qz - pz * qy,
            pw * qy - px * qz + py * qw + pz * qx,
            pw * qz + px * qy - py * qx + pz * qw,
        ]
    )


def quat_angle_deg(p: npt.ArrayLike, q: npt.ArrayLike) -> float:
    """Angle of the rotation between two orientations, degrees (0…180)."""
    dot = abs(float(np.dot(unit(p), unit(q))))
    return float(np.degrees(2.0 * np.arccos(min(1.0, dot))))


def angle_deg(u: npt.ArrayLike, v: npt.ArrayLike) -> float:
    """Angle between two directions, degrees (atan2 form: accurate near 0°)."""
    a = np.asarray(u, dtype=np.float64)
    b = np.asarray(v, dtype=np.float64)
    return float(np.degrees(np.arctan2(np.linalg.norm(np.cross(a, b)), np.dot(a, b))))


def mounting_from_axes(up_S: npt.ArrayLike, forward_S: npt.ArrayLike) -> FloatArray:
    """``q_PS`` from the pelvis's up and forward directions seen in the sensor frame.

    ``up_S`` is kept exactly; ``forward_S`` is made perpendicular to it (Gram–Schmidt), so a
    forward direction measured while the pelvis was pitched a little still gives a level x axis.
    The rows of ``R_PS`` are the pelvis axes written in sensor coordinates.
    """
    z = unit(up_S)
    f = np.asarray(forward_S, dtype=np.float64)
    x = f - np.dot(f, z) * z
    norm = float(np.linalg.norm(x))
    if not norm > 1e-9:
        raise ValueError("the forward direction is parallel to up")
    x = x / norm
    y = np.cross(z, x)
    return matrix_to_quat(np.array([x, y, z]))


__all__ = [
    "FloatArray",
    "angle_deg",
    "matrix_to_quat",
    "mounting_from_axes",
    "quat_angle_deg",
    "quat_multiply",
    "quat_to_matrix",
    "unit",
]
