"""Gyroscope bias: from rest, and tracked while the sensor is worn (it drifts over hours).

The tracker works on fixed blocks of samples counted from the first one, so streaming any batch
sizes gives exactly the numbers of a batch run. Each block whose accelerometer and gyroscope
barely vary is a rest block; its mean gyroscope reading nudges the bias estimate with a time
constant of ``tau_s`` seconds *of rest* (postural sway averages out over that long).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from calibration.rotation import FloatArray


@dataclass(frozen=True, slots=True)
class BiasTrackerParams:
    block_s: float = 1.0  # rest is judged per block of this length
    acc_spread: float = 0.06  # m/s², RMS spread of the acc vector within a rest block
    gyr_spread: float = 0.02  # rad/s, RMS spread of the gyro vector within a rest block
    max_rate: float = math.radians(5.0)  # |mean gyro| above this is a turn, not a bias
    tau_s: float = 120.0  # rest time over which a new bias replaces the old


class GyroBiasTracker:
    """Streaming gyroscope-bias estimate; ``update`` returns the bias-corrected gyroscope."""

    def __init__(
        self,
        rate_hz: float,
        params: BiasTrackerParams | None = None,
        initial_bias: npt.ArrayLike = (0.0, 0.0, 0.0),
    ) -> None:
        if not (rate_hz > 0 and math.isfinite(rate_hz)):
            raise ValueError(f"rate_hz must be a finite number > 0, got {rate_hz!r}")
        self.rate_hz = float(rate_hz)
        self.params = params if params is not None else BiasTrackerParams()
        self.block = max(round(self.params.block_s * rate_hz), 2)
        self.bias: FloatArray = np.array(initial_bias, dtype=np.float64)
        self.rest_seconds = 0.0
        self._acc = np.empty((0, 3))
        self._gyr = np.empty((0, 3))

    def update(self, acc: npt.ArrayLike, gyr: npt.ArrayLike) -> FloatArray:
        """Feed (n, 3) samples; returns ``gyr − bias`` with the bias known before each block.

        The correction uses the estimate from completed blocks only, so it never looks ahead.
        """
        a = np.asarray(acc, dtype=np.float64).reshape(-1, 3)
        g = np.asarray(gyr, dtype=np.float64).reshape(-1, 3)
        out = np.empty_like(g)
        pos = 0
        while pos < len(g):
            take = min(self.block - len(self._gyr), len(g) - pos)
            out[pos : pos + take] = g[pos : pos + take] - self.bias
            self._acc = np.concatenate([self._acc, a[pos : pos + take]])
            self._gyr = np.concatenate([self._gyr, g[pos : pos + take]])
            pos += take
            if len(self._gyr) == self.block:
                self._close_block()
        return out

    def _close_block(self) -> None:
        p = self.params
        a, g = self._acc, self._gyr
        self._acc = np.empty((0, 3))
        self._gyr = np.empty((0, 3))
        if not (np.all(np.isfinite(a)) and np.all(np.isfinite(g))):
            return
        acc_spread = math.sqrt(float(np.sum(np.var(a, axis=0))))
        gyr_spread = math.sqrt(float(np.sum(np.var(g, axis=0))))
        mean = g.mean(axis=0)
        if acc_spread > p.acc_spread or gyr_spread > p.gyr_spread:
            return
        if float(np.linalg.norm(mean - self.bias)) > p.max_rate:
            return
        seconds = len(g) / self.rate_hz
        # The first rest seconds count fully (a fresh estimate), later ones blend in slowly.
        self.rest_seconds += seconds
        weight = seconds / min(self.rest_seconds, p.tau_s)
        self.bias = self.bias + weight * (mean - self.bias)


def bias_at_rest(gyr: npt.ArrayLike) -> FloatArray:
    """Gyroscope bias from a still stretch: the mean reading (rad/s)."""
    return np.asarray(gyr, dtype=np.float64).reshape(-1, 3).mean(axis=0)


__all__ = ["BiasTrackerParams", "GyroBiasTracker", "bias_at_rest"]
