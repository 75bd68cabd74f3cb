"""Alignment without labels: from any recording that holds quiet standing and walking.

For imported recordings and replays. Walking bouts are found by their step-frequency energy,
still upright standing near them gives up (the wearer's neutral, as a median over many stands),
and the bouts give forward. A clip that slips or is re-attached shows as a jump in the
*walking frame* (mean gravity and forward during a bout, in sensor coordinates), which is a
property of the wearer's gait: bouts are grouped where it stays put, and each later group gets
``q_PS = q_PW ⊗ q_WS``, the first group's pelvis-to-walking rotation carried over.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from calibration.alignment import ForwardEstimate, forward_from_walking
from calibration.errors import CalibrationError, NoAlignmentError
from calibration.rotation import (
    FloatArray,
    angle_deg,
    mounting_from_axes,
    quat_angle_deg,
    quat_multiply,
    unit,
)
from calibration.signals import (
    STEP_BAND_HZ,
    moving_std_above,
    row_norms,
    runs,
    step_frequency,
    still_mask,
)

MIN_BOUT_S = 8.0
MAX_BOUT_S = 60.0  # longer bouts are cut to their middle minute: enough, and bounded cost
NEAR_S = 30.0  # still standing this close to a bout counts as "around" it
MIN_STILL_S = 2.0
UPRIGHT_DEG = 8.0  # still standing within this of a bout's mean gravity counts as upright
CHANGE_DEG = 5.0  # a walking frame this far from its group's means the clip moved
# A recording that opens with the calibration protocol (a still stand, then a walk) has its
# neutral right there: a stand that starts this early and ends before the first walk.
OPENING_STAND_WITHIN_S = 60.0
MIN_OPENING_STAND_S = 3.0


class Neutral:
    """Where a segment's neutral (its pelvis "up") came from, as shown to the user."""

    PROFILE = "calibration profile"
    OPENING_STAND = "the still stand the recording opens with"
    STANDS = "the median of the still stands next to walks"
    WALKING = "the mean posture while walking (no still stand next to a walk)"
    CARRIED = "carried over from the first clip position"


@dataclass(frozen=True, slots=True)
class WalkingBout:
    start: int  # sample index
    stop: int
    step_hz: float
    gravity_S: FloatArray
    forward: ForwardEstimate

    @property
    def q_WS(self) -> FloatArray:
        """The walking frame (walking up, forward) relative to the sensor."""
        return mounting_from_axes(self.gravity_S, self.forward.forward_S)


@dataclass(frozen=True, slots=True)
class MountingSegment:
    """From sample ``start`` on (until the next segment), the mounting is ``q_PS``."""

    start: int
    q_PS: FloatArray
    bouts: int  # walking bouts behind it
    still_windows: int  # still upright stands behind its up axis (0: carried over)
    neutral: str = Neutral.STANDS  # where its up axis came from (a Neutral value)


def find_walking_bouts(
    acc: npt.ArrayLike, rate_hz: float, *, min_s: float = MIN_BOUT_S
) -> list[tuple[int, int]]:
    """``[start, stop)`` of walking: |a| swinging by steps, periodic in the step band."""
    a = _as_float(acc)
    window = max(int(rate_hz), 3)
    active = moving_std_above(a, window, 0.5, of=row_norms)
    out: list[tuple[int, int]] = []
    trim = window // 2  # the centred window reaches half a second past either end
    for start, stop in runs(active):
        lo, hi = start + trim, stop - trim
        if hi - lo < round(min_s * rate_hz):
            continue
        # Check in 8 s pieces (or the whole of a shorter bout, when min_s allows one) that the
        # swing is periodic at a step frequency (not fidgeting).
        piece = min(int(8 * rate_hz), hi - lo)
        good = []
        for p0 in range(lo, hi - piece + 1, piece):
            hz, share = step_frequency(row_norms(a[p0 : p0 + piece]), rate_hz)
            good.append(STEP_BAND_HZ[0] <= hz <= STEP_BAND_HZ[1] and share >= 0.25)
        if good and np.mean(good) >= 0.75:
            out.append((lo, hi))
    return out


