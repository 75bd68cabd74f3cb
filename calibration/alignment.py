"""Sensor-to-pelvis alignment: ``q_PS`` from still standing plus walking or pelvic tilts.

Up comes from gravity while the wearer stands still in their neutral posture, so that posture
reads zero tilt by definition. Forward comes from one of:

- **walking**: the inverted-pendulum gait. While the body rises over the stance leg it slows
  down, and it speeds up as it falls, so at the step frequency the forward acceleration is in
  anti-phase with the vertical velocity. The horizontal direction whose acceleration correlates
  most negatively with vertical velocity is forward: this gives the axis *and* its sign at once
  (see docs/calibration.md). A clip at the side of the pelvis also feels the pelvis's rotation
  (α × r, ω × (ω × r)), which turns that axis by a degree or two; the gyroscope does not (a
  rigid body turns at the same rate everywhere). The pelvis tilts forward and back with every
  step (about its lateral axis) and rocks about its forward axis (obliquity) once per stride,
  while its rotation is about the vertical: so the step-band horizontal rotation gives the
  lateral axis and the stride-band one the forward axis. Where either is clear, they refine
  the forward *axis* (averaged when both are), and the acceleration gives its sign.
- **tilts**: slow forward (anterior) pelvic tilts move earth-up towards the pelvis's −x axis.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from calibration.errors import (
    MovedDuringStillError,
    NotEnoughWalkingError,
    NotUprightError,
    TiltsTooSmallError,
)
from calibration.rotation import FloatArray, unit
from calibration.signals import (
    G,
    band_pass,
    step_frequency,
    track_up,
)

MIN_WALK_S = 5.0
MIN_STEP_SHARE = 0.25  # share of vertical power at the step frequency: below it, not walking
MIN_FORWARD_SHARE = 0.5  # how much of the step-band horizontal motion must be fore-aft
MIN_TILT_DEG = 5.0
# the rocking of the pelvis gives an axis when it is clearly one axis (eigenvalue ratio) and
# agrees with the acceleration's forward to within this (else the acceleration's is kept)
MIN_ROCKING_RATIO = 4.0
MAX_ROCKING_TURN_DEG = 20.0


@dataclass(frozen=True, slots=True)
class StillEstimate:
    """What quiet standing tells: up (sensor frame), gyroscope bias, how still it was."""

    up_S: FloatArray
    gyro_bias: FloatArray  # rad/s
    acc_norm: float  # m/s², mean |a|
    acc_spread: float  # m/s², RMS spread of the accelerometer vector
    gyr_spread: float  # rad/s, RMS spread of the gyroscope vector
    seconds: float


@dataclass(frozen=True, slots=True)
class ForwardEstimate:
    """Forward (sensor frame, not yet levelled) and how clearly the data said so."""

    forward_S: FloatArray
    method: str  # "walk" or "tilt"
    seconds: float
    step_hz: float  # walking only (NaN for tilts)
    steps: int  # walking only
    confidence: float  # 0…1: fore-aft share of the step-band motion, or of the tilt excursion
    tilt_deg: float  # tilts only: the largest excursion (NaN for walking)


def still_estimate(
    acc: npt.ArrayLike,
    gyr: npt.ArrayLike | None,
    rate_hz: float,
    *,
    max_acc_spread: float = 0.15,
    max_gyr_spread: float = 0.05,
) -> StillEstimate:
    """Average a still stretch; raise :class:`MovedDuringStillError` when it was not still."""
    a = np.asarray(acc, dtype=np.float64)
    if len(a) < 2:
        raise MovedDuringStillError("no samples in the still phase: stand still for a few seconds")
    g = None if gyr is None else np.asarray(gyr, dtype=np.float64)
    acc_spread = float(np.sqrt(np.sum(np.var(a, axis=0))))
    gyr_spread = 0.0 if g is None else float(np.sqrt(np.sum(np.var(g, axis=0))))
    if acc_spread > max_acc_spread or gyr_spread > max_gyr_spread:
        raise MovedDuringStillError(
            "you moved during the still phase: stand upright and still, as you normally stand,"
            " until told to move"
        )
    mean = a.mean(axis=0)
    norm = float(np.linalg.norm(mean))
    if not 0.7 * G < norm < 1.3 * G:
        raise NotUprightError(
            f"the sensor measured {norm:.1f} m/s² instead of about {G:.1f}: is it worn and still?"
        )
    return StillEstimate(
        up_S=mean / norm,
        gyro_bias=np.zeros(3) if g is None else g.mean(axis=0),
        acc_norm=norm,
        acc_spread=acc_spread,
        gyr_spread=gyr_spread,
        seconds=len(a) / rate_hz,
    )


def forward_from_walking(
    acc: npt.ArrayLike,
    gyr: npt.ArrayLike,
    rate_hz: float,
    up0_S: npt.ArrayLike,
    *,
    gyro_bias: npt.ArrayLike = (0.0, 0.0, 0.0),
    min_walk_s: float = MIN_WALK_S,
    lead_in: int = 0,
) -> ForwardEstimate:
    """Forward from a bout of straight-ish walking (turns are fine; it must be walking).

    ``up0_S`` starts the gravity tracker (the still phase's up, or any recent estimate) at the
    first sample; the first ``lead_in`` samples only run the tracker in (standing before the
    walk, say) and are not analysed.
    """
    a_all = np.asarray(acc, dtype=np.float64)
    up = track_up(a_all, gyr, rate_hz, up0_S, gyro_bias=gyro_bias)[lead_in:]
    a = a_all[lead_in:]
    seconds = len(a) / rate_hz
    if seconds < min_walk_s:
        raise NotEnoughWalkingError(
            f"not enough walking: {seconds:.0f} s seen, walk at least {min_walk_s:.0f} s"
            " at your normal pace"
        )
    along_up = np.sum(a * up, axis=1)
    vertical = along_up - G
    horizontal = a - along_up[:, None] * up  # sensor coordinates, gravity removed per sample
    step_hz, share = step_frequency(vertical, rate_hz)
    if not share >= MIN_STEP_SHARE:
        raise NotEnoughWalkingError(
            "not enough walking: no regular steps found. Walk straight ahead at your normal pace"
        )
    lo, hi = step_hz - 0.3, step_hz + 0.3
    v_vel = band_pass(vertical, rate_hz, lo, hi, integrate=True)
    h_acc = band_pass(horizontal, rate_hz, lo, hi)
    # Forward acceleration is in anti-phase with vertical velocity (inverted pendulum).
    forward = -(h_acc * v_vel[:, None]).mean(axis=0)
    # Confidence: how much of the step-band horizontal motion that direction explains.
    f_unit = unit(forward)
    h_power = float(np.mean(np.sum(h_acc * h_acc, axis=1)))
    along = h_acc @ f_unit
    # |corr(forward acc, vertical velocity)| measures how pendulum-like the gait looked.
    denom = math.sqrt(float(np.mean(along * along)) * float(np.mean(v_vel * v_vel)))
    corr = float(np.linalg.norm(forward)) / denom if denom > 0 else 0.0
    fore_aft_share = float(np.mean(along * along)) / h_power if h_power > 0 else 0.0
    confidence = min(1.0, corr) * fore_aft_share
    if not fore_aft_share >= MIN_FORWARD_SHARE:
        raise NotEnoughWalkingError(
            "the walking did not show a clear forward direction: walk straight ahead, not"
            " sideways or on the spot"
        )
    g = np.asarray(gyr, dtype=np.float64)[lead_in:] - np.asarray(gyro_bias, dtype=np.float64)
    f_unit = _refine_with_rotation(f_unit, g, unit(up.mean(axis=0)), rate_hz, step_hz)
    return ForwardEstimate(
        forward_S=f_unit,
        method="walk",
        seconds=seconds,
        step_hz=step_hz,
        steps=round(step_hz * seconds),
        confidence=confidence,
        tilt_deg=math.nan,
    )


def _refine_with_rotation(
    forward: FloatArray, gyr: FloatArray, up: FloatArray, rate_hz: float, step_hz: float
) -> FloatArray:
    """Forward's axis from the pelvis's rocking (gyroscope), its sign from ``forward``."""
    candidates = []
    lateral = _rocking_axis(gyr, up, rate_hz, step_hz)  # tilt with every step
    if lateral is not None:
        candidates.append(unit(np.cross(lateral, up)))
    along = _rocking_axis(gyr, up, rate_hz, 0.5 * step_hz)  # obliquity once per stride
    if along is not None:
        candidates.append(along)
    total = np.zeros(3)
    for axis in candidates:
        axis = axis if axis @ forward >= 0 else -axis
        if math.degrees(math.acos(min(1.0, float(axis @ forward)))) <= MAX_ROCKING_TURN_DEG:
            total += axis
    return unit(total) if np.linalg.norm(total) > 0 else forward


def _rocking_axis(
    gyr: FloatArray, up: FloatArray, rate_hz: float, freq_hz: float
) -> FloatArray | None:
    """The horizontal axis the pelvis rocks about at ``freq_hz`` (unsigned), if clear.

    ``up`` is the bout's mean up: the per-sample estimate rocks with the very accelerations
    (of a clip away from the centre) that this is meant to be free of.
    """
    if not (math.isfinite(freq_hz) and freq_hz > 0.35):
        return None
    horizontal = gyr - np.outer(gyr @ up, up)
    rocking = band_pass(horizontal, rate_hz, freq_hz - 0.25, freq_hz + 0.25)
    values, vectors = np.linalg.eigh(rocking.T @ rocking)
    if not values[-1] >= MIN_ROCKING_RATIO * max(values[-2], 1e-12):
        return None
    return unit(vectors[:, -1])


def forward_from_tilts(
    acc: npt.ArrayLike, rate_hz: float, up0_S: npt.ArrayLike, *, min_tilt_deg: float = MIN_TILT_DEG
) -> ForwardEstimate:
    """Forward from a few slow forward (anterior) pelvic tilts from the neutral posture.

    An anterior tilt turns the pelvis about its left (y) axis and earth-up, seen from the
    pelvis, moves towards −x: forward is opposite to the mean excursion of up.
    """
    a = np.asarray(acc, dtype=np.float64)
    u0 = unit(up0_S)
    # Slow tilts: a 0.5 s average of gravity is a clean up direction.
    window = max(int(0.5 * rate_hz), 1)
    kernel = np.ones(window) / window
    smooth = np.stack([np.convolve(a[:, i], kernel, mode="same") for i in range(3)], axis=1)
    if len(a) > 2 * window:
        smooth = smooth[window:-window]
    up = unit(smooth)
    excursion = np.degrees(np.arccos(np.clip(up @ u0, -1.0, 1.0)))
    biggest = float(excursion.max()) if excursion.size else 0.0
    if biggest < min_tilt_deg:
        raise TiltsTooSmallError(
            f"the tilts were too small ({biggest:.0f}°): tilt your pelvis further forward,"
            f" at least {min_tilt_deg:.0f}°, slowly, then back to upright"
        )
    tilted = excursion >= 0.5 * biggest
    deviation = up[tilted] - u0
    deviation -= np.outer(deviation @ u0, u0)  # horizontal part
    mean_dev = deviation.mean(axis=0)
    # Tilts back and forth, or sideways, would cancel or spread the excursions.
    consistency = float(np.linalg.norm(mean_dev)) / float(
        np.mean(np.linalg.norm(deviation, axis=1))
    )
    if consistency < 0.8:
        raise TiltsTooSmallError(
            "the tilts did not go one way: tilt only forward (tailbone back, belly forward),"
            " then back to upright, and keep the hips level"
        )
    return ForwardEstimate(
        forward_S=unit(-mean_dev),
        method="tilt",
        seconds=len(a) / rate_hz,
        step_hz=math.nan,
        steps=0,
        confidence=consistency,
        tilt_deg=biggest,
    )


__all__ = [
    "MIN_TILT_DEG",
    "MIN_WALK_S",
    "ForwardEstimate",
    "StillEstimate",
    "forward_from_tilts",
    "forward_from_walking",
    "still_estimate",
]
