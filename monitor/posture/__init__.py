"""Posture and sitting detection: pelvis-frame IMU samples in, per-second activity out.

- :mod:`monitor.posture.config`: :class:`PostureConfig`, validated;
- :mod:`monitor.posture.features`: :class:`PelvisSamples` and the per-frame features (walking
  detection lives there);
- :mod:`monitor.posture.machine`: the state machine (:class:`PostureClassifier`,
  :func:`classify`), bouts and tilt zones.

Pure: numpy only, no I/O. See docs/posture.md for the method and its measured accuracy.
"""

from monitor.posture.config import G, PostureConfig, PostureConfigError
from monitor.posture.features import Frame, PelvisSamples, up_from_tilt
from monitor.posture.machine import (
    PostureClassifier,
    PostureResult,
    PostureUpdate,
    SittingBout,
    classify,
    sitting_time_s,
    tilt_zone,
)

__all__ = [
    "Frame",
    "G",
    "PelvisSamples",
    "PostureClassifier",
    "PostureConfig",
    "PostureConfigError",
    "PostureResult",
    "PostureUpdate",
    "SittingBout",
    "classify",
    "sitting_time_s",
    "tilt_zone",
    "up_from_tilt",
]
