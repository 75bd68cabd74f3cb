"""Estimators built on the ``vqf`` package (Laidig & Seel, Information Fusion 2023).

The C++ cores do the per-sample work, so these are the fast estimators: ~0.3 µs per sample in
batch. Our additions are thin and vectorised: bad-row handling (see ``base``), the latency
prediction, and the accelerometer-only tilt (VQF with the gyroscope left out).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
from vqf import VQF, BasicVQF, offlineVQF

from monitor.fusion.base import CausalEstimator, Coefficients, FloatArray, OfflineEstimator
from monitor.fusion.errors import FusionError

# Measured on BROAD (docs/fusion.md): the IMU's samples trail the optical reference by ~2.5 ms,
# the same in every trial, so it is a property of the sensor chain, not of the motion.
BROAD_LATENCY_S = 2.5e-3

_EMPTY: Mapping[str, Any] = MappingProxyType({})


def _check_tau(tau: float, what: str) -> None:
    if not (isinstance(tau, (int, float)) and math.isfinite(tau) and tau > 0):
        raise FusionError(f"{what} must be a finite number of seconds > 0, got {tau!r}")


def _check_latency(latency_s: float) -> None:
    # The prediction is first order in the angular rate: it is meant for milliseconds.
    if not (isinstance(latency_s, (int, float)) and math.isfinite(latency_s)):
        raise FusionError(f"latency_s must be a finite number of seconds, got {latency_s!r}")
    if abs(latency_s) > 0.1:
        raise FusionError(f"latency_s must be within ±0.1 s, got {latency_s!r}")


@dataclass(frozen=True, slots=True)
class VQFParams:
    """Parameters of :class:`VQFEstimator` and :class:`OfflineVQFEstimator`.

    ``tau_acc`` is VQF's accelerometer time constant (s): larger trusts the gyroscope longer.
    ``latency_s`` predicts every output this far ahead with the gyroscope, to cancel the sensor's
    output delay (0 disables it). ``vqf_options`` passes any other VQF parameter by its vqf name
    (e.g. ``{"restThGyr": 2.0}``).
    """

    tau_acc: float = 3.0
    rest_bias_estimation: bool = True
    motion_bias_estimation: bool = True
    latency_s: float = 0.0
    vqf_options: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)

    def __post_init__(self) -> None:
        _check_tau(self.tau_acc, "tau_acc")
        _check_latency(self.latency_s)

    def to_vqf(self) -> dict[str, Any]:
        """The parameters under vqf's own names."""
        return {
            "tauAcc": float(self.tau_acc),
            "restBiasEstEnabled": bool(self.rest_bias_estimation),
            "motionBiasEstEnabled": bool(self.motion_bias_estimation),
            **dict(self.vqf_options),
        }


@dataclass(frozen=True, slots=True)
class BasicVQFParams:
    """Parameters of :class:`BasicVQFEstimator` (no bias estimation, no rest detection)."""

    tau_acc: float = 3.0
    latency_s: float = 0.0

    def __post_init__(self) -> None:
        _check_tau(self.tau_acc, "tau_acc")
        _check_latency(self.latency_s)


@dataclass(frozen=True, slots=True)
class AccTiltParams:
    """Parameters of the accelerometer-only tilt: the gravity low-pass time constant (s).

    1 s keeps posture changes visible within a second or two while averaging out steps and
    sways; it is not tuned on BROAD, whose hand-held motion says little about a pelvis.
    """

    tau_acc: float = 1.0

    def __post_init__(self) -> None:
        _check_tau(self.tau_acc, "tau_acc")


def _vqf_error(exc: Exception) -> FusionError:
    return FusionError(f"vqf rejected the parameters: {exc}")


class _VQFFilter(CausalEstimator):
    """A causal estimator around one of vqf's C++ filters (``self._vqf``): the state is the
    filter's own, and a batch goes through ``updateBatch`` in one call."""

    _vqf: Any

    def _run(self, acc: FloatArray, gyr: FloatArray | None) -> FloatArray:
        assert gyr is not None
        return self._vqf.updateBatch(gyr, acc)["quat6D"]

    def _reset_filter(self) -> None:
        self._vqf.resetState()

    def _filter_state(self) -> dict[str, Any]:
        return dict(self._vqf.state)

    def _set_filter_state(self, state: dict[str, Any]) -> None:
        self._vqf.state = state


