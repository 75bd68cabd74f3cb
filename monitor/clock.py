"""Map the sensor's clock onto the host's, correcting for drift between the two crystals.

Each notification gives one pair (sensor time of its last sample, host receive time). Radio
latency only ever adds delay, so the *smallest* offsets in a window are the truest; a line
through the per-window minima gives the offset now and its slope, the drift in ppm.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt


@dataclass(slots=True)
class SensorClockMapper:
    window_s: float = 5.0  # one minimum per window of sensor time
    history_windows: int = 120  # fit over the last 10 minutes
    # When the "sensor clock" is only a sample count (samples placed by arrival), lost samples
    # would otherwise pass for a slow clock: bound the drift to what crystals do.
    max_drift_ppm: float | None = None
    _window_start: float | None = None
    _window_min: tuple[float, float] | None = None
    _minima: deque[tuple[float, float]] = field(default_factory=deque)
    _intercept: float = 0.0
    _slope: float = 0.0
    _ready: bool = False

    def observe(self, sensor_time: float, host_time: float) -> None:
        """Record one (sensor, host) pair: the host received the sample dated sensor_time."""
        offset = host_time - sensor_time
        if self._window_start is None:
            self._window_start = sensor_time
        if sensor_time - self._window_start >= self.window_s and self._window_min is not None:
            self._minima.append(self._window_min)
            if len(self._minima) > self.history_windows:
                self._minima.popleft()
            self._window_start = sensor_time
            self._window_min = None
            self._fit()
        if self._window_min is None or offset < self._window_min[1]:
            self._window_min = (sensor_time, offset)
        if not self._ready:
            # Before the first window closes, trust the best offset seen so far.
            self._intercept, self._slope = self._window_min[1], 0.0
            self._ready = True
        elif len(self._minima) == 0 and offset < self._intercept:
            self._intercept = offset

    def _fit(self) -> None:
        points = np.array(self._minima)
        if len(points) < 3:
            self._intercept = float(points[:, 1].min())
            self._slope = 0.0
            return
        t, offsets = points[:, 0], points[:, 1]
        slope, intercept = np.polyfit(t - t[-1], offsets, 1)
        if self.max_drift_ppm is not None:
            bound = self.max_drift_ppm * 1e-6
            if abs(slope) > bound:
                slope = float(np.clip(slope, -bound, bound))
                intercept = float(np.mean(offsets - slope * (t - t[-1])))
        self._slope = float(slope)
        self._intercept = float(intercept - slope * t[-1])

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
        self._window_start = None
        self._window_min = None
        self._minima.clear()
        self._intercept = self._slope = 0.0
        self._ready = False
