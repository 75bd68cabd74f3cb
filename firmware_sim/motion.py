"""Ground-truth pelvis motion: orientation, angular velocity and specific force over time.

A scenario is a list of :class:`Segment` s (sit, stand, walk, lie, transition). ``MotionModel``
compiles it once into smooth analytic signals and can then be evaluated at *any* time array:

- posture angles (sagittal, frontal) and the path heading are sums of quintic "smoothstep" ramps
  (posture changes, slump drift, fidgets, turns, transitions), so their first and second
  derivatives are exact;
- slow sway is a sum of sinusoids; walking adds stride-locked harmonics under a smooth envelope;
- the pelvis (sensor point) position is forward progression along the path heading plus a
  displacement in the path frame (sit/stand height and fore-aft shifts, gait oscillations).

Angular velocity comes from the exact z-y-x Euler-rate relation and specific force from the exact
second derivative of the position, so integrating the gyro reproduces the orientation up to the
integrator's own error. Frames and angle signs follow docs/conventions.md.

Nothing here depends on the chunking of the time array, which is what lets the streaming sensor
and the batch simulation produce the same bytes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

import numpy as np
from numpy.typing import ArrayLike, NDArray

G0 = 9.80665  # standard gravity, m/s²

FloatArray = NDArray[np.float64]
_DEG = math.pi / 180.0


class Activity(IntEnum):
    """What the wearer is doing (ground-truth label per sample)."""

    SITTING = 0
    STANDING = 1
    WALKING = 2
    LYING = 3
    TRANSITION = 4
    NOT_WORN = 5  # the sensor is off the body, lying still (on a desk, in a bag)


class TiltZone(IntEnum):
    """The posture the scenario *intends* (the label a posture classifier should produce).

    LEFT means the left side of the pelvis is lower (frontal < 0), RIGHT the right side
    (frontal > 0). NONE marks samples where a tilt zone does not apply (lying, transitions).
    """

    NEUTRAL = 0
    POSTERIOR = 1
    ANTERIOR = 2
    LEFT = 3
    RIGHT = 4
    NONE = 5


@dataclass(frozen=True, slots=True)
class Segment:
    """One stretch of a scenario.

    ``sagittal_deg``/``frontal_deg`` are the base posture the wearer settles in (fidgets, sway and
    gait ride on top), reached over ``ramp_s`` from the previous posture. A TRANSITION segment
    ignores its own targets: it moves from the previous segment's posture to the next one's with a
    shape chosen from the two activities (sit-down, stand-up, lie-down, get-up).
    """

    activity: Activity
    duration_s: float
    zone: TiltZone = TiltZone.NEUTRAL
    sagittal_deg: float = 0.0
    frontal_deg: float = 0.0
    ramp_s: float = 1.5
    speed_mps: float = 1.25  # walking only
    step_hz: float = 1.9  # walking only: steps per second (two steps per stride)
    turns: bool = True  # walking/standing/sitting: allow heading changes
    fidget: float = 1.0  # rate multiplier for fidgets, weight shifts and turns (0 = none)

    def __post_init__(self) -> None:
        if not self.duration_s > 0.0:
            raise ValueError(f"segment duration must be positive, got {self.duration_s}")
        if self.ramp_s < 0.0 or self.fidget < 0.0:
            raise ValueError("ramp_s and fidget must be non-negative")
        if self.activity is Activity.WALKING and not (
            0.0 < self.step_hz <= 4.0 and 0.0 <= self.speed_mps <= 3.0
        ):
            raise ValueError("walking needs 0 < step_hz <= 4 and 0 <= speed_mps <= 3")


# --- quaternions (w, x, y, z; Hamilton; q_AB takes B-frame vectors into A) ----------------------


def quat_multiply(a: ArrayLike, b: ArrayLike) -> FloatArray:
    """Hamilton product ``a ⊗ b`` (broadcasts over leading axes)."""
    qa = np.asarray(a, dtype=np.float64)
    qb = np.asarray(b, dtype=np.float64)
    aw, ax, ay, az = np.moveaxis(qa, -1, 0)
    bw, bx, by, bz = np.moveaxis(qb, -1, 0)
    return np.stack(
        [
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ],
        axis=-1,
    )


def quat_conjugate(q: ArrayLike) -> FloatArray:
    """Inverse rotation of a unit quaternion."""
    out = np.array(q, dtype=np.float64)
    out[..., 1:] *= -1.0
    return out


def quat_to_matrix(q: ArrayLike) -> FloatArray:
    """Rotation matrix (…, 3, 3) of unit quaternion(s) (…, 4)."""
    qa = np.asarray(q, dtype=np.float64)
    w, x, y, z = np.moveaxis(qa, -1, 0)
    return np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
            np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
            np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
        ],
        axis=-2,
    )


def quat_rotate(q: ArrayLike, v: ArrayLike) -> FloatArray:
    """``q ⊗ v ⊗ q*`` for vectors (…, 3)."""
    return np.einsum("...ij,...j->...i", quat_to_matrix(q), np.asarray(v, dtype=np.float64))


def quat_from_euler_zyx(heading: ArrayLike, sagittal: ArrayLike, frontal: ArrayLike) -> FloatArray:
    """``q_EP`` for ``R_EP = Rz(heading)·Ry(sagittal)·Rx(frontal)`` (radians), w ≥ 0 not forced."""
    hz = 0.5 * np.asarray(heading, dtype=np.float64)
    hy = 0.5 * np.asarray(sagittal, dtype=np.float64)
    hx = 0.5 * np.asarray(frontal, dtype=np.float64)
    cz, sz = np.cos(hz), np.sin(hz)
    cy, sy = np.cos(hy), np.sin(hy)
    cx, sx = np.cos(hx), np.sin(hx)
    return np.stack(
        [
            cz * cy * cx + sz * sy * sx,
            cz * cy * sx - sz * sy * cx,
            cz * sy * cx + sz * cy * sx,
            sz * cy * cx - cz * sy * sx,
        ],
        axis=-1,
    )


def tilt_from_quat(q_EP: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """(sagittal_deg, frontal_deg) of pelvis orientation(s), exactly as docs/conventions.md."""
    q = np.asarray(q_EP, dtype=np.float64)
    w, x, y, z = np.moveaxis(q, -1, 0)
    # third row of R_EP = earth up expressed in the pelvis frame
    ux = 2 * (x * z - w * y)
    uy = 2 * (y * z + w * x)
    uz = 1 - 2 * (x * x + y * y)
    return _tilt_from_up(ux, uy, uz)


def _tilt_from_up(ux: FloatArray, uy: FloatArray, uz: FloatArray) -> tuple[FloatArray, FloatArray]:
    sagittal = np.degrees(np.arctan2(-ux, np.hypot(uy, uz)))
    frontal = np.degrees(np.arctan2(uy, uz))
    return sagittal, frontal


# --- smooth building blocks ------------------------------------------------------------------


def _smoothstep(u: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Quintic 0→1 step on u ∈ [0, 1] with zero slope and curvature at both ends (C² joins)."""
    u2 = u * u
    s = u2 * u * (10.0 - 15.0 * u + 6.0 * u2)
    one_minus = 1.0 - u
    s1 = 30.0 * u2 * one_minus * one_minus
    s2 = 60.0 * u * one_minus * (1.0 - 2.0 * u)
    return s, s1, s2