def analyse_bouts(
    acc: npt.ArrayLike,
    gyr: npt.ArrayLike,
    rate_hz: float,
    spans: list[tuple[int, int]] | None = None,
    *,
    gyro_bias: npt.ArrayLike = (0.0, 0.0, 0.0),
) -> list[WalkingBout]:
    """The walking frame of each bout (bouts whose forward direction is unclear are skipped)."""
    a, g = _as_float(acc), _as_float(gyr)
    if spans is None:
        spans = find_walking_bouts(a, rate_hz)
    bouts: list[WalkingBout] = []
    longest = int(MAX_BOUT_S * rate_hz)
    for start, stop in spans:
        if stop - start > longest:
            mid = (start + stop) // 2
            start, stop = mid - longest // 2, mid + longest // 2
        bout_a = np.asarray(a[start:stop], dtype=np.float64)
        gravity = unit(bout_a.mean(axis=0))
        try:
            forward = forward_from_walking(
                bout_a,
                np.asarray(g[start:stop], dtype=np.float64),
                rate_hz,
                gravity,
                gyro_bias=gyro_bias,
            )
        except CalibrationError:
            continue
        bouts.append(WalkingBout(start, stop, forward.step_hz, gravity, forward))
    return bouts


def _mean_quat(quats: list[FloatArray], weights: list[float]) -> FloatArray:
    # Chordal mean: fine for rotations a few degrees apart (same hemisphere first).
    ref = quats[0]
    total = np.zeros(4)
    for q, w in zip(quats, weights, strict=True):
        total += w * (q if q @ ref >= 0 else -q)
    return unit(total)


def _group_bouts(bouts: list[WalkingBout], change_deg: float) -> list[list[WalkingBout]]:
    groups: list[list[WalkingBout]] = []
    for i, bout in enumerate(bouts):
        if groups:
            group = groups[-1]
            ref = _mean_quat([b.q_WS for b in group], [b.forward.seconds for b in group])
            if quat_angle_deg(ref, bout.q_WS) <= change_deg:
                group.append(bout)
                continue
            # One odd bout (carrying a bag, say) between agreeing ones is not a slip: drop it.
            after = bouts[i + 1] if i + 1 < len(bouts) else None
            if after is not None and quat_angle_deg(ref, after.q_WS) <= change_deg:
                continue
        groups.append([bout])
    return groups


def upright_stands(
    acc: npt.ArrayLike,
    gyr: npt.ArrayLike | None,
    rate_hz: float,
    bouts: list[WalkingBout],
    *,
    lo: int = 0,
    hi: int | None = None,
) -> list[tuple[int, int, FloatArray]]:
    """``(start, stop, mean gravity)`` of each still stand next to a bout, within [lo, hi).

    "Next to" means reached from the walk without sitting down: gravity, averaged over a
    second, stays within ``UPRIGHT_DEG`` of the walking gravity all the way between them (a
    sit-down pitches the pelvis 12–20° on its way, and upright sitting is 5–12° back).
    """
    a = _as_float(acc)
    hi = len(a) if hi is None else hi
    near = int(NEAR_S * rate_hz)
    mask = still_mask(a, gyr, rate_hz)
    window = max(int(rate_hz), 1)
    kernel = np.ones(window) / window
    found: list[tuple[int, int, FloatArray]] = []
    for start, stop in runs(mask):
        if stop - start < MIN_STILL_S * rate_hz or start < lo or stop > hi:
            continue
        for bout in bouts:
            if bout.start - near <= stop <= bout.start:
                between = (stop, bout.start)
            elif bout.stop <= start <= bout.stop + near:
                between = (bout.stop, start)
            else:
                continue
            span = np.asarray(a[between[0] : between[1]], dtype=np.float64)
            if len(span) > window:
                smooth = np.stack([np.convolve(span[:, i], kernel, "valid") for i in range(3)], 1)
                cosines = unit(smooth) @ bout.gravity_S
                if float(cosines.min()) < np.cos(np.radians(UPRIGHT_DEG)):
                    break
            direction = unit(np.asarray(a[start:stop], dtype=np.float64).mean(axis=0))
            if angle_deg(direction, bout.gravity_S) <= UPRIGHT_DEG:
                found.append((start, stop, direction))
            break
    return found


def _opening_stand(
    stands: list[tuple[int, int, FloatArray]], first_walk: int, rate_hz: float
) -> FloatArray | None:
    """The calibration protocol's stand, if the recording opens with one."""
    for start, stop, direction in stands:
        if stop > first_walk or start > OPENING_STAND_WITHIN_S * rate_hz:
            return None
        if stop - start >= MIN_OPENING_STAND_S * rate_hz:
            return direction
    return None


