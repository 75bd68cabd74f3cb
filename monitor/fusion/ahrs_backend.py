"""Adapters for the ``ahrs`` package's 6D filters (Madgwick, Mahony, EKF).

They are pure Python (tens of µs per sample) and, on BROAD, several times less accurate than VQF
(docs/fusion.md): kept for comparison and as references, not as the default. The filters are
built without data and stepped one sample at a time, so the streaming and batch paths are the
same loop. All three start from the first accelerometer sample's tilt (heading zero).

Frames: ahrs's Madgwick and Mahony compare the normalised accelerometer with ``R^T·[0, 0, 1]``,
which is our z-up convention. Its EKF does the same with its default ``frame="NED"`` (whose
gravity reference is +z); ``frame="ENU"`` would flip the estimate upside down, so it is not
offered.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from monitor.fusion import quat
from monitor.fusion.base import CausalEstimator, Coefficients, FloatArray
from monitor.fusion.errors import FusionError


def _positive(value: float, what: str) -> None:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise FusionError(f"{what} must be a finite number > 0, got {value!r}")


@dataclass(frozen=True, slots=True)
class MadgwickParams:
    """``gain`` is Madgwick's β (rad/s). 0.02 was the best of 0.005–0.04 on BROAD at 286 Hz
    (ahrs's default 0.033 is close)."""

    gain: float = 0.02

    def __post_init__(self) -> None:
        _positive(self.gain, "gain")


@dataclass(frozen=True, slots=True)
class MahonyParams:
    """Proportional and integral gains of Mahony's explicit complementary filter.

    On BROAD, k_p = 0.3 without integral term did best of six settings tried (k_p 0.1–1,
    k_i 0–0.3): the integral (bias) term runs away during fast translations, so it is off by
    default (ahrs refuses exactly 0, hence the tiny value).
    """

    k_p: float = 0.3
    k_i: float = 1e-6

    def __post_init__(self) -> None:
        _positive(self.k_p, "k_p")
        _positive(self.k_i, "k_i")  # ahrs refuses 0; use a tiny value to switch it off


@dataclass(frozen=True, slots=True)
class EKFParams:
    """Noise variances of ahrs's quaternion EKF: gyroscope (rad²/s²) and accelerometer
    (normalised units²); ahrs's defaults."""

    var_gyr: float = 0.3**2
    var_acc: float = 0.5**2

    def __post_init__(self) -> None:
        _positive(self.var_gyr, "var_gyr")
        _positive(self.var_acc, "var_acc")


class _AhrsAdapter(CausalEstimator):
    """Steps an ahrs filter row by row; ``self._q`` is None until gravity has been seen."""

    def __init__(self, rate_hz: float) -> None:
        super().__init__(rate_hz)
        self._q: FloatArray | None = None
        self._filter = self._make_filter()
        self.coeffs = Coefficients(self.dt, 0.0)

    def _make_filter(self) -> Any:
        raise NotImplementedError

    def _step(self, q: FloatArray, gyr: FloatArray, acc: FloatArray) -> FloatArray:
        raise NotImplementedError

    def _run(self, acc: FloatArray, gyr: FloatArray | None) -> FloatArray:
        assert gyr is not None
        out = np.empty((len(acc), 4))
        q = self._q
        for i in range(len(acc)):
            if q is None:
                # Start level with the first gravity sample; gyro-only rows before it are NaN.
                if acc[i].any():
                    q = quat.from_gravity(acc[i])
                    out[i] = q
                else:
                    out[i] = np.nan
                continue
            q = np.asarray(self._step(q, gyr[i], acc[i]), dtype=np.float64)
            out[i] = q
        self._q = q
        return out

    def _reset_filter(self) -> None:
        self._q = None
        self._filter = self._make_filter()

    def _filter_state(self) -> dict[str, Any]:
        return {"q": None if self._q is None else self._q.copy()}

    def _set_filter_state(self, state: dict[str, Any]) -> None:
        self._q = state["q"]


class MadgwickEstimator(_AhrsAdapter):
    """ahrs's Madgwick gradient-descent filter (IMU form). Note: ahrs skips the accelerometer
    correction for rows whose angular rate is exactly zero."""

    name = "madgwick"
    params: MadgwickParams

    def __init__(self, rate_hz: float, params: MadgwickParams | None = None) -> None:
        self.params = params if params is not None else MadgwickParams()
        super().__init__(rate_hz)

    def _make_filter(self) -> Any:
        from ahrs.filters import Madgwick  # imported here: ahrs is slow to import, rarely used

        return Madgwick(frequency=self.rate_hz, gain=self.params.gain)

    def _step(self, q: FloatArray, gyr: FloatArray, acc: FloatArray) -> FloatArray:
        return self._filter.updateIMU(q, gyr, acc)


class MahonyEstimator(_AhrsAdapter):
    """ahrs's Mahony explicit complementary filter; its integral term is a gyro-bias estimate."""

    name = "mahony"
    params: MahonyParams

    def __init__(self, rate_hz: float, params: MahonyParams | None = None) -> None:
        self.params = params if params is not None else MahonyParams()
        super().__init__(rate_hz)

    def _make_filter(self) -> Any:
        from ahrs.filters import Mahony

        return Mahony(frequency=self.rate_hz, k_P=self.params.k_p, k_I=self.params.k_i)

    def _step(self, q: FloatArray, gyr: FloatArray, acc: FloatArray) -> FloatArray:
        return self._filter.updateIMU(q, gyr, acc)

    def _filter_state(self) -> dict[str, Any]:
        return {**super()._filter_state(), "bias": np.array(self._filter.b, dtype=np.float64)}

    def _set_filter_state(self, state: dict[str, Any]) -> None:
        super()._set_filter_state(state)
        self._filter.b = np.array(state["bias"], dtype=np.float64)


class EKFEstimator(_AhrsAdapter):
    """ahrs's quaternion extended Kalman filter (gyro prediction, accelerometer update). ahrs's
    EKF holds the estimate for rows without an accelerometer reading."""

    name = "ekf"
    params: EKFParams

    def __init__(self, rate_hz: float, params: EKFParams | None = None) -> None:
        self.params = params if params is not None else EKFParams()
        super().__init__(rate_hz)

    def _make_filter(self) -> Any:
        from ahrs.filters import EKF

        # var_mag is unused without a magnetometer but ahrs wants all three.
        return EKF(frequency=self.rate_hz, noises=[self.params.var_gyr, self.params.var_acc, 0.64])

    def _step(self, q: FloatArray, gyr: FloatArray, acc: FloatArray) -> FloatArray:
        return self._filter.update(q, gyr, acc)

    def _filter_state(self) -> dict[str, Any]:
        return {**super()._filter_state(), "P": np.array(self._filter.P, dtype=np.float64)}

    def _set_filter_state(self, state: dict[str, Any]) -> None:
        super()._set_filter_state(state)
        self._filter.P = np.array(state["P"], dtype=np.float64)
