"""``estimate()`` and the registry of named estimators."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from monitor.fusion.ahrs_backend import EKFEstimator, MadgwickEstimator, MahonyEstimator
from monitor.fusion.base import FloatArray, OrientationEstimator, check_pair, check_rate
from monitor.fusion.errors import FusionError
from monitor.fusion.vqf_backend import (
    BROAD_LATENCY_S,
    AccTiltEstimator,
    BasicVQFEstimator,
    BasicVQFParams,
    OfflineAccTiltEstimator,
    OfflineVQFEstimator,
    VQFEstimator,
    VQFParams,
)

Factory = Callable[[float], OrientationEstimator]

# name -> factory(rate_hz). "-lc" = latency-compensated (VQFParams.latency_s = 2.5 ms).
ESTIMATORS: dict[str, Factory] = {
    "vqf-lc": lambda r: VQFEstimator(r, VQFParams(latency_s=BROAD_LATENCY_S)),
    "vqf": lambda r: VQFEstimator(r),
    "basic-vqf": lambda r: BasicVQFEstimator(r),
    "basic-vqf-lc": lambda r: BasicVQFEstimator(r, BasicVQFParams(latency_s=BROAD_LATENCY_S)),
    "madgwick": lambda r: MadgwickEstimator(r),
    "mahony": lambda r: MahonyEstimator(r),
    "ekf": lambda r: EKFEstimator(r),
    "acc-lowpass": lambda r: AccTiltEstimator(r),
    "offline-vqf-lc": lambda r: OfflineVQFEstimator(r, VQFParams(latency_s=BROAD_LATENCY_S)),
    "offline-vqf": lambda r: OfflineVQFEstimator(r),
    "acc-zerophase": lambda r: OfflineAccTiltEstimator(r),
}

DEFAULT_LIVE = "vqf"
DEFAULT_OFFLINE = "offline-vqf"
DEFAULT_ACC_ONLY_LIVE = "acc-lowpass"
DEFAULT_ACC_ONLY_OFFLINE = "acc-zerophase"


def make_estimator(name: str, rate_hz: float) -> OrientationEstimator:
    """A fresh estimator from :data:`ESTIMATORS` by name."""
    try:
        factory = ESTIMATORS[name]
    except KeyError:
        known = ", ".join(sorted(ESTIMATORS))
        raise FusionError(f"unknown estimator {name!r}; known: {known}") from None
    return factory(check_rate(rate_hz))


def default_estimator(*, offline: bool = False, gyro: bool = True) -> str:
    """The name ``estimate()`` uses when no estimator is given."""
    if gyro:
        return DEFAULT_OFFLINE if offline else DEFAULT_LIVE
    return DEFAULT_ACC_ONLY_OFFLINE if offline else DEFAULT_ACC_ONLY_LIVE


def estimate(
    acc: npt.ArrayLike,
    gyr: npt.ArrayLike | None,
    rate_hz: float,
    *,
    offline: bool = False,
    estimator: str | OrientationEstimator | None = None,
) -> FloatArray:
    """Orientation of the sensor in a z-up earth frame for a whole recording.

    Parameters
    ----------
    acc : (N, 3) accelerometer, m/s² (specific force: +9.81 on the axis pointing up at rest).
    gyr : (N, 3) gyroscope, rad/s, or None for an accelerometer-only sensor: the tilt then comes
        from the low-passed accelerometer and is less accurate under motion (heading arbitrary).
    rate_hz : sample rate (> 0); sets the filters' time step.
    offline : allow the estimate at each sample to use later samples (replay, analysis). More
        accurate; not for live use.
    estimator : a name from :data:`ESTIMATORS` or an :class:`OrientationEstimator` (its
        ``update_batch`` is used, which resets it; its own rate must equal ``rate_hz``). Default:
        "vqf-lc", or "offline-vqf-lc" with ``offline=True``.

    Returns
    -------
    (N, 4) unit quaternions ``q_ES`` (w, x, y, z) rotating sensor-frame vectors into the earth
    frame. Rows with a non-finite gyroscope value are skipped (they repeat the previous estimate);
    rows with a non-finite accelerometer value alone get a gyroscope-only update; rows before the
    first usable accelerometer sample are NaN (offline: they take the first estimate).

    Raises
    ------
    FusionError (a ValueError) for bad shapes or types, ``rate_hz`` <= 0, an unknown estimator
    name, a non-causal estimator with ``offline=False``, or a gyroscope estimator without ``gyr``.
    """
    rate = check_rate(rate_hz)
    a, g = check_pair(acc, gyr, needs_gyro=False)
    if estimator is None:
        est = make_estimator(default_estimator(offline=offline, gyro=g is not None), rate)
    elif isinstance(estimator, str):
        est = make_estimator(estimator, rate)
    elif isinstance(estimator, OrientationEstimator):
        est = estimator
        if not np.isclose(est.rate_hz, rate, rtol=1e-9, atol=0.0):
            raise FusionError(f"estimator runs at {est.rate_hz} Hz but rate_hz is {rate}")
    else:
        raise FusionError(f"estimator must be a name or an OrientationEstimator, got {estimator!r}")
    if not offline and not est.causal:
        raise FusionError(f"{est.name} looks at future samples: pass offline=True to use it")
    if est.needs_gyro and g is None:
        raise FusionError(f"{est.name} needs gyroscope samples; gyr is None")
    return est.update_batch(a, g)
