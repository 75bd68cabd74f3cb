"""Errors with messages a wearer can act on. Every one is a ``CalibrationError`` (a ValueError)."""

from __future__ import annotations


class CalibrationError(ValueError):
    """Calibration could not produce a trustworthy result; the message says what to do."""


class MovedDuringStillError(CalibrationError):
    """The still phase never saw the sensor still for long enough."""


class NotUprightError(CalibrationError):
    """The still phase does not look like standing (e.g. the wearer was lying down)."""


class NotEnoughWalkingError(CalibrationError):
    """Too little (or no) walking to find the forward direction."""


class TiltsTooSmallError(CalibrationError):
    """The pelvic tilts were too small or not in one direction."""


class AccelCalibrationError(CalibrationError):
    """The still orientations do not pin down the accelerometer's bias and scale."""


class ProfileError(CalibrationError):
    """A calibration profile file cannot be read or written."""


class NoAlignmentError(CalibrationError):
    """A recording holds no walking with still standing near it to align from."""


__all__ = [
    "AccelCalibrationError",
    "CalibrationError",
    "MovedDuringStillError",
    "NoAlignmentError",
    "NotEnoughWalkingError",
    "NotUprightError",
    "ProfileError",
    "TiltsTooSmallError",
]
