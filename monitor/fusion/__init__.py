"""Orientation estimation: IMU samples in, sensor-to-earth quaternions out.

Public API
----------
- :func:`estimate` (acc, gyr, rate_hz, *, offline=False, estimator=None) -> (N, 4) ``q_ES``
  (w, x, y, z; earth z up). ``gyr=None`` gives accelerometer-only tilt.
- :class:`OrientationEstimator`: the streaming interface (``update`` per BLE batch,
  ``update_batch`` for a recording, ``reset``, ``params`` / ``coeffs`` / ``state``).
- :data:`ESTIMATORS` / :func:`make_estimator`: named estimators. Defaults: "vqf" live,
  "offline-vqf" offline (plain VQF; the "-lc" variants add a latency prediction, see
  docs/fusion.md).
- :mod:`monitor.fusion.tilt`: ``tilt_deg``, ``sagittal_deg``, ``frontal_deg``,
  ``earth_up_in_pelvis`` from ``q_ES`` and the mounting ``q_PS``.
- :mod:`monitor.fusion.metrics`: the BROAD inclination error; :mod:`monitor.fusion.quat`: the
  vectorised quaternion helpers.
- :class:`FusionError` (a ValueError and a MonitorError) for unusable input.

Pure computation: numpy, vqf and (for the reference adapters only) ahrs.
"""

from monitor.fusion.ahrs_backend import (
    EKFEstimator,
    EKFParams,
    MadgwickEstimator,
    MadgwickParams,
    MahonyEstimator,
    MahonyParams,
)
from monitor.fusion.api import (
    DEFAULT_LIVE,
    DEFAULT_OFFLINE,
    ESTIMATORS,
    default_estimator,
    estimate,
    make_estimator,
)
from monitor.fusion.base import Coefficients, OrientationEstimator, StreamState
from monitor.fusion.errors import FusionError
from monitor.fusion.tilt import (
    earth_up_in_pelvis,
    frontal_deg,
    pelvis_quat,
    sagittal_deg,
    tilt_deg,
    tilt_from_up,
)
from monitor.fusion.vqf_backend import (
    BROAD_LATENCY_S,
    AccTiltEstimator,
    AccTiltParams,
    BasicVQFEstimator,
    BasicVQFParams,
    OfflineAccTiltEstimator,
    OfflineVQFEstimator,
    VQFEstimator,
    VQFParams,
)

__all__ = [
    "BROAD_LATENCY_S",
    "DEFAULT_LIVE",
    "DEFAULT_OFFLINE",
    "ESTIMATORS",
    "AccTiltEstimator",
    "AccTiltParams",
    "BasicVQFEstimator",
    "BasicVQFParams",
    "Coefficients",
    "EKFEstimator",
    "EKFParams",
    "FusionError",
    "MadgwickEstimator",
    "MadgwickParams",
    "MahonyEstimator",
    "MahonyParams",
    "OfflineAccTiltEstimator",
    "OfflineVQFEstimator",
    "OrientationEstimator",
    "StreamState",
    "VQFEstimator",
    "VQFParams",
    "default_estimator",
    "earth_up_in_pelvis",
    "estimate",
    "frontal_deg",
    "make_estimator",
    "pelvis_quat",
    "sagittal_deg",
    "tilt_deg",
    "tilt_from_up",
]
