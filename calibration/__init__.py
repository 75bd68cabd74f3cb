"""Sensor calibration: gyroscope bias, accelerometer calibration, sensor-to-pelvis alignment.

Pure numpy (platformdirs only to find the profile directory); imports nothing from ``monitor``.

- :class:`CalibrationProcedure`: the guided procedure as a step machine (stand still, then walk
  or tilt); ``feed(t, acc, gyr)`` returns :class:`Prompt` / :class:`Progress` / :class:`Failed` /
  :class:`Finished` events. The result's ``q_PS`` is the mounting (docs/conventions.md).
- :func:`still_estimate`, :func:`forward_from_walking`, :func:`forward_from_tilts`,
  :func:`mounting_from_axes`: the maths behind it, usable on any arrays.
- :func:`align_recording` / :func:`auto_align`: alignment from unlabelled recordings, with
  re-alignment after the clip moves; :func:`find_walking_bouts`.
- :class:`GyroBiasTracker`: gyroscope bias from rest, tracked while worn.
- :func:`fit_accelerometer`: optional accelerometer bias and scale from still orientations.
- :class:`CalibrationProfile`, :func:`save_profile`, :func:`load_profile`: per-device JSON.
- :class:`CalibrationError` (a ValueError) and its subclasses carry plain-language messages.
"""

from calibration.accel import (
    AccelCalibration,
    fit_accelerometer,
    still_orientation_means,
)
from calibration.alignment import (
    ForwardEstimate,
    StillEstimate,
    forward_from_tilts,
    forward_from_walking,
    still_estimate,
)
from calibration.auto import (
    MountingSegment,
    Neutral,
    WalkingBout,
    align_recording,
    analyse_bouts,
    auto_align,
    find_walking_bouts,
)
from calibration.bias import BiasTrackerParams, GyroBiasTracker, bias_at_rest
from calibration.errors import (
    AccelCalibrationError,
    CalibrationError,
    MovedDuringStillError,
    NoAlignmentError,
    NotEnoughWalkingError,
    NotUprightError,
    ProfileError,
    TiltsTooSmallError,
)
from calibration.procedure import (
    INSTRUCTIONS,
    CalibrationEvent,
    CalibrationProcedure,
    CalibrationResult,
    Failed,
    Finished,
    Phase,
    ProcedureConfig,
    Progress,
    Prompt,
)
from calibration.profiles import (
    DATA_DIR_ENV,
    CalibrationProfile,
    data_dir,
    device_key,
    load_profile,
    profile_path,
    save_profile,
)
from calibration.rotation import mounting_from_axes, quat_angle_deg

__all__ = [
    "DATA_DIR_ENV",
    "INSTRUCTIONS",
    "AccelCalibration",
    "AccelCalibrationError",
    "BiasTrackerParams",
    "CalibrationError",
    "CalibrationEvent",
    "CalibrationProcedure",
    "CalibrationProfile",
    "CalibrationResult",
    "Failed",
    "Finished",
    "ForwardEstimate",
    "GyroBiasTracker",
    "MountingSegment",
    "MovedDuringStillError",
    "Neutral",
    "NoAlignmentError",
    "NotEnoughWalkingError",
    "NotUprightError",
    "Phase",
    "ProcedureConfig",
    "ProfileError",
    "Progress",
    "Prompt",
    "StillEstimate",
    "TiltsTooSmallError",
    "WalkingBout",
    "align_recording",
    "analyse_bouts",
    "auto_align",
    "bias_at_rest",
    "data_dir",
    "device_key",
    "find_walking_bouts",
    "fit_accelerometer",
    "forward_from_tilts",
    "forward_from_walking",
    "load_profile",
    "mounting_from_axes",
    "profile_path",
    "quat_angle_deg",
    "save_profile",
    "still_estimate",
    "still_orientation_means",
]
