"""Map the sensor's clock onto the host's, correcting for drift between the two crystals.

Each notification gives one pair (sensor time of its last sample, host receive time). Radio
latency only ever adds delay, so the *smallest* offsets in a window are the truest; a line
through the per-window minima gives the offset now and its slope, the drift in ppm.

Three things keep the slope honest when the link is poor:

* Segments. Where the timeline goes on but its offset is not known exactly across a point (a
  sensor placed by arrival: after the link was down, the number of samples missed is inferred
  from the mapping itself), the stream starts a new segment. The drift is fitted within
  segments only (pooled, so long segments weigh most), never across a join, whose error would
  otherwise pass for drift and feed back into the next inference; the offset stays one line
  through all of them, so errors of the count do not add up.
* Late minima. The first packets of a connection can wait behind its set-up traffic, so a
  window with few packets may hold no on-time one: minima far above the fitted line are set
  aside before the final fit.
* What crystals do. An estimate whose standard error is large against the prior spread of
  crystals (``prior_drift_ppm``) is shrunk toward zero in proportion, so a short or choppy
  stream reports "about nominal" rather than hundreds of ppm of noise.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

# Minima more than this many robust spreads above the fitted line are taken as late.
_LATE_SPREADS = 3.0
# Floor of that spread, s: below a few hundred µs the spread measures nothing real.
_MIN_SPREAD_S = 2e-4


@dataclass(slots=True)
class SensorClockMapper:
    window_s: float = 5.0  # one minimum per window of sensor time
    history_windows: int = 120  # fit over the last 10 minutes
    # When the "sensor clock" is only a sample count (samples placed by arrival), lost samples
    # would otherwise pass for a slow clock: bound the drift to what crystals do.
    max_drift_ppm: float | None = None
    # The spread of crystal error tiltmon expects before measuring (±50 ppm is a common
    # tolerance); a fit much less certain than this is shrunk toward zero.
    prior_drift_ppm: float = 50.0
    _segment: int = 0
    _window_start: float | None = None
    _window_min: tuple[float, float] | None = None
    _minima: deque[tuple[int, float, float]] = field(default_factory=deque)  # segment, t, offset
    _intercept: float = 0.0
    _slope: float = 0.0
    _ready: bool = False

    def observe(self, sensor_time: float, host_time: float) -> None:
        """Record one (sensor, host) pair: the host received the sample dated sensor_time."""
        offset = host_time - sensor_time
        if self._window_start is None:
            self._window_start = sensor_time
        if sensor_time - self._window_start >= self.window_s and self._window_min is not None:
            self._close_window()
            self._window_start = sensor_time
            self._fit()
        if self._window_min is None or offset < self._window_min[1]:
            self._window_min = (sensor_time, offset)
        if not self._minima:
            # Until the first window closes, trust the best offset seen so far.
            t, best = self._window_min
            self._intercept = best - self._slope * t
        self._ready = True

    def new_segment(self) -> None:
        """From here the offset starts afresh: fit the drift within segments, not across."""
        if self._window_min is not None:
            self._close_window()
        self._segment += 1
        self._window_start = None

    def _close_window(self) -> None:
        assert self._window_min is not None
        t, offset = self._window_min
        self._minima.append((self._segment, t, offset))
        if len(self._minima) > self.history_windows:
            self._minima.popleft()
        self._window_min = None

    def _fit(self) -> None:
        points = np.array(self._minima, dtype=np.float64)
        segment, t, offsets = points[:, 0], points[:, 1], points[:, 2]
        fitted = _within_segments(segment, t, offsets)
        if fitted is not None:
            slope, _ = fitted
            late = offsets - slope * t - _segment_means(segment, offsets - slope * t)
            spread = max(_MIN_SPREAD_S, 1.4826 * float(np.median(np.abs(late - np.median(late)))))
            keep = late <= _LATE_SPREADS * spread
            if keep.sum() < len(keep):
                fitted = _within_segments(segment[keep], t[keep], offsets[keep]) or fitted
                segment, t, offsets = segment[keep], t[keep], offsets[keep]
            slope, error = fitted
            prior = self.prior_drift_ppm * 1e-6
            slope *= prior**2 / (prior**2 + error**2)
            if self.max_drift_ppm is not None:
                bound = self.max_drift_ppm * 1e-6
                slope = float(np.clip(slope, -bound, bound))
            self._slope = float(slope)
        # One offset for all segments, the line through their minima at the fitted slope: a
        # segment whose count came out a sample long sits below it, so the next inference,
        # made against this line, gives the sample back (a line per segment would keep it).
        self._intercept = float(np.mean(offsets - self._slope * t))

    @property
    def ready(self) -> bool:
        return self._ready

    @property
    def drift_ppm(self) -> float:
        """How much faster the host clock runs than the sensor's, in parts per million."""
        return self._slope * 1e6

    def to_host(self, sensor_time: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return sensor_time + self._intercept + self._slope * sensor_time

    def reset(self) -> None:
        self._segment = 0
        self._window_start = None
        self._window_min = None
        self._minima.clear()
        self._intercept = self._slope = 0.0
        self._ready = False


def _segment_means(
    segment: npt.NDArray[np.float64], values: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """Each value's segment mean, in place of the value."""
    _, inverse, counts = np.unique(segment, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=values)
    means: npt.NDArray[np.float64] = (sums / counts)[inverse]
    return means


def _within_segments(
    segment: npt.NDArray[np.float64], t: npt.NDArray[np.float64], y: npt.NDArray[np.float64]
) -> tuple[float, float] | None:
    """The slope of y on t with an intercept per segment, and its standard error.

    None when no segment spans two points or nothing is left to measure the scatter by.
    """
    tc = t - _segment_means(segment, t)
    yc = y - _segment_means(segment, y)
    sxx = float(np.dot(tc, tc))
    segments = len(np.unique(segment))
    freedom = len(t) - segments - 1
    if sxx <= 0.0 or freedom < 1:
        return None
    slope = float(np.dot(tc, yc)) / sxx
    residual = yc - slope * tc
    scatter = float(np.dot(residual, residual)) / freedom
    return slope, float(np.sqrt(scatter / sxx))
