"""Batch analysis of a whole recording: samples in, per-second posture, tilt and nudges out.

Used by ``tiltmon analyze`` for CSV files from any device. The mounting is unknown, so it is found
from the data by ``monitor.mounting`` (the same route the live pipeline takes); a clip that moved
mid-recording is re-aligned from the next walk. The same posture and nudge code as the live
pipeline runs over the results.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from calibration import MountingSegment
from monitor.acc_only import rates_from_gravity
from monitor.activity import ActivitySnapshot, Transition
from monitor.fusion import default_estimator, quat
from monitor.gaps import classify_runs
from monitor.mounting import MountingError, fit_recording
from monitor.nudge import NudgeEvent, NudgePolicy
from monitor.posture import PelvisSamples, PostureConfig
from monitor.tilt_pipeline import tilt_batch

log = logging.getLogger(__name__)
FloatArray = npt.NDArray[np.float64]

AnalysisError = MountingError  # the recording cannot be analysed: nobody ever walked in it


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
    gyr_or_rates = gyr if gyr is not None else rates_from_gravity(acc, rate_hz)
    if gyr is None:
        notes.append("no gyroscope: tilt from gravity alone, less accurate while moving")
    fit = fit_recording(acc, gyr, rate_hz)
    notes.extend(fit.notes)
    # Plain offline VQF: the product's default (docs/fusion.md); without a gyroscope, the
    # accelerometer-only estimator (tilt from gravity).
    fusion = default_estimator(offline=True, gyro=gyr is not None)
    tilt = tilt_batch(acc, gyr, rate_hz, list(fit.segments), offline=True, estimator=fusion)
    q_PS = fit.per_sample(len(acc))
    samples = PelvisSamples(
        t,
        quat.rotate(q_PS, acc),
        quat.rotate(q_PS, gyr_or_rates),
        tilt.sagittal_deg,
        tilt.frontal_deg,
    )
    result = classify_runs(samples, posture, breaks, heading_known=fit.heading_known)
    policy = nudges or NudgePolicy()
    state = policy.initial_state()
    shown: list[NudgeEvent] = []
    for snapshot in result.snapshots:
        state, events = policy.step(state, snapshot)
        shown.extend(events)
    return Analysis(
        result.snapshots,
        result.transitions,
        tuple(shown),
        fit.segments,
        fit.heading_known,
        tuple(notes),
    )
