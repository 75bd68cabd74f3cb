"""Batch analysis of a whole recording: samples in, per-second posture, tilt and nudges out.

Used by ``tiltmon analyze`` for CSV files from any device. The mounting is unknown, so it is found
from the data (quiet standing next to walking); a clip that moved mid-recording is re-aligned from
the next walk. The same posture and nudge code as the live pipeline runs over the results.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from calibration import MountingSegment, Neutral, NoAlignmentError, align_recording
from monitor.activity import ActivitySnapshot, Transition
from monitor.errors import MonitorError
from monitor.fusion import estimate, quat
from monitor.nudge import NudgeEvent, NudgePolicy
from monitor.posture import PelvisSamples, PostureConfig, classify, upright_reference
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
) -> Analysis:
    notes: list[str] = []
    gyr_or_zero = gyr if gyr is not None else np.zeros_like(acc)
    if gyr is None:
        notes.append("no gyroscope: tilt from gravity alone, less accurate while moving")
    segments, heading_known = _mounting(acc, gyr, rate_hz, notes)
    # Offline VQF without the latency prediction: that prediction is tuned to the BROAD
    # sensor chain (docs/fusion.md), and other devices' delays are unknown.
    tilt = tilt_batch(acc, gyr, rate_hz, list(segments), offline=True, estimator="offline-vqf")
    q_PS = _per_sample(segments, len(acc))
    samples = PelvisSamples(
        t,
        quat.rotate(q_PS, acc),
        quat.rotate(q_PS, gyr_or_zero),
        tilt.sagittal_deg,
        tilt.frontal_deg,
    )
    result = classify(samples, posture, heading_known=heading_known)
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
            notes.append(f"neutral: {segments[0].neutral}")
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
    return (MountingSegment(0, q_PS, 0, 0, Neutral.WALKING),), False


def _per_sample(segments: tuple[MountingSegment, ...], n: int) -> FloatArray:
    out = np.empty((n, 4))
    for seg in sorted(segments, key=lambda s: s.start):
        out[seg.start :] = seg.q_PS
    return out
