"""Synthetic IMU data with a known orientation, made here so the fusion tests stand alone.

Sample ``i`` holds the angular rate over the interval that ends at it, and the truth integrates
exactly that (``q_i = q_{i-1} ⊗ exp(ω_i·dt)``), so an estimator with no latency setting should
match the truth up to its own filtering error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from monitor.fusion import quat
from monitor.fusion.metrics import inclination_error_deg

FloatArray = npt.NDArray[np.float64]
G = 9.81


@dataclass
class Motion:
    acc: FloatArray  # (n, 3) m/s²
    gyr: FloatArray  # (n, 3) rad/s, as measured (bias and noise included)
    q: FloatArray  # (n, 4) true q_ES
    rate_hz: float

    @property
    def up(self) -> FloatArray:
        return quat.earth_up_in_sensor(self.q)


def integrate(q0: FloatArray, omega: FloatArray, dt: float) -> FloatArray:
    """Exact strapdown integration of piecewise-constant body rates (sequential products)."""
    steps = quat.from_rotvec(omega * dt)
    q = np.empty((len(omega), 4))
    cur = quat.normalize(q0)
    for i in range(len(omega)):
        cur = quat.multiply(cur, steps[i])
        q[i] = cur
    return quat.normalize(q)


def make_motion(
    omega: FloatArray,
    rate_hz: float,
    *,
    q0: npt.ArrayLike = quat.IDENTITY,
    gyr_bias: npt.ArrayLike = (0.0, 0.0, 0.0),
    gyr_noise: float = 0.0,
    acc_noise: float = 0.0,
    lin_acc_earth: FloatArray | None = None,
    seed: int = 0,
) -> Motion:
    """Sensor data for body rates ``omega`` (n, 3) starting from ``q0``.

    ``lin_acc_earth`` (n, 3) adds a linear acceleration (earth frame) to the specific force.
    """
    rng = np.random.default_rng(seed)
    n = len(omega)
    q = integrate(np.asarray(q0, dtype=np.float64), omega, 1.0 / rate_hz)
    f_earth = np.tile([0.0, 0.0, G], (n, 1))
    if lin_acc_earth is not None:
        f_earth = f_earth + lin_acc_earth
    acc = quat.rotate(quat.conjugate(q), f_earth) + acc_noise * rng.standard_normal((n, 3))
    gyr = omega + np.asarray(gyr_bias) + gyr_noise * rng.standard_normal((n, 3))
    return Motion(acc=acc, gyr=gyr, q=q, rate_hz=rate_hz)


def static(q_ES: npt.ArrayLike, rate_hz: float, seconds: float, **kw: Any) -> Motion:
    n = round(rate_hz * seconds)
    return make_motion(np.zeros((n, 3)), rate_hz, q0=q_ES, **kw)


def rotating(rate_hz: float, seconds: float, *, rest_s: float = 3.0, **kw: Any) -> Motion:
    """Rest, then smooth multi-axis rotation (up to ~2 rad/s, tilts of tens of degrees)."""
    n = round(rate_hz * seconds)
    t = np.arange(n) / rate_hz
    omega = np.column_stack(
        [
            1.2 * np.sin(2 * np.pi * 0.31 * t),
            0.9 * np.sin(2 * np.pi * 0.23 * t + 1.0),
            1.5 * np.sin(2 * np.pi * 0.17 * t + 2.0),
        ]
    )
    omega[t < rest_s] = 0.0
    return make_motion(omega, rate_hz, **kw)


def rmse(x: FloatArray) -> float:
    return float(np.sqrt(np.mean(np.square(x))))


__all__ = [
    "G",
    "Motion",
    "inclination_error_deg",
    "integrate",
    "make_motion",
    "rmse",
    "rotating",
    "static",
]
