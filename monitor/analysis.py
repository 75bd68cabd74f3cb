"""Batch analysis of a whole recording: samples in, per-second posture, tilt and nudges out.

Used by ``tiltmon analyze`` for CSV files from any device. The mounting is unknown, so it is found
from the data by ``monitor.mounting`` (the same route the live pipeline takes); a clip that moved
mid-recording is re-aligned from the next walk. The same posture and nudge code as the live
pipeline runs over the results.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from calibration import MountingSegment
from monitor.acc_only import rates_from_gravity
from monitor.activity import ActivitySnapshot, Transition
from monitor.fusion import default_estimator, make_estimator, quat, tilt_deg
from monitor.fusion.blocks import BLOCK_S, blocks, context64
from monitor.mounting import MountingError, fit_recording
from monitor.nonwear import NonWear, NonWearConfig, NonWearDetector, non_wear_snapshot
from monitor.nudge import NudgeEvent, NudgePolicy
from monitor.posture import PelvisSamples, PostureClassifier, PostureConfig, PostureUpdate

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
    non_wear: tuple[NonWear, ...] = ()  # stretches when the sensor was not worn


def analyse(
    t: FloatArray,
    acc: npt.NDArray[np.floating],
    gyr: npt.NDArray[np.floating] | None,
    rate_hz: float,
    *,
    posture: PostureConfig | None = None,
    nudges: NudgePolicy | None = None,
    breaks: Sequence[int] = (),
    block_s: float | None = BLOCK_S,
    non_wear: NonWearConfig | None = None,
) -> Analysis:
    """``breaks``: sample indices after long gaps in time, where posture starts afresh.

    The mounting needs the whole recording (one light pass: walking bouts and still stands);
    fusion, tilt and posture then go a block of ``block_s`` at a time with their state carried
    across (offline fusion with context either side, ``monitor.fusion.blocks``), so memory
    holds the samples and one block's work. ``block_s=None``: everything in one block.
    Stretches when the sensor was not worn (``monitor.nonwear``) are not classified: their
    seconds are ``Posture.NON_WEAR`` snapshots, and posture starts afresh after each.
    """
    notes: list[str] = []
    if gyr is None:
        notes.append("no gyroscope: tilt from gravity alone, less accurate while moving")
    fit = fit_recording(acc, gyr, rate_hz)
    notes.extend(fit.notes)
    # Plain offline VQF: the product's default (docs/fusion.md); without a gyroscope, the
    # accelerometer-only estimator (tilt from gravity).
    fusion = default_estimator(offline=True, gyro=gyr is not None)
    off = non_wear_stretches(t, acc, rate_hz, non_wear, block_s=block_s)
    if off:
        total = sum(s.duration_s for s in off) / 60
        notes.append(
            f"not worn (lying still) {len(off)}× for {total:.0f} min in all: marked non_wear"
        )
    skips = [
        _Skip(int(np.searchsorted(t, s.start)), int(np.searchsorted(t, s.end)), s) for s in off
    ]
    runs = _Runs(posture, breaks, skips, heading_known=fit.heading_known)
    for block in blocks(len(acc), rate_hz, block_s):
        a = context64(acc, block)
        g = context64(gyr, block) if gyr is not None else None
        q_ES = block.inner(make_estimator(fusion, rate_hz).update_batch(a, g))
        # Without a gyroscope, posture gets the rotation rates gravity's turning implies.
        rates = block.inner(g if g is not None else rates_from_gravity(a, rate_hz))
        q_PS = fit.per_sample(block.hi - block.lo, block.lo)
        sagittal, frontal = tilt_deg(q_ES, q_PS)
        samples = PelvisSamples(
            t[block.lo : block.hi],
            quat.rotate(q_PS, block.inner(a)),
            quat.rotate(q_PS, rates),
            sagittal,
            frontal,
        )
        runs.update(samples, block.lo)
    result = runs.finish()
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
        tuple(off),
    )


def non_wear_stretches(
    t: FloatArray,
    acc: npt.NDArray[np.floating],
    rate_hz: float,
    config: NonWearConfig | None = None,
    *,
    block_s: float | None = BLOCK_S,
) -> list[NonWear]:
    """The recording's non-wear stretches (``monitor.nonwear``), a block at a time."""
    detector = NonWearDetector(config)
    found: list[NonWear] = []
    for block in blocks(len(t), rate_hz, block_s, overlap_s=0.0):
        found += detector.update(t[block.lo : block.hi], acc[block.lo : block.hi])
    return found + detector.flush()


@dataclass(frozen=True, slots=True)
class _Skip:
    lo: int  # first sample of a non-wear stretch
    hi: int  # first sample after it
    stretch: NonWear


class _Runs:
    """Posture streamed block by block, started afresh at each break (as ``classify_runs``)
    and after each non-wear stretch, whose samples it skips and whose seconds it marks."""

    def __init__(
        self,
        config: PostureConfig | None,
        breaks: Sequence[int],
        skips: Sequence[_Skip],
        *,
        heading_known: bool,
    ) -> None:
        self._config = config
        self._heading_known = heading_known
        self._breaks = sorted(b for b in breaks if b > 0)
        self._skips = list(skips)
        self._skip_until: int | None = None
        self._classifier = PostureClassifier(config, heading_known=heading_known)
        self._snapshots: list[ActivitySnapshot] = []
        self._transitions: list[Transition] = []

    def update(self, samples: PelvisSamples, first: int) -> None:
        """``samples`` are the recording's from index ``first`` on."""
        pos, end = first, first + len(samples)
        while pos < end:
            if self._skip_until is not None:
                pos = min(self._skip_until, end)
                if pos == self._skip_until:
                    self._skip_until = None
                continue
            while self._breaks and self._breaks[0] < pos:
                self._breaks.pop(0)  # within a skipped stretch: the restart happened already
            cut = min([end, *self._breaks[:1], *(s.lo for s in self._skips[:1])])
            if cut > pos:
                self._take(self._classifier.update(samples.slice(pos - first, cut - first)))
                pos = cut
            if pos == end:
                break
            if self._breaks and self._breaks[0] == pos:
                self._breaks.pop(0)
                self._restart()
            if self._skips and self._skips[0].lo == pos:
                skip = self._skips.pop(0)
                self._restart()
                self._mark(skip.stretch)
                self._skip_until = skip.hi

    def _restart(self) -> None:
        self._take(self._classifier.flush())
        self._classifier = PostureClassifier(self._config, heading_known=self._heading_known)

    def _mark(self, stretch: NonWear) -> None:
        """A snapshot a second through a non-wear stretch: no posture, no bout, no tilt."""
        last = self._snapshots[-1].t if self._snapshots else -math.inf
        first = max(1, math.floor(last - stretch.start) + 1)
        for k in range(first, math.floor(stretch.duration_s) + 1):
            self._snapshots.append(non_wear_snapshot(stretch.start + k))

    def _take(self, update: PostureUpdate) -> None:
        self._snapshots.extend(update.snapshots)
        self._transitions.extend(update.transitions)

    def finish(self) -> PostureUpdate:
        self._take(self._classifier.flush())
        for skip in self._skips:  # stretches after the last sample fed (none in practice)
            self._mark(skip.stretch)
        return PostureUpdate(tuple(self._snapshots), tuple(self._transitions))
