"""Vectorised unit-quaternion helpers, ``w, x, y, z`` Hamilton (docs/conventions.md).

Every function takes arrays of shape ``(..., 4)`` / ``(..., 3)`` and broadcasts over the leading
axes. ``q_AB`` rotates frame-B vectors into frame A: ``v_A = q_AB ⊗ v_B ⊗ q_AB*``.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

IDENTITY: FloatArray = np.array([1.0, 0.0, 0.0, 0.0])


def normalize(q: npt.ArrayLike) -> FloatArray:
    """Scale to unit norm (rows of zero norm become NaN rather than silently wrong)."""
    q = np.asarray(q, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return q / np.linalg.norm(q, axis=-1, keepdims=True)


def multiply(p: npt.ArrayLike, q: npt.ArrayLike) -> FloatArray:
    """Hamilton product ``p ⊗ q``."""
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    pw, px, py, pz = np.moveaxis(p, -1, 0)
    qw, qx, qy, qz = np.moveaxis(q, -1, 0)
    return np.stack(
        [
            pw * qw - px * qx - py * qy - pz * qz,
            pw * qx + px * qw + py * qz - pz * qy,
            pw * qy - px * qz + py * qw + pz * qx,
            pw * qz + px * qy - py * qx + pz * qw,
        ],
        axis=-1,
    )


def conjugate(q: npt.ArrayLike) -> FloatArray:
    """``q*``: the inverse rotation of a unit quaternion."""
    q = np.asarray(q, dtype=np.float64)
    return q * np.array([1.0, -1.0, -1.0, -1.0])


def rotate(q: npt.ArrayLike, v: npt.ArrayLike) -> FloatArray:
    """``q ⊗ v ⊗ q*`` for unit ``q``, without forming the pure quaternion."""
    q = np.asarray(q, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    w = q[..., :1]
    u = q[..., 1:]
    t = 2.0 * np.cross(u, v)
    return v + w * t + np.cross(u, t)


def from_rotvec(r: npt.ArrayLike) -> FloatArray:
    """Exponential map: the rotation by ``|r|`` radians about ``r / |r|``."""
    r = np.asarray(r, dtype=np.float64)
    angle = np.linalg.norm(r, axis=-1, keepdims=True)
    half = 0.5 * angle
    # sin(x/2)/x tends to 1/2; the series keeps tiny rotations exact without a 0/0.
    small = angle < 1e-6
    scale = np.where(small, 0.5 - angle * angle / 48.0, np.sin(half) / np.where(small, 1.0, angle))
    return np.concatenate([np.cos(half), r * scale], axis=-1)


def from_matrix(m: npt.ArrayLike) -> FloatArray:
    """Unit quaternion of rotation matrices ``(..., 3, 3)`` (w >= 0)."""
    m = np.asarray(m, dtype=np.float64)
    # Shepperd's method: pick the largest of 4w², 4x², 4y², 4z² as the pivot for stability.
    m00, m11, m22 = m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]
    cand = np.stack([1 + m00 + m11 + m22, 1 + m00 - m11 - m22, 1 - m00 + m11 - m22,
                     1 - m00 - m11 + m22], axis=-1)  # fmt: skip
    k = np.argmax(cand, axis=-1)
    s = np.sqrt(np.take_along_axis(cand, k[..., None], axis=-1))[..., 0]  # = 2|component|
    d21, d02, d10 = m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] - m[..., 0, 1]
    s01, s02, s12 = m[..., 0, 1] + m[..., 1, 0], m[..., 0, 2] + m[..., 2, 0], m[..., 1, 2] + m[..., 2, 1]
    rows = [
        np.stack([s * s, d21, d02, d10], axis=-1),
        np.stack([d21, s * s, s01, s02], axis=-1),
        np.stack([d02, s01, s * s, s12], axis=-1),
        np.stack([d10, s02, s12, s * s], axis=-1),
    ]
    q = np.choose(k[..., None], rows) / (2.0 * s[..., None])
    return q * np.where(q[..., :1] < 0, -1.0, 1.0)


def to_matrix(q: npt.ArrayLike) -> FloatArray:
    """Rotation matrices ``(..., 3, 3)`` of unit quaternions."""
    w, x, y, z = np.moveaxis(np.asarray(q, dtype=np.float64), -1, 0)
    return np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
            np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
            np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
        ],
        axis=-2,
    )


def earth_up_in_sensor(q_ES: npt.ArrayLike) -> FloatArray:
    """Unit earth-up direction ``R_ES^T · [0, 0, 1]`` seen in the sensor frame.

    This is all a z-up orientation says about tilt; heading does not enter it.
    """
    w, x, y, z = np.moveaxis(np.asarray(q_ES, dtype=np.float64), -1, 0)
    up = np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), w * w - x * x - y * y + z * z], -1)
    return normalize(up)


def from_gravity(acc: npt.ArrayLike) -> FloatArray:
    """The smallest rotation ``q_ES`` that turns the measured "up" ``acc`` onto earth z.

    The heading it implies is arbitrary (zero yaw about the rotation axis), as for any 6D
    estimate. Zero-length rows give NaN.
    """
    a = normalize(acc)
    ax, ay, az = np.moveaxis(a, -1, 0)
    # Half-way quaternion between a and z: [1 + a·z, a × z]; a = -z has no unique axis, use x.
    q = np.stack([1.0 + az, ay, -ax, np.zeros_like(az)], axis=-1)
    flipped = (1.0 + az) < 1e-12
    q = np.where(flipped[..., None], np.array([0.0, 1.0, 0.0, 0.0]), q)
    return normalize(q)


def propagate(q: npt.ArrayLike, gyr: npt.ArrayLike, dt: float) -> FloatArray:
    """Rotate ``q_ES`` on by body rates ``gyr`` (rad/s) held for ``dt`` seconds: ``q ⊗ exp(ω dt)``."""
    return multiply(q, from_rotvec(np.asarray(gyr, dtype=np.float64) * dt))


def angle_between_deg(u: npt.ArrayLike, v: npt.ArrayLike) -> FloatArray:
    """Angle between direction vectors in degrees (atan2 form: accurate near 0° and 180°)."""
    u = np.asarray(u, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    cross = np.linalg.norm(np.cross(u, v), axis=-1)
    return np.degrees(np.arctan2(cross, np.sum(u * v, axis=-1)))