class _RampTrack:
    """value(t) = value0 + Σ Δ_k·S((t − start_k)/dur_k), with exact 1st and 2nd derivatives.

    Ramps may overlap (a slump drift with fidgets on top); evaluation touches only the ramps
    active within the requested span, so cost does not grow with the length of the day.
    """

    __slots__ = ("_cum", "_deltas", "_durs", "_ends", "_ends_sorted", "_max_dur", "_starts", "v0")

    def __init__(self, value0: float, ramps: Sequence[tuple[float, float, float]]) -> None:
        arr = np.array(sorted(ramps), dtype=np.float64).reshape(-1, 3)
        self.v0 = float(value0)
        self._starts = arr[:, 0].copy()
        self._durs = arr[:, 1].copy()
        self._deltas = arr[:, 2].copy()
        if np.any(self._durs <= 0.0):
            raise ValueError("ramp durations must be positive")
        self._ends = self._starts + self._durs
        order = np.argsort(self._ends, kind="stable")
        self._ends_sorted = self._ends[order]
        self._cum = np.concatenate([[0.0], np.cumsum(self._deltas[order])])
        self._max_dur = float(self._durs.max()) if self._durs.size else 0.0

    def eval(self, t: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        n = t.size
        v = np.zeros(n)
        d1 = np.zeros(n)
        d2 = np.zeros(n)
        if n == 0:
            return v, d1, d2
        a, b = float(t[0]), float(t[-1])
        v += self.v0 + self._cum[np.searchsorted(self._ends_sorted, a, side="right")]
        lo = int(np.searchsorted(self._starts, a - self._max_dur, side="left"))
        hi = int(np.searchsorted(self._starts, b, side="left"))
        for k in (lo + np.nonzero(self._ends[lo:hi] > a)[0]).tolist():
            s, d, delta = self._starts[k], self._durs[k], self._deltas[k]
            i0 = int(np.searchsorted(t, s, side="right"))
            i1 = int(np.searchsorted(t, s + d, side="left"))
            if i1 > i0:
                sv, s1, s2 = _smoothstep((t[i0:i1] - s) / d)
                v[i0:i1] += delta * sv
                d1[i0:i1] += (delta / d) * s1
                d2[i0:i1] += (delta / (d * d)) * s2
            v[i1:] += delta
        return v, d1, d2

    def value_at_end(self) -> float:
        return self.v0 + float(self._cum[-1])


@dataclass(frozen=True, slots=True)
class _Harmonic:
    channel: int  # 0 sag, 1 frontal, 2 yaw (deg) | 3 x, 4 y, 5 z displacement (m)
    order: int  # multiple of the stride frequency (2 = step frequency)
    amplitude: float
    phase: float


@dataclass(frozen=True, slots=True)
class _WalkBout:
    start: float
    end: float  # math.inf when the walk is the last segment (held forever)
    ramp: float
    stride_hz: float
    speed: float
    harmonics: tuple[_Harmonic, ...]


# --- the evaluated state ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class MotionState:
    """Ground truth at the requested times (arrays have N rows)."""

    t: FloatArray  # s, true time
    q_EP: FloatArray
    sagittal_deg: FloatArray
    frontal_deg: FloatArray
    heading_deg: FloatArray  # pelvis heading, unwrapped
    activity: NDArray[np.int8]
    zone: NDArray[np.int8]
    omega_P: FloatArray
    specific_force_P: FloatArray
    accel_E: FloatArray
    velocity_E: FloatArray


# --- compiling segments into smooth signals --------------------------------------------------

_UPRIGHT, _SEATED, _LYING, _OFF = 0, 1, 2, 3
# sensor-point height and fore-aft offset per body class (relative to standing), m
_HEIGHT = {_UPRIGHT: 0.0, _SEATED: -0.42, _LYING: -0.55, _OFF: -0.25}  # _OFF: a desk top
_FORE_AFT = {_UPRIGHT: 0.0, _SEATED: -0.15, _LYING: -0.30, _OFF: 0.40}
_SWAY_GAIN = {
    Activity.STANDING: 1.0,
    Activity.SITTING: 0.7,
    Activity.WALKING: 0.4,
    Activity.LYING: 0.25,
    Activity.NOT_WORN: 0.0,  # a sensor at rest on a desk does not sway
}
# slow postural sway RMS per axis (sagittal, frontal, heading), degrees
_SWAY_RMS_DEG = (0.35, 0.3, 0.5)
_TRACKS = ("sag", "fro", "yaw", "dx", "dy", "dz", "sway")


def _body_class(activity: Activity) -> int:
    if activity is Activity.SITTING:
        return _SEATED
    if activity is Activity.LYING:
        return _LYING
    if activity is Activity.NOT_WORN:
        return _OFF
    return _UPRIGHT


class _Compiler:
    """Walks the segments once, turning them (plus seeded fidgets and turns) into ramps."""

    def __init__(self, segments: Sequence[Segment], rng: np.random.Generator) -> None:
        self.rng = rng
        self.segs = list(segments)
        self.ramps: dict[str, list[tuple[float, float, float]]] = {k: [] for k in _TRACKS}
        self.walks: list[_WalkBout] = []
        self.labels: list[tuple[float, int, int]] = []
        first = self.segs[0]
        self.cls = _body_class(first.activity)
        self.base = {"sag": first.sagittal_deg, "fro": first.frontal_deg}
        self.fid = {"sag": 0.0, "fro": 0.0}
        self.pos = {"dx": _FORE_AFT[self.cls], "dz": _HEIGHT[self.cls]}
        self.sway = _SWAY_GAIN.get(first.activity, 0.7)
        self.initial = {
            "sag": first.sagittal_deg,
            "fro": first.frontal_deg,
            "yaw": 0.0,
            "dx": self.pos["dx"],
            "dy": 0.0,
            "dz": self.pos["dz"],
            "sway": self.sway,
        }

    def ramp(self, track: str, start: float, dur: float, delta: float) -> None:
        if delta != 0.0:
            self.ramps[track].append((start, max(dur, 0.05), delta))

    def run(self) -> None:
        t = 0.0
        prev: Segment | None = None
        n = len(self.segs)
        for i, seg in enumerate(self.segs):
            last = i == n - 1
            nxt = self.segs[i + 1] if not last else None
            if seg.activity is Activity.TRANSITION:
                self.labels.append((t, int(Activity.TRANSITION), int(TiltZone.NONE)))
                self._transition(t, seg.duration_s, nxt)
            else:
                self._enter(t, seg, prev)
                self._events(t, seg, last)
            t += seg.duration_s
            prev = seg

    # posture change into a non-transition segment
    def _enter(self, t: float, seg: Segment, prev: Segment | None) -> None:
        label = (int(seg.activity), int(seg.zone))
        if prev is None or prev.activity is Activity.TRANSITION:
            self.labels.append((t, *label))
            self._set_sway(t, 1.0, seg.activity)
            return
        ramp = max(seg.ramp_s, 0.2)
        # a posture change within one activity is labelled from the middle of its ramp
        same = prev.activity is seg.activity
        self.labels.append((t + 0.5 * ramp if same else t, *label))
        cls = _body_class(seg.activity)
        reset_fidget = cls != self.cls
        for k, target in (("sag", seg.sagittal_deg), ("fro", seg.frontal_deg)):
            delta = target - self.base[k] - (self.fid[k] if reset_fidget else 0.0)
            self.ramp(k, t, ramp, delta)
            self.base[k] = target
            if reset_fidget:
                self.fid[k] = 0.0
        if cls != self.cls:
            self._move_body(t, ramp, cls)
        self._set_sway(t, ramp, seg.activity)

    def _move_body(self, t: float, dur: float, cls: int) -> None:
        for k, table in (("dx", _FORE_AFT), ("dz", _HEIGHT)):
            self.ramp(k, t, dur, table[cls] - self.pos[k])
            self.pos[k] = table[cls]
        self.cls = cls

    def _set_sway(self, t: float, dur: float, activity: Activity) -> None:
        gain = _SWAY_GAIN.get(activity, self.sway)
        self.ramp("sway", t, dur, gain - self.sway)
        self.sway = gain

    def _transition(self, t: float, dur: float, nxt: Segment | None) -> None:
        rng = self.rng
        if nxt is None:
            nxt = Segment(Activity.STANDING, 1.0)
        to_cls = _body_class(nxt.activity)
        from_cls = self.cls
        cur = {k: self.base[k] + self.fid[k] for k in ("sag", "fro")}
        tgt = {"sag": nxt.sagittal_deg, "fro": nxt.frontal_deg}
        if (
            _LYING not in (from_cls, to_cls)
            and _OFF not in (from_cls, to_cls)
            and from_cls != to_cls
        ):
            # sit-down / stand-up: the trunk pitches forward over the feet, so the pelvis
            # tilts anterior to a peak before settling into the new posture
            stand_up = to_cls == _UPRIGHT
            peak = max(cur["sag"], tgt["sag"]) + rng.uniform(12.0, 20.0)
            f_peak = 0.35 if stand_up else 0.45
            self.ramp("sag", t, f_peak * dur, peak - cur["sag"])
            self.ramp("sag", t + f_peak * dur, (1 - f_peak) * dur, tgt["sag"] - peak)
            self.ramp("fro", t, dur, tgt["fro"] - cur["fro"])
            if stand_up:
                self.ramp("dx", t, 0.6 * dur, _FORE_AFT[to_cls] - self.pos["dx"])
                self.ramp("dz", t + 0.3 * dur, 0.65 * dur, _HEIGHT[to_cls] - self.pos["dz"])
            else:
                self.ramp("dx", t + 0.1 * dur, 0.7 * dur, _FORE_AFT[to_cls] - self.pos["dx"])
                self.ramp("dz", t + 0.15 * dur, 0.7 * dur, _HEIGHT[to_cls] - self.pos["dz"])
                # the seat cushion stops the descent: a brief few-mm dip and rebound
                dip = rng.uniform(0.003, 0.008)
                self.ramp("dz", t + 0.85 * dur, 0.08, -dip)
                self.ramp("dz", t + 0.85 * dur + 0.08, 0.15, dip)
                self.ramp("yaw", t, dur, rng.uniform(-20.0, 20.0))
            self.pos["dx"] = _FORE_AFT[to_cls]
            self.pos["dz"] = _HEIGHT[to_cls]
            self.cls = to_cls
        else:
            # lying down, getting up, putting the sensor down or picking it up, or anything
            # else: one smooth move of everything
            for k in ("sag", "fro"):
                self.ramp(k, t, dur, tgt[k] - cur[k])
            if to_cls != from_cls:
                self.ramp("dx", t + 0.1 * dur, 0.8 * dur, _FORE_AFT[to_cls] - self.pos["dx"])
                self.ramp("dz", t + 0.2 * dur, 0.8 * dur, _HEIGHT[to_cls] - self.pos["dz"])
                self.pos["dx"] = _FORE_AFT[to_cls]
                self.pos["dz"] = _HEIGHT[to_cls]
                self.cls = to_cls
        self.base = dict(tgt)
        self.fid = {"sag": 0.0, "fro": 0.0}
        self._set_sway(t, dur, nxt.activity)

    # seeded small events inside a segment
    def _events(self, t0: float, seg: Segment, last: bool) -> None:
        t1 = t0 + seg.duration_s
        act = seg.activity
        if act is Activity.WALKING:
            self._walk(t0, seg, last)
        if seg.fidget <= 0.0:
            return
        rate = seg.fidget
        margin = max(seg.ramp_s, 0.5) + 0.5
        lo, hi = t0 + margin, t1 - 1.0
        if act is Activity.SITTING:
            self._shifts(lo, hi, 45.0 / rate, 1.2, 0.8, (0.6, 2.0))
            self._bumps("fro", lo, hi, 150.0 / rate, (1.5, 3.5), (2.0, 10.0), signed=True)
            self._bumps("sag", lo, hi, 240.0 / rate, (3.0, 8.0), (2.0, 6.0), signed=False)
            if seg.turns:
                self._turns(lo, hi, 150.0 / rate, (5.0, 60.0), 40.0)
        elif act is Activity.STANDING:
            self._shifts(lo, hi, 25.0 / rate, 0.8, 0.8, (0.8, 2.0))
            self._bumps("fro", lo, hi, 30.0 / rate, (2.0, 5.0), (3.0, 15.0), signed=True)
            if seg.turns:
                self._turns(lo, hi, 45.0 / rate, (10.0, 120.0), 70.0)
        elif act is Activity.LYING:
            self._shifts(lo, hi, 120.0 / rate, 1.0, 1.5, (1.0, 3.0))
        elif act is Activity.WALKING:
            lo, hi = t0 + 2.0, t1 - 2.0
            self._shifts(lo, hi, 20.0 / rate, 0.6, 0.4, (1.0, 2.5))
            if seg.turns:
                self._turns(lo, hi, 12.0 / rate, (30.0, 180.0), 140.0)
                self._turns(lo, hi, 6.0 / rate, (2.0, 15.0), 8.0)  # gentle curves

    def _times(self, lo: float, hi: float, mean_gap: float) -> list[float]:
        out: list[float] = []
        t = lo + self.rng.exponential(mean_gap)
        while t < hi:
            out.append(t)
            t += self.rng.exponential(mean_gap)
        return out

    def _shifts(
        self,
        lo: float,
        hi: float,
        mean_gap: float,
        sd_sag: float,
        sd_fro: float,
        dur: tuple[float, float],
    ) -> None:
        # settle into a slightly different version of the same posture (mean-reverting)
        busy = lo
        for t in self._times(lo, hi, mean_gap):
            if t < busy:
                continue
            d = self.rng.uniform(*dur)
            for k, sd in (("sag", sd_sag), ("fro", sd_fro)):
                new = float(self.rng.normal(0.0, sd))
                self.ramp(k, t, d, new - self.fid[k])
                self.fid[k] = new
            busy = t + d

    def _bumps(
        self,
        track: str,
        lo: float,
        hi: float,
        mean_gap: float,
        size: tuple[float, float],
        hold: tuple[float, float],
        *,
        signed: bool,
    ) -> None:
        # a weight shift or a reach: move away and come back
        busy = lo
        for t in self._times(lo, hi, mean_gap):
            if t < busy:
                continue
            amp = self.rng.uniform(*size)
            if signed and self.rng.random() < 0.5:
                amp = -amp
            d_in = self.rng.uniform(0.5, 1.2)
            d_hold = self.rng.uniform(*hold)
            d_out = self.rng.uniform(0.6, 1.5)
            if t + d_in + d_hold + d_out > hi:
                break
            self.ramp(track, t, d_in, amp)
            self.ramp(track, t + d_in + d_hold, d_out, -amp)
            busy = t + d_in + d_hold + d_out + 1.0

    def _turns(
        self, lo: float, hi: float, mean_gap: float, size: tuple[float, float], rate_dps: float
    ) -> None:
        busy = lo
        for t in self._times(lo, hi, mean_gap):
            if t < busy:
                continue
            ang = self.rng.uniform(*size) * (1 if self.rng.random() < 0.5 else -1)
            # quintic peak rate is 1.875·Δ/T; aim for about rate_dps at the peak
            d = max(0.8, 1.875 * abs(ang) / rate_dps) * self.rng.uniform(0.9, 1.3)
            if t + d > hi:
                break
            self.ramp("yaw", t, d, ang)
            busy = t + d + 0.5

    def _walk(self, t0: float, seg: Segment, last: bool) -> None:
        rng = self.rng
        end = math.inf if last else t0 + seg.duration_s
        ramp = min(1.5, 0.5 * seg.duration_s)
        stride = 0.5 * seg.step_hz
        # stride-locked pelvic oscillations (heel strike of the right foot at phase 0):
        # tilt at step frequency, obliquity and rotation at stride frequency; the pelvis is
        # lowest in double support and shifts over the stance leg.
        u = rng.uniform
        scale = seg.speed_mps / 1.25
        h = (
            _Harmonic(0, 2, u(1.0, 2.0), u(-0.4, 0.4) - 0.5 * math.pi),
            _Harmonic(1, 1, -u(2.5, 4.0), u(0.3, 0.8)),
            _Harmonic(1, 3, u(0.3, 0.8), u(0.0, 2 * math.pi)),
            _Harmonic(2, 1, u(3.0, 5.0), 0.5 * math.pi + u(-0.3, 0.3)),
            _Harmonic(3, 2, u(0.004, 0.008) * scale, u(-0.3, 0.3)),
            _Harmonic(4, 1, -u(0.015, 0.025), u(0.2, 0.6)),
            _Harmonic(5, 2, u(0.014, 0.019) * scale, -0.5 * math.pi + u(-0.2, 0.2)),
            _Harmonic(5, 4, u(0.0006, 0.0012), u(0.0, 2 * math.pi)),
        )
        self.walks.append(_WalkBout(t0, end, ramp, stride, seg.speed_mps, h))


def _envelope(
    t: FloatArray, start: float, end: float, ramp: float
) -> tuple[FloatArray, FloatArray, FloatArray]:
    up, up1, up2 = _smoothstep(np.clip((t - start) / ramp, 0.0, 1.0))
    env, env1, env2 = up, up1 / ramp, up2 / (ramp * ramp)
    if math.isfinite(end):
        dn, dn1, dn2 = _smoothstep(np.clip((t - (end - ramp)) / ramp, 0.0, 1.0))
        env, env1, env2 = env - dn, env1 - dn1 / ramp, env2 - dn2 / (ramp * ramp)
    return env, env1, env2


class MotionModel:
    """Pelvis ground truth for a list of segments, a pure function of (segments, seed, time).

    After the last segment the wearer keeps doing what that segment does (the posture is held,
    a final walk keeps walking straight), with sway continuing, so the model never runs out.
    """

    def __init__(self, segments: Sequence[Segment], seed: int = 0) -> None:
        if not segments:
            raise ValueError("a motion needs at least one segment")
        if seed < 0:
            raise ValueError("seed must be non-negative")
        self.segments: tuple[Segment, ...] = tuple(segments)
        self.seed = seed
        self.duration_s = float(sum(s.duration_s for s in self.segments))
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, 0x6D6F74])))
        comp = _Compiler(self.segments, rng)
        comp.run()
        self._tracks = {k: _RampTrack(comp.initial[k], comp.ramps[k]) for k in _TRACKS}
        self._walks = tuple(comp.walks)
        self._walk_starts = np.array([w.start for w in self._walks])
        self._walk_ends = np.array([w.end for w in self._walks])
        lab = sorted(comp.labels, key=lambda x: x[0])
        self._label_t = np.array([x[0] for x in lab])
        self._label_act = np.array([x[1] for x in lab], dtype=np.int8)
        self._label_zone = np.array([x[2] for x in lab], dtype=np.int8)
        # sway: three incommensurate slow sinusoids per axis, RMS as in _SWAY_RMS_DEG
        freqs = np.exp(rng.uniform(math.log(0.04), math.log(0.35), size=(3, 3)))
        weights = rng.uniform(0.6, 1.4, size=(3, 3))
        weights *= np.sqrt(2.0 / (weights**2).sum(axis=1, keepdims=True))
        self._sway_amp = weights * np.array(_SWAY_RMS_DEG)[:, None]
        self._sway_w = 2.0 * math.pi * freqs
        self._sway_phase = rng.uniform(0.0, 2.0 * math.pi, size=(3, 3))

    def evaluate(self, t: ArrayLike) -> MotionState:
        """Ground truth at true times ``t`` (1-D, non-decreasing)."""
        tt = np.ascontiguousarray(t, dtype=np.float64).reshape(-1)
        if tt.size > 1 and np.any(np.diff(tt) < 0.0):
            raise ValueError("times must be non-decreasing")
        n = tt.size
        sag, sag1, _ = self._tracks["sag"].eval(tt)
        fro, fro1, _ = self._tracks["fro"].eval(tt)
        psi, psi1, psi2 = self._tracks["yaw"].eval(tt)  # path heading (deg)
        dx = self._tracks["dx"].eval(tt)
        dy = self._tracks["dy"].eval(tt)
        dz = self._tracks["dz"].eval(tt)
        gain, gain1, _ = self._tracks["sway"].eval(tt)
        # heading of the pelvis relative to the path (gait rotation and sway), deg
        delta = np.zeros(n)
        delta1 = np.zeros(n)
        for axis, (ang, ang1) in enumerate(((sag, sag1), (fro, fro1), (delta, delta1))):
            for j in range(3):
                arg = self._sway_w[axis, j] * tt + self._sway_phase[axis, j]
                amp = self._sway_amp[axis, j]
                s = amp * np.sin(arg)
                ang += gain * s
                ang1 += gain1 * s + gain * (amp * self._sway_w[axis, j]) * np.cos(arg)
        speed = np.zeros(n)
        speed1 = np.zeros(n)
        if n and self._walks:
            self._add_gait(tt, (sag, sag1), (fro, fro1), (delta, delta1), dx, dy, dz, speed, speed1)

        th = sag * _DEG
        ph = fro * _DEG
        th1 = sag1 * _DEG
        ph1 = fro1 * _DEG
        heading = psi + delta
        yaw_rate = (psi1 + delta1) * _DEG
        q = quat_from_euler_zyx(heading * _DEG, th, ph)
        cth, sth = np.cos(th), np.sin(th)
        cph, sph = np.cos(ph), np.sin(ph)
        # body rates of R = Rz(ψ)Ry(θ)Rx(φ)
        omega = np.stack(
            [
                ph1 - yaw_rate * sth,
                th1 * cph + yaw_rate * cth * sph,
                -th1 * sph + yaw_rate * cth * cph,
            ],
            axis=-1,
        )
        # position = ∫ v·h(ψ) dt + Rz(ψ)·d, d in the path frame; differentiate exactly
        w1 = psi1 * _DEG
        w2 = psi2 * _DEG
        (x0, x1, x2), (y0, y1, y2), (_, z1, z2) = dx, dy, dz
        ax = speed1 + x2 - 2.0 * w1 * y1 - w2 * y0 - w1 * w1 * x0
        ay = w1 * speed + y2 + 2.0 * w1 * x1 + w2 * x0 - w1 * w1 * y0
        vx = speed + x1 - w1 * y0
        vy = y1 + w1 * x0
        cpsi, spsi = np.cos(psi * _DEG), np.sin(psi * _DEG)
        accel_E = np.stack([cpsi * ax - spsi * ay, spsi * ax + cpsi * ay, z2], axis=-1)
        velocity_E = np.stack([cpsi * vx - spsi * vy, spsi * vx + cpsi * vy, z1], axis=-1)
        # specific force in the pelvis frame: Rx(−φ)·Ry(−θ)·Rz(−δ)·(a_path + g·ẑ)
        cd, sd = np.cos(delta * _DEG), np.sin(delta * _DEG)
        bx = cd * ax + sd * ay
        by = -sd * ax + cd * ay
        bz = z2 + G0
        cx_ = cth * bx - sth * bz
        cz_ = sth * bx + cth * bz
        force = np.stack([cx_, cph * by + sph * cz_, -sph * by + cph * cz_], axis=-1)
        # truth tilt from the up vector exactly as the conventions define it
        sag_deg, fro_deg = _tilt_from_up(-sth, sph * cth, cph * cth)
        idx = np.searchsorted(self._label_t, tt, side="right") - 1
        idx = np.clip(idx, 0, None)
        return MotionState(
            t=tt,
            q_EP=q,
            sagittal_deg=sag_deg,
            frontal_deg=fro_deg,
            heading_deg=heading,
            activity=self._label_act[idx],
            zone=self._label_zone[idx],
            omega_P=omega,
            specific_force_P=force,
            accel_E=accel_E,
            velocity_E=velocity_E,
        )

    def _add_gait(
        self,
        t: FloatArray,
        sag: tuple[FloatArray, FloatArray],
        fro: tuple[FloatArray, FloatArray],
        yaw: tuple[FloatArray, FloatArray],
        dx: tuple[FloatArray, FloatArray, FloatArray],
        dy: tuple[FloatArray, FloatArray, FloatArray],
        dz: tuple[FloatArray, FloatArray, FloatArray],
        speed: FloatArray,
        speed1: FloatArray,
    ) -> None:
        a, b = float(t[0]), float(t[-1])
        angles = (sag, fro, yaw)
        disp = (dx, dy, dz)
        for k in np.nonzero((self._walk_starts < b) & (self._walk_ends > a))[0].tolist():
            w = self._walks[k]
            i0 = int(np.searchsorted(t, w.start, side="right"))
            i1 = int(np.searchsorted(t, w.end, side="left"))
            if i1 <= i0:
                continue
            tt = t[i0:i1]
            env, env1, env2 = _envelope(tt, w.start, w.end, w.ramp)
            speed[i0:i1] += w.speed * env
            speed1[i0:i1] += w.speed * env1
            omega = 2.0 * math.pi * w.stride_hz
            phase = omega * (tt - w.start)
            for h in w.harmonics:
                arg = h.order * phase + h.phase
                wk = h.order * omega
                s = h.amplitude * np.sin(arg)
                c = h.amplitude * wk * np.cos(arg)
                if h.channel < 3:
                    ang, ang1 = angles[h.channel]
                    ang[i0:i1] += env * s
                    ang1[i0:i1] += env1 * s + env * c
                else:
                    p0, p1, p2 = disp[h.channel - 3]
                    p0[i0:i1] += env * s
                    p1[i0:i1] += env1 * s + env * c
                    p2[i0:i1] += env2 * s + 2.0 * env1 * c - env * (wk * wk) * s


__all__ = [
    "G0",
    "Activity",
    "MotionModel",
    "MotionState",
    "Segment",
    "TiltZone",
    "quat_conjugate",
    "quat_from_euler_zyx",
    "quat_multiply",
    "quat_rotate",
    "quat_to_matrix",
    "tilt_from_quat",
]
