"""Where the sensor sits on the pelvis (``q_PS``): one module for the live pipeline and analysis.

Both find the mounting from the data the same way, through ``calibration.align_recording``:
forward from walking, neutral from the still stand the recording opens with (the calibration
protocol), else from still stands next to walks, else from the posture while walking. Live, a
provisional mounting (up from the first samples, forward a guess) serves until walking shows
forward; a saved calibration profile skips all of it. Analysis also handles recordings with no
gyroscope or no usable walking bout, where only "up" can be found (sagittal and frontal are then
mixed by an unknown heading, and the classifier is told so).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from calibration import (
    MountingSegment,
    Neutral,
    NoAlignmentError,
    align_recording,
    find_walking_bouts,
    mounting_from_axes,
)
from calibration.auto import MIN_OPENING_STAND_S, OPENING_STAND_WITHIN_S
from calibration.signals import runs, still_mask
from monitor.errors import MonitorError
from monitor.fusion import default_estimator, quat
from monitor.fusion.blocks import estimate_blocks

FloatArray = npt.NDArray[np.float64]
Samples = npt.NDArray[np.floating]  # float32 for a long recording kept compact, or float64
MIN_WALKING_S = 4.0  # walking needed to find "up" without the forward axis


class MountingError(MonitorError, ValueError):
    """The recording does not show where the sensor sits (nobody walked in it)."""


@dataclass(frozen=True, slots=True)
class MountingFit:
    """The mounting of a whole recording: one segment per clip position."""

    segments: tuple[MountingSegment, ...]
    heading_known: bool  # False: sagittal and frontal are mixed by an unknown angle
    notes: tuple[str, ...]  # what was found, in words for the user

    def per_sample(self, n: int, start: int = 0) -> FloatArray:
        """``q_PS`` for each of ``n`` samples from sample ``start`` on."""
        out = np.empty((n, 4))
        for seg in sorted(self.segments, key=lambda s: s.start):
            out[max(seg.start - start, 0) :] = seg.q_PS
        return out


def fit_recording(acc: Samples, gyr: Samples | None, rate_hz: float) -> MountingFit:
    """The mounting of a recording from its data alone (analysis, replay of foreign files)."""
    notes: list[str] = []
    if gyr is not None:
        try:
            segments = align_recording(acc, gyr, rate_hz)
        except NoAlignmentError as exc:
            notes.append(f"full alignment not possible ({exc}); using up from walking only")
        else:
            notes.append(f"neutral: {segments[0].neutral}")
            if len(segments) > 1:
                notes.append(f"the sensor moved on the belt: re-aligned {len(segments) - 1}×")
            return MountingFit(tuple(segments), True, tuple(notes))
    try:
        q_PS = upright_only(acc, gyr, rate_hz)
        neutral = Neutral.WALKING
    except MountingError:
        # No walking at all: the calibration protocol's opening stand is the last resort.
        opening = _opening_still(acc, gyr, rate_hz)
        if opening is None:
            raise
        q_PS = provisional(opening)
        neutral = "the still start of the recording, taken as standing (no walking to confirm it)"
        notes.append(f"no walking: up from {neutral}")
    notes.append("forward direction unknown: sagittal and frontal tilt are mixed")
    return MountingFit((MountingSegment(0, q_PS, 0, 0, neutral),), False, tuple(notes))


def _opening_still(acc: Samples, gyr: Samples | None, rate_hz: float) -> FloatArray | None:
    """The samples of a still stretch the recording opens with (the calibration stand)."""
    for start, stop in runs(still_mask(acc, gyr, rate_hz)):
        if start > OPENING_STAND_WITHIN_S * rate_hz:
            return None
        if stop - start >= MIN_OPENING_STAND_S * rate_hz:
            return np.asarray(acc[start:stop], dtype=np.float64)
    return None


def first_mounting(acc: FloatArray, gyr: FloatArray, rate_hz: float) -> MountingSegment | None:
    """The mounting of the first clip position in recent live data, once walking shows it."""
    try:
        return align_recording(acc, gyr, rate_hz)[0]
    except NoAlignmentError:
        return None


def provisional(acc: FloatArray) -> FloatArray:
    """A stand-in ``q_PS`` from the first samples: up from gravity, forward any horizontal."""
    up = acc.mean(axis=0)
    helper = np.eye(3)[int(np.argmin(np.abs(up)))]
    q: FloatArray = mounting_from_axes(up, np.cross(helper, up))
    return q


def upright_only(acc_S: npt.ArrayLike, gyr_S: npt.ArrayLike | None, rate_hz: float) -> FloatArray:
    """A mounting ``q_PS`` whose pelvis z is the mean earth up while walking; heading arbitrary.

    For recordings with no gyroscope, or walking too short or unclear for the forward axis:
    walking is found as the alignment finds it (``calibration.find_walking_bouts``), up from the
    orientation estimate averaged over it. Raises :class:`MountingError` if nobody walked.
    """
    acc = np.asarray(acc_S)
    gyr = None if gyr_S is None else np.asarray(gyr_S)
    walking = np.zeros(len(acc), dtype=bool)
    for start, stop in find_walking_bouts(acc, rate_hz, min_s=MIN_WALKING_S):
        walking[start:stop] = True
    # Up while walking only, estimated a block at a time: flat memory on a long recording.
    walked = []
    name = default_estimator(offline=True, gyro=gyr is not None)
    for block, q_ES in estimate_blocks(acc, gyr, rate_hz, name):
        up = quat.earth_up_in_sensor(q_ES)
        walked.append(up[walking[block.lo : block.hi] & np.all(np.isfinite(up), axis=1)])
    up_walking = np.concatenate(walked)
    if len(up_walking) < round(rate_hz * MIN_WALKING_S):
        raise MountingError(
            "cannot tell which way is up: the recording needs some walking"
            f" (at least {MIN_WALKING_S:.0f} s in one go)"
        )
    u = up_walking.mean(axis=0)
    for _ in range(3):  # drop stray samples (turns, stumbles) and re-average
        u /= np.linalg.norm(u)
        near = up_walking @ u > math.cos(math.radians(20.0))
        u = up_walking[near].mean(axis=0)
    u /= np.linalg.norm(u)
    axis = np.cross(u, [0.0, 0.0, 1.0])
    s = float(np.linalg.norm(axis))
    ang = math.atan2(s, float(u[2]))
    q: FloatArray = quat.from_rotvec(axis / s * ang if s > 1e-12 else np.zeros(3))
    return q


__all__ = [
    "MountingError",
    "MountingFit",
    "first_mounting",
    "fit_recording",
    "provisional",
    "upright_only",
]
