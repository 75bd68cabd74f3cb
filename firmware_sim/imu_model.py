"""IMU error model: mounting, noise, biases, scale errors, int16 quantisation and clock drift.

Everything random is drawn from the seed alone, and the per-sample noise is drawn per fixed block
of samples from a seed derived from (seed, block index), so any chunking of the stream gives the
same numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np
from numpy.typing import ArrayLike, NDArray

from firmware_sim.motion import G0, FloatArray

ACC_RANGES_G: tuple[int, ...] = (2, 4, 8, 16)
GYR_RANGES_DPS: tuple[int, ...] = (125, 250, 500, 1000, 2000)
INT16_MIN = -32768
INT16_MAX = 32767

# stream ids mixed into the seed so that independent draws never share a random stream
_STREAM_ERRORS = 0x1A
_STREAM_NOISE = 0x2B
_STREAM_DRIFT = 0x3C
_STREAM_MOUNTING = 0x4D

_DRIFT_KNOT_S = 10.0  # the slow bias wander is defined on a 10 s grid of sensor time
_DRIFT_BLOCK = 1024  # knots generated per random block


def _rng(*key: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(list(key))))


@dataclass(frozen=True, slots=True)
class ImuErrors:
    """Error magnitudes of a consumer MEMS IMU. Concrete biases and scales are drawn per seed.

    Noise figures are the RMS per sample at 100 Hz (output bandwidth ≈ half the rate); at other
    rates they scale with sqrt(rate / 100) as white noise does.
    """

    acc_noise: float = 0.006  # m/s² RMS per sample at 100 Hz
    gyr_noise: float = 0.003  # rad/s RMS per sample at 100 Hz
    gyr_bias_dps: float = 1.0  # constant turn-on bias, each axis uniform in ±this
    gyr_bias_drift_dps: float = 0.2  # RMS of the slow wander (first-order Gauss-Markov)
    gyr_bias_tau_s: float = 3 * 3600.0  # its correlation time
    acc_bias: float = 0.15  # m/s², each axis uniform in ±this
    acc_scale: float = 0.015  # relative, each axis uniform in ±this
    gyr_scale: float = 0.0  # relative, each axis uniform in ±this (off by default)
    clock_drift_ppm: float = 30.0  # sensor clock fast (+) or slow (−) against true time

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not math.isfinite(value):
                raise ValueError(f"{f.name} must be finite")
            if f.name != "clock_drift_ppm" and value < 0.0:
                raise ValueError(f"{f.name} must be non-negative")
        if self.gyr_bias_tau_s <= 0.0:
            raise ValueError("gyr_bias_tau_s must be positive")
        if abs(self.clock_drift_ppm) >= 1e4:
            raise ValueError("clock_drift_ppm is implausibly large")

    @classmethod
    def ideal(cls) -> ImuErrors:
        """No errors at all (int16 quantisation still applies: it is part of the data format)."""
        return cls(
            acc_noise=0.0,
            gyr_noise=0.0,
            gyr_bias_dps=0.0,
            gyr_bias_drift_dps=0.0,
            acc_bias=0.0,
            acc_scale=0.0,
            gyr_scale=0.0,
            clock_drift_ppm=0.0,
        )


def acc_lsb(range_g: int) -> float:
    """m/s² per count for a full-scale range of ±range_g."""
    if range_g not in ACC_RANGES_G:
        raise ValueError(f"acc range must be one of {ACC_RANGES_G} g, got {range_g}")
    return range_g * G0 / 32768.0


def gyr_lsb(range_dps: int) -> float:
    """rad/s per count for a full-scale range of ±range_dps."""
    if range_dps not in GYR_RANGES_DPS:
        raise ValueError(f"gyro range must be one of {GYR_RANGES_DPS} dps, got {range_dps}")
    return math.radians(range_dps) / 32768.0


def quantize(values: ArrayLike, lsb: float) -> tuple[NDArray[np.int16], NDArray[np.bool_]]:
    """Round (N, 3) values to int16 counts; clip out-of-range ones and flag those rows."""
    counts = np.rint(np.asarray(values, dtype=np.float64) / lsb)
    over = (counts > INT16_MAX) | (counts < INT16_MIN)
    np.clip(counts, INT16_MIN, INT16_MAX, out=counts)
    saturated: NDArray[np.bool_] = np.asarray(over.any(axis=-1), dtype=np.bool_)
    return counts.astype(np.int16), saturated


def random_mounting(seed: int) -> FloatArray:
    """A uniformly random clip orientation ``q_PS`` (w ≥ 0): the clip may sit any way round."""
    q = _rng(seed, _STREAM_MOUNTING).standard_normal(4)
    q /= np.linalg.norm(q)
    return q if q[0] >= 0.0 else -q


class ImuErrorModel:
    """The errors of one particular chip: ``ImuErrors`` magnitudes realised from ``seed``."""

    def __init__(self, errors: ImuErrors, seed: int) -> None:
        if seed < 0:
            raise ValueError("seed must be non-negative")
        self.errors = errors
        self.seed = seed
        rng = _rng(seed, _STREAM_ERRORS)
        self.gyr_bias_const: FloatArray = np.radians(errors.gyr_bias_dps) * rng.uniform(-1, 1, 3)
        self.acc_bias: FloatArray = errors.acc_bias * rng.uniform(-1.0, 1.0, 3)
        self.acc_scale: FloatArray = 1.0 + errors.acc_scale * rng.uniform(-1.0, 1.0, 3)
        self.gyr_scale: FloatArray = 1.0 + errors.gyr_scale * rng.uniform(-1.0, 1.0, 3)
        self.clock_drift_ppm = errors.clock_drift_ppm
        self._drift_blocks: list[FloatArray] = []
        self._drift_state = np.zeros(3)
        self._knots = np.zeros((0, 3))

    def true_time(self, sensor_time: ArrayLike) -> FloatArray:
        """True (world) time of a sensor timestamp: a fast clock has counted more seconds."""
        return np.asarray(sensor_time, dtype=np.float64) / (1.0 + self.clock_drift_ppm * 1e-6)

    def _drift_knots(self, upto: int) -> FloatArray:
        # Gauss-Markov wander on a fixed grid, extended block by block and cached: the value at a
        # knot depends only on the seed and the knot index
        e = self.errors
        a = math.exp(-_DRIFT_KNOT_S / e.gyr_bias_tau_s)
        sigma = math.radians(e.gyr_bias_drift_dps) * math.sqrt(1.0 - a * a)
        while len(self._drift_blocks) * _DRIFT_BLOCK <= upto:
            k = len(self._drift_blocks)
            steps = _rng(self.seed, _STREAM_DRIFT, k).standard_normal((_DRIFT_BLOCK, 3)) * sigma
            block = np.empty((_DRIFT_BLOCK, 3))
            x = self._drift_state
            for i in range(_DRIFT_BLOCK):
                block[i] = x
                x = a * x + steps[i]
            self._drift_state = x
            self._drift_blocks.append(block)
            self._knots = np.concatenate(self._drift_blocks)
        return self._knots

    def gyro_bias(self, sensor_time: ArrayLike) -> FloatArray:
        """True gyro bias (N, 3) in rad/s, sensor frame, at the given sensor times."""
        ts = np.maximum(np.asarray(sensor_time, dtype=np.float64).reshape(-1), 0.0)
        bias = np.broadcast_to(self.gyr_bias_const, (ts.size, 3)).copy()
        if self.errors.gyr_bias_drift_dps == 0.0 or ts.size == 0:
            return bias
        pos = ts / _DRIFT_KNOT_S
        i = np.floor(pos).astype(np.int64)
        frac = (pos - i)[:, None]
        knots = self._drift_knots(int(i.max()) + 1)
        bias += knots[i] * (1.0 - frac) + knots[i + 1] * frac
        return bias

    def apply(
        self,
        block_index: int,
        sensor_time: FloatArray,
        rate_hz: float,
        omega_S: FloatArray,
        force_S: FloatArray,
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Corrupt one block of ideal sensor-frame signals: returns (gyr, acc, true gyro bias).

        Every call for block ``block_index`` must pass that block's full, fixed-size arrays so
        that the noise stream is the same however the caller slices the output afterwards.
        """
        e = self.errors
        n = sensor_time.size
        bias = self.gyro_bias(sensor_time)
        gyr = omega_S * self.gyr_scale + bias
        acc = force_S * self.acc_scale + self.acc_bias
        if e.acc_noise > 0.0 or e.gyr_noise > 0.0:
            noise = _rng(self.seed, _STREAM_NOISE, block_index).standard_normal((n, 6))
            k = math.sqrt(rate_hz / 100.0)
            gyr += noise[:, :3] * (e.gyr_noise * k)
            acc += noise[:, 3:] * (e.acc_noise * k)
        return gyr, acc, bias


__all__ = [
    "ACC_RANGES_G",
    "GYR_RANGES_DPS",
    "INT16_MAX",
    "INT16_MIN",
    "ImuErrorModel",
    "ImuErrors",
    "acc_lsb",
    "gyr_lsb",
    "quantize",
    "random_mounting",
]
