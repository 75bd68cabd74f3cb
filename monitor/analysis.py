"""Batch analysis of a whole recording: samples in, per-second posture, tilt and nudges out.

Used by ``tiltmon analyze`` for CSV files from any device. The mounting is unknown, so it is found
from the data (quiet standing next to walking); a clip that moved mid-recording is re-aligned from
the next walk. The same posture and nudge code as the live pipeline runs over the results.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from calibration import MountingSegment, NoAlignmentError, align_recording
from monitor.acc_only import rates_from_gravity
from monitor.activity import ActivitySnapshot, Transition
from monitor.errors import MonitorError
from monitor.fusion import default_estimator, estimate, quat
from monitor.gaps import classify_runs
from monitor.nudge import NudgeEvent, NudgePolicy
from monitor.posture import PelvisSamples, PostureConfig, upright_reference
from monitor.tilt_pipeline import tilt_batch

log = logging.getLogger(__name__)
FloatArray = npt.NDArray[np.float64]


class AnalysisError(MonitorError, ValueError):
    """The recording cannot be analysed (for instance: nobody ever walked in it)."""


@dataclass(frozen=True, slots=True)
class Analysis:
    snapshots: tuple[ActivitySnapshot, ...]
    transitions: tuple[Transition, ...]
    nudges: tuple[NudgeEvent, ...]
    mounting: tuple[MountingSegment, ...]
    heading_known: bool  # False: sagittal and frontal are mixed by an unknown angle
    notes: tuple[str, ...]


def analyse(
    t: FloatArray,
    acc: FloatArray,
    gyr: FloatArray | None,
    rate_hz: float,
    *,
    posture: PostureConfig | None = None,
    nudges: NudgePolicy | None = None,
    breaks: Sequence[int] = (),
) -> Analysis:
    """``breaks``: sample indices after long gaps in time, where posture starts afresh."""
    notes: list[str] = []
    # Without a gyroscope, posture gets the rotation rates gravity's turning implies.
    gyr_or_zero = gyr if gyr is not None else rates_from_gravity(acc, rate_hz)
    if gyr is None:
        notes.append("no gyroscope: tilt from gravity alone, less accurate while moving")
    segments, heading_known = _mounting(acc, gyr, rate_hz, notes)
    # Offline VQF without the latency prediction: that prediction is tuned to the BROAD
    # sensor chain (docs/fusion.md), and other devices' delays are unknown.
    # Without a gyroscope: the accelerometer-only estimator (tilt from gravity).
    fusion = "offline-vqf" if gyr is not None else default_estimator(offline=True, gyro=False)
    tilt = tilt_batch(acc, gyr, rate_hz, list(segments), offline=True, estimator=fusion)
    q_PS = _per_sample(segments, len(acc))
    samples = PelvisSamples(
        t,
        quat.rotate(q_PS, acc),
        quat.rotate(q_PS, gyr_or_zero),
        tilt.sagittal_deg,
        tilt.frontal_deg,
    )
    result = classify_runs(samples, posture, breaks)
    policy = nudges or NudgePolicy()
    state = policy.initial_state()
    shown: list[NudgeEvent] = []
    for snapshot in result.snapshots:
        state, events = policy.step(state, snapshot)
        shown.extend(events)
    return Analysis(
        result.snapshots, result.transitions, tuple(shown), segments, heading_known, tuple(notes)
    )


def _mounting(
    acc: FloatArray, gyr: FloatArray | None, rate_hz: float, notes: list[str]
) -> tuple[tuple[MountingSegment, ...], bool]:
    if gyr is not None:
        try:
            segments = align_recording(acc, gyr, rate_hz)
        except NoAlignmentError as exc:
            notes.append(f"full alignment not possible ({exc}); using up from walking only")
        else:
            if len(segments) > 1:
                notes.append(f"the sensor moved on the belt: re-aligned {len(segments) - 1}×")
            return tuple(segments), True
    # Up from walking alone: posture classes need only the inclination, but sagittal and
    # frontal tilt are mixed by an unknown heading.
    q_ES = estimate(acc, gyr, rate_hz, offline=True)
    try:
        q_PS = upright_reference(acc, quat.earth_up_in_sensor(q_ES), rate_hz)
    except (ValueError, MonitorError) as exc:
        raise AnalysisError(
            f"cannot tell which way is up: the recording needs some walking ({exc})"
        ) from exc
    notes.append("forward direction unknown: sagittal and frontal tilt are mixed")
    return (MountingSegment(0, q_PS, 0, 0),), False


def _per_sample(segments: tuple[MountingSegment, ...], n: int) -> FloatArray:
    out = np.empty((n, 4))
    for seg in sorted(segments, key=lambda s: s.start):
        out[seg.start :] = seg.q_PS
    return out
