"""Pelvic tilt from raw samples: calibration → fusion → tilt angles, live and in batch.

``TiltTracker`` takes one batch at a time (a ``SampleBatch``'s ``acc``/``gyr``, sensor frame)
and returns sagittal/frontal degrees per sample; :func:`tilt_batch` does a whole recording and
gives the same numbers (for the causal estimators, bit for bit: tested). Steps per sample:

1. optional accelerometer calibration (``AccelCalibration``),
2. optional external gyroscope-bias tracking (``GyroBiasTracker``; VQF estimates bias itself,
   and the tracker measurably does not help it, docs/calibration.md, so it is off by default),
3. orientation ``q_ES`` from a ``monitor.fusion`` estimator (default "vqf"),
4. tilt from ``q_ES`` and the mounting ``q_PS`` (docs/conventions.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from calibration import AccelCalibration, GyroBiasTracker, MountingSegment
from monitor.fusion import DEFAULT_LIVE, DEFAULT_OFFLINE, make_estimator, tilt_deg
from monitor.fusion.base import FloatArray, OrientationEstimator


@dataclass(frozen=True, slots=True)
class TiltSamples:
    sagittal_deg: FloatArray  # (n,) anterior +
    frontal_deg: FloatArray  # (n,) right hip down +
    q_ES: FloatArray

    def __len__(self) -> int:
        return len(self.sagittal_deg)


def _mounting(q_PS: npt.ArrayLike) -> FloatArray:
    q = np.asarray(q_PS, dtype=np.float64).reshape(-1)
    if q.shape != (4,) or not np.all(np.isfinite(q)) or not np.linalg.norm(q) > 0:
        raise ValueError(f"q_PS must be a non-zero quaternion (w, x, y, z), got {q_PS!r}")
    return q / np.linalg.norm(q)


class TiltTracker:
    """Streaming tilt: ``update(acc, gyr)`` per batch → :class:`TiltSamples`."""

    def __init__(
        self,
        rate_hz: float,
        q_PS: npt.ArrayLike,
        *,
        estimator: str | OrientationEstimator = DEFAULT_LIVE,
        accel: AccelCalibration | None = None,
        bias_tracker: GyroBiasTracker | None = None,
    ) -> None:
        self.rate_hz = float(rate_hz)
        self.estimator = (
            make_estimator(estimator, rate_hz) if isinstance(estimator, str) else estimator
        )
        self.q_PS = _mounting(q_PS)
        self.accel = accel
        self.bias_tracker = bias_tracker
        self.samples = 0

    def set_mounting(self, q_PS: npt.ArrayLike) -> None:
        """A new clip position (re-alignment): applies from the next sample on."""
        self.q_PS = _mounting(q_PS)

    def update(self, acc: npt.ArrayLike, gyr: npt.ArrayLike | None) -> TiltSamples:
        a = np.asarray(acc, dtype=np.float64).reshape(-1, 3)
        g = None if gyr is None else np.asarray(gyr, dtype=np.float64).reshape(-1, 3)
        if self.accel is not None:
            a = self.accel.apply(a)
        if g is not None and self.bias_tracker is not None:
            g = self.bias_tracker.update(a, g)
        q = self.estimator.update(a, g)
        sagittal, frontal = tilt_deg(q, self.q_PS)
        self.samples += len(a)
        return TiltSamples(sagittal, frontal, q)


def _mounting_per_sample(mounting: npt.ArrayLike | Sequence[MountingSegment], n: int) -> FloatArray:
    if isinstance(mounting, Sequence) and mounting and isinstance(mounting[0], MountingSegment):
        segments = sorted(
            (s for s in mounting if isinstance(s, MountingSegment)), key=lambda s: s.start
        )
        out = np.empty((n, 4))
        out[:] = _mounting(segments[0].q_PS)
        for seg in segments[1:]:
            out[seg.start :] = _mounting(seg.q_PS)
        return out
    return _mounting(mounting)  # type: ignore[arg-type]  # a Sequence of segments is handled above


def tilt_batch(
    acc: npt.ArrayLike,
    gyr: npt.ArrayLike | None,
    rate_hz: float,
    mounting: npt.ArrayLike | Sequence[MountingSegment],
    *,
    offline: bool = False,
    estimator: str | None = None,
    accel: AccelCalibration | None = None,
    bias_tracker: GyroBiasTracker | None = None,
) -> TiltSamples:
    """Tilt for a whole recording. ``mounting`` is one ``q_PS`` or the segments of
    ``calibration.align_recording`` (a clip that moved during the recording).

    With ``offline=False`` and the same options this equals streaming the rows through
    :class:`TiltTracker` in any batch sizes. ``offline=True`` uses the offline estimator
    (looks ahead; more accurate for replays and analysis).
    """
    a = np.asarray(acc, dtype=np.float64).reshape(-1, 3)
    g = None if gyr is None else np.asarray(gyr, dtype=np.float64).reshape(-1, 3)
    if accel is not None:
        a = accel.apply(a)
    if g is not None and bias_tracker is not None:
        g = bias_tracker.update(a, g)
    name = estimator or (DEFAULT_OFFLINE if offline else DEFAULT_LIVE)
    est = make_estimator(name, rate_hz)
    if not offline and not est.causal:
        raise ValueError(f"{name} looks at future samples: pass offline=True to use it")
    q = est.update_batch(a, g)
    sagittal, frontal = tilt_deg(q, _mounting_per_sample(mounting, len(a)))
    return TiltSamples(sagittal, frontal, q)


__all__ = ["TiltSamples", "TiltTracker", "tilt_batch"]