def _walking_up(group: list[WalkingBout]) -> FloatArray:
    return unit(sum((b.forward.seconds * b.gravity_S for b in group), np.zeros(3)))


def _median_direction(directions: FloatArray) -> FloatArray:
    # Component-wise median, renormalised: robust to a minority of hip-hanging stands.
    return unit(np.median(directions, axis=0))


def align_recording(
    acc: npt.ArrayLike,
    gyr: npt.ArrayLike,
    rate_hz: float,
    *,
    initial_q_PS: npt.ArrayLike | None = None,
    change_deg: float = CHANGE_DEG,
) -> list[MountingSegment]:
    """Mounting segments of a whole recording: one per detected clip position.

    ``initial_q_PS`` (a guided calibration) fixes the first segment and the wearer's neutral.
    Without it, the first segment's up (the wearer's neutral) is, in order of preference: the
    still stand the recording opens with (the calibration protocol: stand still, then walk), the
    median of the still upright stands next to its walking bouts, or the mean posture while
    walking; forward always comes from the walking. Each segment says which (``neutral``).
    Later segments start at the first walking bout after the clip moved. Raises
    :class:`NoAlignmentError` when the recording has no usable walking.
    """
    a, g = _as_float(acc), _as_float(gyr)
    bouts = analyse_bouts(a, g, rate_hz)
    if not bouts:
        raise NoAlignmentError(
            "no walking found: alignment needs at least one walk of 8 seconds or more"
        )
    groups = _group_bouts(bouts, change_deg)
    segments: list[MountingSegment] = []
    q_PW: FloatArray | None = None
    for i, group in enumerate(groups):
        q_WS = _mean_quat([b.q_WS for b in group], [b.forward.seconds for b in group])
        start = 0 if i == 0 else group[0].start
        if q_PW is None:
            if initial_q_PS is not None:
                q_PS = unit(initial_q_PS)
                stands, neutral = 0, Neutral.PROFILE
            else:
                hi = groups[1][0].start if len(groups) > 1 else len(a)
                found = upright_stands(a, g, rate_hz, group, hi=hi)
                opening = _opening_stand(found, group[0].start, rate_hz)
                if opening is not None:
                    up, neutral = opening, Neutral.OPENING_STAND
                elif found:
                    up = _median_direction(np.array([d for _, _, d in found]))
                    neutral = Neutral.STANDS
                else:
                    up, neutral = _walking_up(group), Neutral.WALKING
                q_PS = mounting_from_axes(up, _mean_forward(group))
                stands = len(found)
            q_PW = quat_multiply(q_PS, _conj(q_WS))
        else:
            q_PS = quat_multiply(q_PW, q_WS)
            stands, neutral = 0, Neutral.CARRIED
        segments.append(MountingSegment(start, _positive(q_PS), len(group), stands, neutral))
    return segments


def auto_align(acc: npt.ArrayLike, gyr: npt.ArrayLike, rate_hz: float) -> FloatArray:
    """``q_PS`` of the first clip position in a recording (see :func:`align_recording`)."""
    return align_recording(acc, gyr, rate_hz)[0].q_PS


def _mean_forward(group: list[WalkingBout]) -> FloatArray:
    total = np.zeros(3)
    for b in group:
        total += b.forward.seconds * b.forward.confidence * b.forward.forward_S
    return unit(total)


def _as_float(x: npt.ArrayLike) -> npt.NDArray[np.floating]:
    """float32 or float64 as given (a long recording is kept in float32; the slices used here
    are made float64 where they are used), anything else as float64."""
    arr = np.asarray(x)
    return arr if arr.dtype.kind == "f" else arr.astype(np.float64)


def _conj(q: FloatArray) -> FloatArray:
    return q * np.array([1.0, -1.0, -1.0, -1.0])


def _positive(q: FloatArray) -> FloatArray:
    return q if q[0] >= 0 else -q


__all__ = [
    "CHANGE_DEG",
    "MountingSegment",
    "Neutral",
    "WalkingBout",
    "align_recording",
    "analyse_bouts",
    "auto_align",
    "find_walking_bouts",
    "upright_stands",
]
