"""The simulated sensor: batch (``simulate``) and streaming (``SimulatedSensor``) views of a signal.

Both compute the signal in fixed blocks of ``BLOCK_SAMPLES`` samples aligned to the sensor's
sample index, so a stream read in any sizes returns exactly the counts ``simulate`` returns for
the same scenario, seed, rate, errors, mounting and ranges.

Time: sample ``i`` carries the sensor timestamp ``i / rate_hz``. The sensor clock runs
``clock_drift_ppm`` fast, so that sample is taken at true time ``i / rate_hz / (1 + ppm·1e-6)``,
which is where the motion ground truth is evaluated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from firmware_sim.imu_model import (
    ImuErrorModel,
    ImuErrors,
    acc_lsb,
    gyr_lsb,
    quantize,
    random_mounting,
)
from firmware_sim.motion import FloatArray, quat_to_matrix
from firmware_sim.scenarios import Scenario, build_scenario

BLOCK_SAMPLES = 8192


@dataclass(frozen=True, slots=True, eq=False)
class SimulatedRecording:
    """A whole simulated recording: what the sensor reported, and the truth behind it."""

    scenario: str
    seed: int
    rate_hz: float
    acc_range_g: int
    gyr_range_dps: int
    clock_drift_ppm: float
    errors: ImuErrors
    t: FloatArray  # (N,) sensor time, s
    t_true: FloatArray  # (N,) true time, s
    acc: FloatArray  # (N, 3) m/s², sensor frame, from the counts
    gyr: FloatArray  # (N, 3) rad/s, sensor frame, from the counts
    acc_counts: NDArray[np.int16]  # (N, 3)
    gyr_counts: NDArray[np.int16]  # (N, 3)
    saturated: NDArray[np.bool_]  # (N,) any axis of acc or gyro clipped
    q_EP: FloatArray
    sagittal_deg: FloatArray  # (N,)
    frontal_deg: FloatArray  # (N,)
    heading_deg: FloatArray  # (N,) pelvis heading, unwrapped
    activity: NDArray[np.int8]  # (N,) motion.Activity
    zone: NDArray[np.int8]  # (N,) motion.TiltZone
    mounting: FloatArray  # (4,) q_PS
    gyro_bias: FloatArray  # (N, 3) rad/s, true gyro bias in the sensor frame
    lever_arm_m: FloatArray = field(default_factory=lambda: np.zeros(3))  # clip position, P

    def __len__(self) -> int:
        return int(self.t.size)


@dataclass(frozen=True, slots=True, eq=False)
class SensorTruth:
    """Ground truth for the samples of one ``SimulatedSensor.read``."""

    t: FloatArray  # sensor time
    t_true: FloatArray
    q_EP: FloatArray
    sagittal_deg: FloatArray
    frontal_deg: FloatArray
    heading_deg: FloatArray
    activity: NDArray[np.int8]
    zone: NDArray[np.int8]
    gyro_bias: FloatArray
    saturated: NDArray[np.bool_]


@dataclass(frozen=True, slots=True, eq=False)
class _Block:
    t: FloatArray
    t_true: FloatArray
    acc: FloatArray
    gyr: FloatArray
    bias: FloatArray
    q_EP: FloatArray
    sagittal_deg: FloatArray
    frontal_deg: FloatArray
    heading_deg: FloatArray
    activity: NDArray[np.int8]
    zone: NDArray[np.int8]


_S = TypeVar("_S", bound=np.generic)


def _cat(arrays: list[NDArray[_S]], empty: NDArray[_S]) -> NDArray[_S]:
    return np.concatenate(arrays) if arrays else empty


def _unit_quat(q: ArrayLike) -> FloatArray:
    arr = np.asarray(q, dtype=np.float64).reshape(-1)
    norm = float(np.linalg.norm(arr)) if arr.size == 4 else 0.0
    if not (norm > 0.0 and math.isfinite(norm)):
        raise ValueError("mounting must be a non-zero quaternion (w, x, y, z)")
    arr = arr / norm
    return arr if arr[0] >= 0.0 else -arr


class _Source:
    """Scenario + IMU → float signals, one fixed block at a time."""

    def __init__(
        self,
        scenario: str,
        seed: int,
        rate_hz: float,
        errors: ImuErrors | None,
        mounting: ArrayLike | None,
        lever_arm_m: ArrayLike | None = None,
    ) -> None:
        if not (rate_hz > 0.0 and math.isfinite(rate_hz)):
            raise ValueError("rate_hz must be positive")
        self.lever_arm_m = _lever_arm(lever_arm_m)
        self.rate_hz = float(rate_hz)
        self.scenario: Scenario = build_scenario(scenario, seed)
        self.motion = self.scenario.motion()
        self.errors = errors if errors is not None else ImuErrors()
        self.imu = ImuErrorModel(self.errors, seed)
        self.mounting = random_mounting(seed) if mounting is None else _unit_quat(mounting)
        self._R_PS = quat_to_matrix(self.mounting)

    def _lever_arm_force(self, t_true: FloatArray, omega_P: FloatArray) -> FloatArray:
        """What a clip away from the pelvis's centre feels on top of it (pelvis frame).

        A point at ``r`` on a rigid body rotating at ω with angular acceleration α accelerates
        by α × r + ω × (ω × r) more than the centre; the gyroscope sees the same ω anywhere.
        α comes from a central difference of the motion model (exact enough at 1 ms, and the
        same whatever block a sample falls in, so streaming equals batch).
        """
        h = 1e-3
        alpha = (
            self.motion.evaluate(t_true + h).omega_P - self.motion.evaluate(t_true - h).omega_P
        ) / (2 * h)
        r = self.lever_arm_m
        return np.cross(alpha, r) + np.cross(omega_P, np.cross(omega_P, r))

    def block(self, k: int) -> _Block:
        t = np.arange(k * BLOCK_SAMPLES, (k + 1) * BLOCK_SAMPLES, dtype=np.float64) / self.rate_hz
        t_true = self.imu.true_time(t)
        st = self.motion.evaluate(t_true)
        force_P = st.specific_force_P
        if self.lever_arm_m.any():
            force_P = force_P + self._lever_arm_force(t_true, st.omega_P)
        # v_S = R_PSᵀ·v_P, written for row vectors
        omega_S = st.omega_P @ self._R_PS
        force_S = force_P @ self._R_PS
        gyr, acc, bias = self.imu.apply(k, t, self.rate_hz, omega_S, force_S)
        return _Block(
            t=t,
            t_true=t_true,
            acc=acc,
            gyr=gyr,
            bias=bias,
            q_EP=st.q_EP,
            sagittal_deg=st.sagittal_deg,
            frontal_deg=st.frontal_deg,
            heading_deg=st.heading_deg,
            activity=st.activity,
            zone=st.zone,
        )


def _lever_arm(value: ArrayLike | None) -> FloatArray:
    r = np.zeros(3) if value is None else np.asarray(value, dtype=np.float64).reshape(-1)
    if r.shape != (3,) or not np.all(np.isfinite(r)) or float(np.linalg.norm(r)) > 0.5:
        raise ValueError("lever_arm_m must be 3 finite numbers (m, pelvis frame), within 0.5 m")
    return r


def simulate(
    scenario: str,
    *,
    seed: int = 0,
    rate_hz: float = 100.0,
    duration_s: float | None = None,
    errors: ImuErrors | None = None,
    mounting: ArrayLike | None = None,
    acc_range_g: int = 8,
    gyr_range_dps: int = 500,
    lever_arm_m: ArrayLike | None = None,
) -> SimulatedRecording:
    """Simulate a whole recording of ``scenario`` (default: its own length; longer holds still).

    ``errors=None`` uses the default ``ImuErrors()``; ``mounting=None`` draws a random clip
    orientation from ``seed``. ``lever_arm_m`` places the clip away from the pelvis's centre
    (pelvis frame, metres: ``(0, 0.15, 0)`` is on the left hip), which adds the rotation's
    tangential and centripetal accelerations to what the accelerometer feels.
    """
    a_lsb = acc_lsb(acc_range_g)
    g_lsb = gyr_lsb(gyr_range_dps)
    src = _Source(scenario, seed, rate_hz, errors, mounting, lever_arm_m)
    dur = src.scenario.duration_s if duration_s is None else float(duration_s)
    if not (dur >= 0.0 and math.isfinite(dur)):
        raise ValueError("duration_s must be a non-negative number")
    n = round(dur * src.rate_hz)
    t = np.empty(n)
    t_true = np.empty(n)
    acc_counts = np.empty((n, 3), dtype=np.int16)
    gyr_counts = np.empty((n, 3), dtype=np.int16)
    saturated = np.empty(n, dtype=bool)
    q = np.empty((n, 4))
    sag = np.empty(n)
    fro = np.empty(n)
    heading = np.empty(n)
    activity = np.empty(n, dtype=np.int8)
    zone = np.empty(n, dtype=np.int8)
    bias = np.empty((n, 3))
    acc = np.empty((n, 3))
    gyr = np.empty((n, 3))
    for k in range(-(-n // BLOCK_SAMPLES)):
        lo = k * BLOCK_SAMPLES
        m = min(BLOCK_SAMPLES, n - lo)
        sl = slice(lo, lo + m)
        b = src.block(k)
        ac, a_sat = quantize(b.acc[:m], a_lsb)
        gc, g_sat = quantize(b.gyr[:m], g_lsb)
        acc_counts[sl] = ac
        gyr_counts[sl] = gc
        saturated[sl] = a_sat | g_sat
        acc[sl] = ac * a_lsb
        gyr[sl] = gc * g_lsb
        t[sl] = b.t[:m]
        t_true[sl] = b.t_true[:m]
        q[sl] = b.q_EP[:m]
        sag[sl] = b.sagittal_deg[:m]
        fro[sl] = b.frontal_deg[:m]
        heading[sl] = b.heading_deg[:m]
        activity[sl] = b.activity[:m]
        zone[sl] = b.zone[:m]
        bias[sl] = b.bias[:m]
    return SimulatedRecording(
        scenario=scenario,
        seed=seed,
        rate_hz=src.rate_hz,
        acc_range_g=acc_range_g,
        gyr_range_dps=gyr_range_dps,
        clock_drift_ppm=src.imu.clock_drift_ppm,
        errors=src.errors,
        t=t,
        t_true=t_true,
        acc=acc,
        gyr=gyr,
        acc_counts=acc_counts,
        gyr_counts=gyr_counts,
        saturated=saturated,
        q_EP=q,
        sagittal_deg=sag,
        frontal_deg=fro,
        heading_deg=heading,
        activity=activity,
        zone=zone,
        mounting=src.mounting.copy(),
        gyro_bias=bias,
        lever_arm_m=src.lever_arm_m.copy(),
    )


class SimulatedSensor:
    """The IMU as the firmware sees it: consecutive int16 samples, read in any sizes.

    Reads continue past the end of the scenario: the wearer then holds the last segment's
    activity (the posture is held, a final walk carries on straight), so a stream never runs dry.
    """

    def __init__(
        self,
        scenario: str,
        *,
        seed: int = 0,
        rate_hz: float = 100.0,
        errors: ImuErrors | None = None,
        mounting: ArrayLike | None = None,
        start_s: float = 0.0,
        lever_arm_m: ArrayLike | None = None,
    ) -> None:
        if not (start_s >= 0.0 and math.isfinite(start_s)):
            raise ValueError("start_s must be a non-negative number")
        self._src = _Source(scenario, seed, rate_hz, errors, mounting, lever_arm_m)
        self.scenario = scenario
        self.seed = seed
        self._index = round(start_s * self._src.rate_hz)
        self._cached: tuple[int, _Block] | None = None
        self.last_truth: SensorTruth | None = None

    @property
    def rate_hz(self) -> float:
        return self._src.rate_hz

    @property
    def clock_drift_ppm(self) -> float:
        return self._src.imu.clock_drift_ppm

    @property
    def mounting(self) -> FloatArray:
        """The true clip orientation ``q_PS``."""
        return self._src.mounting.copy()

    @property
    def duration_s(self) -> float:
        """Length of the scenario proper (reads beyond it hold the last activity)."""
        return self._src.scenario.duration_s

    @property
    def sample_index(self) -> int:
        """Index of the next sample ``read`` will return."""
        return self._index

    @property
    def time_s(self) -> float:
        """Sensor-clock time of the next sample."""
        return self._index / self._src.rate_hz

    def _block(self, k: int) -> _Block:
        if self._cached is None or self._cached[0] != k:
            self._cached = (k, self._src.block(k))
        return self._cached[1]

    def read(
        self, n: int, acc_range_g: int = 8, gyr_range_dps: int = 500
    ) -> tuple[NDArray[np.int16], NDArray[np.int16]]:
        """The next ``n`` samples as int16 counts (acc, gyro), each (n, 3)."""
        if n < 0:
            raise ValueError("n must be non-negative")
        a_lsb = acc_lsb(acc_range_g)
        g_lsb = gyr_lsb(gyr_range_dps)
        parts: list[tuple[_Block, slice]] = []
        idx, left = self._index, n
        while left > 0:
            k, off = divmod(idx, BLOCK_SAMPLES)
            take = min(left, BLOCK_SAMPLES - off)
            parts.append((self._block(k), slice(off, off + take)))
            idx += take
            left -= take
        self._index = idx

        acc_counts, a_sat = quantize(_cat([b.acc[s] for b, s in parts], np.empty((0, 3))), a_lsb)
        gyr_counts, g_sat = quantize(_cat([b.gyr[s] for b, s in parts], np.empty((0, 3))), g_lsb)
        empty = np.empty(0)
        self.last_truth = SensorTruth(
            t=_cat([b.t[s] for b, s in parts], empty),
            t_true=_cat([b.t_true[s] for b, s in parts], empty),
            q_EP=_cat([b.q_EP[s] for b, s in parts], np.empty((0, 4))),
            sagittal_deg=_cat([b.sagittal_deg[s] for b, s in parts], empty),
            frontal_deg=_cat([b.frontal_deg[s] for b, s in parts], empty),
            heading_deg=_cat([b.heading_deg[s] for b, s in parts], empty),
            activity=_cat([b.activity[s] for b, s in parts], np.empty(0, dtype=np.int8)),
            zone=_cat([b.zone[s] for b, s in parts], np.empty(0, dtype=np.int8)),
            gyro_bias=_cat([b.bias[s] for b, s in parts], np.empty((0, 3))),
            saturated=a_sat | g_sat,
        )
        return acc_counts, gyr_counts


__all__ = [
    "BLOCK_SAMPLES",
    "SensorTruth",
    "SimulatedRecording",
    "SimulatedSensor",
    "simulate",
]
