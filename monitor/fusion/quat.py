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
    # Squares added one component at a time: each row's result is the same however many rows
    # come with it (live = batch), and it is several times faster than np.linalg.norm.
    square = q[..., 0] * q[..., 0]
    for k in range(1, q.shape[-1]):
        square = square + q[..., k] * q[..., k]
    with np.errstate(invalid="ignore", divide="ignore"):
        return q / np.sqrt(square)[..., None]


def multiply(p: npt.ArrayLike, q: npt.ArrayLike) -> FloatArray:
    """Hamilton product ``p ⊗ q``."""
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    # Written out per component (not a matmul) so each row's rounding never depends on how many
    # rows come with it: streaming and batch runs stay bit-identical.
    pw, px, py, pz = np.moveaxis(p, -1, 0)
    qw, qx, qy, qz = np.moveaxis(q, -1, 0)
    shape = np.broadcast_shapes(pw.shape, qw.shape)
    out = np.empty((*shape, 4))
    out[..., 0] = pw * qw - px * qx - py * qy - pz * qz
    out[..., 1] = pw * qx + px * qw + py * qz - pz * qy
    out[..., 2] = pw * qy - px * qz + py * qw + pz * qx
    out[..., 3] = pw * qz + px * qy - py * qx + pz * qw
    return out


def conjugate(q: npt.ArrayLike) -> FloatArray:
    """``q*``: the inverse rotation of a unit quaternion."""
    q = np.asarray(q, dtype=np.float64)
    return q * np.array([1.0, -1.0, -1.0, -1.0])


def rotate(q: npt.ArrayLike, v: npt.ArrayLike) -> FloatArray:
    """``q ⊗ v ⊗ q*`` for unit ``q``, without forming the pure quaternion.

    Written out per component: ``np.cross`` on millions of rows costs several times more.
    """
    q = np.asarray(q, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    w, x, y, z = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    vx, vy, vz = v[..., 0], v[..., 1], v[..., 2]
    # t = 2 (u × v); result = v + w t + u × t
    tx = 2.0 * (y * vz - z * vy)
    ty = 2.0 * (z * vx - x * vz)
    tz = 2.0 * (x * vy - y * vx)
    out = np.empty((*np.broadcast_shapes(q.shape[:-1], v.shape[:-1]), 3))
    out[..., 0] = vx + w * tx + (y * tz - z * ty)
    out[..., 1] = vy + w * ty + (z * tx - x * tz)
    out[..., 2] = vz + w * tz + (x * ty - y * tx)
    return out


def from_rotvec(r: npt.ArrayLike) -> FloatArray:
    """Exponential map: the rotation by ``|r|`` radians about ``r / |r|``."""
    half = 0.5 * np.asarray(r, dtype=np.float64)
    angle = np.sqrt(np.sum(half * half, axis=-1, keepdims=True))
    # sin(x)/x, with its limit 1 where x = 0.
    scale = np.divide(np.sin(angle), angle, out=np.ones_like(angle), where=angle > 0)
    return np.concatenate([np.cos(angle), half * scale], axis=-1)


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
    """Turn ``q_ES`` on by body rates ``gyr`` (rad/s) held for ``dt`` s: ``q ⊗ exp(ω dt)``.

    Same as ``multiply(q, from_rotvec(gyr * dt))``. For (n, 4) with (n, 3), the common case, it
    is fused on column views: it runs on every output row of the latency-compensated estimators,
    where numpy's per-call overhead on BLE-sized batches dominates.
    """
    q = np.asarray(q, dtype=np.float64)
    g = np.asarray(gyr, dtype=np.float64)
    if not (q.ndim == 2 and g.ndim == 2 and len(q) == len(g)):
        return multiply(q, from_rotvec(g * dt))
    h = g * (0.5 * dt)
    hx, hy, hz = h[:, 0], h[:, 1], h[:, 2]
    angle = np.sqrt(hx * hx + hy * hy + hz * hz)
    c = np.cos(angle)
    scale = np.divide(np.sin(angle), angle, out=np.ones_like(angle), where=angle > 0)
    vx, vy, vz = hx * scale, hy * scale, hz * scale
    w, x, y, z = q[:, 0], q[:, 1], q[:, 2], q[:, 3]
    out = np.empty((len(q), 4))
    out[:, 0] = w * c - x * vx - y * vy - z * vz
    out[:, 1] = w * vx + x * c + y * vz - z * vy
    out[:, 2] = w * vy - x * vz + y * c + z * vx
    out[:, 3] = w * vz + x * vy - y * vx + z * c
    return out


def angle_between_deg(u: npt.ArrayLike, v: npt.ArrayLike) -> FloatArray:
    """Angle between direction vectors in degrees (atan2 form: accurate near 0° and 180°)."""
    u = np.asarray(u, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    cross = np.linalg.norm(np.cross(u, v), axis=-1)
    return np.degrees(np.arctan2(cross, np.sum(u * v, axis=-1)))
