"""Rotation rates for a sensor without a gyroscope, from how gravity turns in its frame.

Posture decisions use how far the pelvis turned about horizontal axes (a sit-down or stand-up
tips it). Without a gyroscope that rotation is still in the data: it is how the direction of
gravity moved from sample to sample. The accelerometer is smoothed over :data:`SMOOTH_S` first
(steps and jolts are faster than a change of posture). Rates about the vertical axis cannot be
known from gravity and come out as zero; posture does not use them.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from monitor.fusion import quat

FloatArray = npt.NDArray[np.float64]
SMOOTH_S = 0.1


def rates_from_orientation(q_ES: npt.ArrayLike, rate_hz: float) -> FloatArray:
    """Body rates (n, 3) rad/s with ``q[k] = q[k-1] ⊗ exp(ω[k] / rate)``; the first row is zero.

    Rows next to an unknown (NaN) orientation are zero.
    """
    q = np.asarray(q_ES, dtype=np.float64).reshape(-1, 4)
    out = np.zeros((len(q), 3))
    if len(q) < 2:
        return out
    step = quat.multiply(quat.conjugate(q[:-1]), q[1:])
    step *= np.where(step[:, :1] < 0, -1.0, 1.0)  # the short way round
    v = step[:, 1:]
    s = np.linalg.norm(v, axis=1)
    angle = 2.0 * np.arctan2(s, step[:, 0])
    scale = np.divide(angle, s, out=np.zeros_like(s), where=s > 1e-15) * rate_hz
    rates = v * scale[:, None]
    out[1:] = np.where(np.isfinite(rates), rates, 0.0)
    return out


def rates_from_gravity(acc: npt.ArrayLike, rate_hz: float) -> FloatArray:
    """Body rates (n, 3) rad/s about horizontal axes, from the accelerometer alone (offline)."""
    a = np.asarray(acc, dtype=np.float64).reshape(-1, 3)
    width = max(1, round(SMOOTH_S * rate_hz))
    if width > 1 and len(a) >= width:
        kernel = np.ones(width) / width
        a = np.stack([np.convolve(a[:, k], kernel, mode="same") for k in range(3)], axis=1)
    return rates_from_orientation(quat.from_gravity(a), rate_hz)
