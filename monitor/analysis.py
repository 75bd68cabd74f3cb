"""Batch analysis of a whole recording: samples in, per-second posture, tilt and nudges out.

Used by ``tiltmon analyze`` for CSV files from any device. The mounting is unknown, so it is found
from the data by ``monitor.mounting`` (the same route the live pipeline takes); a clip that moved
mid-recording is re-aligned from the next walk. The same posture and nudge code as the live
pipeline runs over the results.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from calibration import MountingSegment
from monitor.activity import ActivitySnapshot, Transition
from monitor.fusion import quat
from monitor.mounting import MountingError, fit_recording
from monitor.nudge import NudgeEvent, NudgePolicy
from monitor.posture import PelvisSamples, PostureConfig, classify
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
) -> Analysis:
    notes: list[str] = []
    gyr_or_zero = gyr if gyr is not None else np.zeros_like(acc)
    if gyr is None:
        notes.append("no gyroscope: tilt from gravity alone, less accurate while moving")
    fit = fit_recording(acc, gyr, rate_hz)
    notes.extend(fit.notes)
    # Offline VQF without the latency prediction: that prediction is tuned to the BROAD
    # sensor chain (docs/fusion.md), and other devices' delays are unknown.
    tilt = tilt_batch(acc, gyr, rate_hz, list(fit.segments), offline=True, estimator="offline-vqf")
    q_PS = fit.per_sample(len(acc))
    samples = PelvisSamples(
        t,
        quat.rotate(q_PS, acc),
        quat.rotate(q_PS, gyr_or_zero),
        tilt.sagittal_deg,
        tilt.frontal_deg,
    )
    result = classify(samples, posture, heading_known=fit.heading_known)
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