class VQFEstimator(_VQFFilter):
    """Causal VQF 6D: gyro strapdown, accelerometer low-pass in an inertial frame, gyroscope bias
    estimation at rest and in motion. ``params.latency_s`` adds the output prediction."""

    name = "vqf"
    params: VQFParams

    def __init__(self, rate_hz: float, params: VQFParams | None = None) -> None:
        super().__init__(rate_hz)
        self.params = params if params is not None else VQFParams()
        self.latency_s = float(self.params.latency_s)
        if self.latency_s:
            self.name = f"{self.name}-lc"  # latency-compensated
        try:
            self._vqf = VQF(self.dt, **self.params.to_vqf())
        except (TypeError, ValueError) as exc:
            raise _vqf_error(exc) from exc
        self.coeffs = Coefficients(self.dt, self.latency_s, MappingProxyType(self._vqf.coeffs))


class BasicVQFEstimator(_VQFFilter):
    """vqf's BasicVQF: VQF's orientation core without bias estimation (3× faster, less accurate
    when the gyroscope has an offset)."""

    name = "basic-vqf"
    params: BasicVQFParams

    def __init__(self, rate_hz: float, params: BasicVQFParams | None = None) -> None:
        super().__init__(rate_hz)
        self.params = params if params is not None else BasicVQFParams()
        self.latency_s = float(self.params.latency_s)
        if self.latency_s:
            self.name = f"{self.name}-lc"  # latency-compensated
        self._vqf = BasicVQF(self.dt, tauAcc=float(self.params.tau_acc))
        self.coeffs = Coefficients(self.dt, self.latency_s, MappingProxyType(self._vqf.coeffs))


class AccTiltEstimator(_VQFFilter):
    """Tilt from the accelerometer alone: gravity is the low-passed specific force.

    Implemented as BasicVQF with the gyroscope held at zero, which makes its inertial-frame
    filter a second-order Butterworth low-pass of the accelerometer in the sensor frame, run in
    C++. Under motion it lags and linear acceleration leaks in; use a gyroscope when there is one.
    The heading of the output is arbitrary.
    """

    name = "acc-lowpass"
    params: AccTiltParams
    needs_gyro = False

    def __init__(self, rate_hz: float, params: AccTiltParams | None = None) -> None:
        super().__init__(rate_hz)
        self.params = params if params is not None else AccTiltParams()
        self._vqf = BasicVQF(self.dt, tauAcc=float(self.params.tau_acc))
        self.coeffs = Coefficients(self.dt, 0.0, MappingProxyType(self._vqf.coeffs))
        self._zeros = np.zeros((0, 3))

    def _run(self, acc: FloatArray, gyr: FloatArray | None) -> FloatArray:
        if len(self._zeros) < len(acc):
            self._zeros = np.zeros((len(acc), 3))
        return self._vqf.updateBatch(self._zeros[: len(acc)], acc)["quat6D"]


class OfflineVQFEstimator(OfflineEstimator):
    """vqf's offline VQF: bias from a forward and a backward pass, then a zero-phase low-pass of
    the accelerometer in the strapdown frame. ``params.latency_s`` adds the output prediction,
    using the known angular rate of the following interval."""

    name = "offline-vqf"
    params: VQFParams

    def __init__(self, rate_hz: float, params: VQFParams | None = None) -> None:
        super().__init__(rate_hz)
        self.params = params if params is not None else VQFParams()
        self.latency_s = float(self.params.latency_s)
        if self.latency_s:
            self.name = f"{self.name}-lc"  # latency-compensated
        self._options = self.params.to_vqf()
        try:  # let vqf check the parameter names now rather than at the first batch
            VQF(self.dt, **self._options)
        except (TypeError, ValueError) as exc:
            raise _vqf_error(exc) from exc
        self.coeffs = Coefficients(self.dt, self.latency_s)

    def _run(self, acc: FloatArray, gyr: FloatArray | None) -> FloatArray:
        assert gyr is not None
        return offlineVQF(gyr, acc, None, self.dt, dict(self._options))["quat6D"]


class OfflineAccTiltEstimator(OfflineEstimator):
    """Accelerometer-only tilt with a zero-phase (forward-backward) Butterworth low-pass: no lag,
    for replay. Implemented as offline VQF with the gyroscope and bias estimation off."""

    name = "acc-zerophase"
    params: AccTiltParams
    needs_gyro = False

    def __init__(self, rate_hz: float, params: AccTiltParams | None = None) -> None:
        super().__init__(rate_hz)
        self.params = params if params is not None else AccTiltParams()
        self._options = {
            "tauAcc": float(self.params.tau_acc),
            "restBiasEstEnabled": False,
            "motionBiasEstEnabled": False,
        }
        self.coeffs = Coefficients(self.dt, 0.0)

    def _run(self, acc: FloatArray, gyr: FloatArray | None) -> FloatArray:
        zeros = np.zeros_like(acc)
        return offlineVQF(zeros, acc, None, self.dt, dict(self._options))["quat6D"]
