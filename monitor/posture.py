"""Posture and sitting detection: pelvis-frame IMU samples in, per-second activity out.

Each 1 s frame is sitting, standing, walking, lying or unknown; transitions (stand-to-sit,
sit-to-stand, to and from lying) are events; sitting bouts end only with a real break (upright for
``break_s``); tilt zones have hysteresis and a sustained-tilt timer. The method (docs/posture.md):

- **lying**: inclination of the pelvis (angle between pelvis up and earth up) above ``lying_deg``,
  left again below ``lying_exit_deg``;
- **walking**: the vertical acceleration over the last ``walk_window_s`` has a standard deviation
  of at least ``walk_std`` and at least ``walk_band_frac`` of its variance at step frequencies
  (``walk_band_hz``); walking means upright, so the upright state becomes standing;
- **sitting vs standing**: a still, upright frame keeps the current state (hysteresis). The state
  changes only at the end of a *movement burst* that looks like a postural transition (at least
  ``transition_rot_deg`` of rotation about horizontal axes: the pitch of a sit-down or stand-up),
  when the pelvis moved down/up by ``height_change_m`` or the new still orientation is away
  from / back at the wearer's standing prototype (``stand_match_deg``).

Pure: numpy only, no I/O; time is the samples' own. :class:`PostureClassifier` streams batches
(any sizes); :func:`classify` runs whole arrays through the same code, so both give identical
results.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, fields

import numpy as np
import numpy.typing as npt

from monitor.activity import ActivitySnapshot, Posture, TiltZone, Transition, TransitionKind
from monitor.errors import MonitorError

FloatArray = npt.NDArray[np.float64]
Vec3 = tuple[float, float, float]

G = 9.80665  # m/s², standard gravity
_BLOCK_FRAMES = 1024  # frames whose features are computed together (bounds the memory used)


class PostureConfigError(MonitorError, ValueError):
    """A :class:`PostureConfig` field is out of range, or the samples are unusable."""


@dataclass(frozen=True, slots=True)
class PostureConfig:
    """Settings of the posture state machine (defaults documented in docs/posture.md)."""

    frame_s: float = 1.0  # decision period; one snapshot per frame
    # lying: inclination of pelvis up from earth up, with hysteresis
    lying_deg: float = 65.0
    lying_exit_deg: float = 50.0
    # walking: vertical acceleration over the last walk_window_s
    walk_window_s: float = 2.0
    walk_std: float = 1.2  # m/s², standard deviation of the vertical acceleration
    walk_band_hz: tuple[float, float] = (0.6, 5.0)  # steps, strides and their harmonics
    walk_band_frac: float = 0.3  # fraction of the variance in that band
    # Steps repeat: the vertical acceleration's autocorrelation at a step or stride period
    # (0.3–1.4 s). Vigorous movement (walk_std) must show some of it (a drop into a chair does
    # not); gentle gait (slow, shuffling), down to slow_walk_std, must show it clearly
    # (fidgets and weight shifts of that size do not repeat).
    walk_step_period_s: tuple[float, float] = (0.3, 1.4)
    walk_periodicity: float = 0.0
    slow_walk_std: float = 0.35
    slow_walk_periodicity: float = 0.5
    walk_max_incl_deg: float = 35.0  # walking is upright (even a stooped gait)
    # walking this long means upright (shorter runs may be a sit-down or stand-up)
    walk_confirm_s: float = 4.0
    # movement (a frame that is not still): horizontal gyro RMS or |acc| standard deviation
    move_gyr: float = 0.12  # rad/s
    move_acc: float = 0.35  # m/s²
    # a burst is a postural transition if it rotated at least this much about horizontal axes
    transition_rot_deg: float = 20.0
    # upright-still posture with no learned prototype: sitting if inclined this much
    sit_tilt_deg: float = 20.0
    # standing = within this of the standing prototype (learned from still standing frames)
    stand_match_deg: float = 5.0
    # a sit-down / stand-up moves the pelvis ~0.4 m: a burst's height change beyond this decides
    height_change_m: float = 0.2
    # sitting → standing needs the orientation to move at least this much
    min_change_deg: float = 3.0
    # a sit-down's drop is looked for in the first seconds of a burst (it settles afterwards)
    descent_window_s: float = 3.0
    prototype_alpha: float = 0.2  # EMA weight of each still frame in the posture prototypes
    # sitting bouts: a break is upright (standing or walking) for at least break_s
    break_s: float = 60.0
    # tilt zones, degrees relative to the posture's baseline (0 standing, sitting baseline sitting)
    anterior_deg: float = 8.0
    posterior_deg: float = 8.0
    lateral_deg: float = 5.0
    zone_hysteresis_deg: float = 2.0  # leave a zone this much inside its threshold
    sustained_s: float = 600.0  # a non-neutral zone held this long is sustained
    # sitting baseline: habitual upright sitting sagittal, learned from the start of each bout
    sitting_baseline_deg: float = -8.0
    adapt_sitting_baseline: bool = True
    baseline_window_s: float = 30.0  # the first seconds of a bout that set its baseline
    baseline_alpha: float = 0.3  # weight of each bout in the running sitting baseline
    baseline_limits_deg: tuple[float, float] = (-20.0, 5.0)

    def __post_init__(self) -> None:
        def bad(name: str, why: str) -> PostureConfigError:
            return PostureConfigError(f"PostureConfig.{name} = {getattr(self, name)!r}: {why}")

        for f in fields(self):
            v = getattr(self, f.name)
            vals = v if isinstance(v, tuple) else (v,)
            for x in vals:
                if isinstance(x, bool):
                    continue
                if not (isinstance(x, int | float) and math.isfinite(x)):
                    raise bad(f.name, "must be a finite number")
        positive = (
            "frame_s",
            "walk_window_s",
            "walk_confirm_s",
            "walk_std",
            "slow_walk_std",
            "walk_max_incl_deg",
            "move_gyr",
            "move_acc",
            "break_s",
            "anterior_deg",
            "posterior_deg",
            "lateral_deg",
            "sustained_s",
            "transition_rot_deg",
            "sit_tilt_deg",
            "baseline_window_s",
            "stand_match_deg",
            "height_change_m",
            "descent_window_s",
        )
        for name in positive:
            if not getattr(self, name) > 0:
                raise bad(name, "must be > 0")
        if not 0 < self.lying_exit_deg <= self.lying_deg < 90:
            raise bad("lying_exit_deg", "need 0 < lying_exit_deg <= lying_deg < 90")
        lo, hi = self.walk_band_hz
        if not 0 <= lo < hi:
            raise bad("walk_band_hz", "need 0 <= low < high")
        plo, phi = self.walk_step_period_s
        if not 0 < plo < phi < self.walk_window_s:
            raise bad("walk_step_period_s", "need 0 < shortest < longest < walk_window_s")
        if not 0 <= self.walk_periodicity < self.slow_walk_periodicity < 1:
            raise bad("walk_periodicity", "need 0 <= walk_periodicity < slow_walk_periodicity < 1")
        for name in ("walk_band_frac", "prototype_alpha", "baseline_alpha"):
            if not 0 < getattr(self, name) <= 1:
                raise bad(name, "must be in (0, 1]")
        if self.min_change_deg < 0:
            raise bad("min_change_deg", "must be >= 0")
        if self.walk_window_s < self.frame_s:
            raise bad("walk_window_s", "must be at least frame_s")
        smallest = min(self.anterior_deg, self.posterior_deg, self.lateral_deg)
        if not 0 <= self.zone_hysteresis_deg < smallest:
            raise bad("zone_hysteresis_deg", "must be >= 0 and below every zone threshold")
        blo, bhi = self.baseline_limits_deg
        if not blo <= self.sitting_baseline_deg <= bhi:
            raise bad("sitting_baseline_deg", "must lie within baseline_limits_deg")


@dataclass(frozen=True, slots=True, eq=False)
class PelvisSamples:
    """A batch of IMU samples in the pelvis frame (docs/conventions.md), with the tilt angles.

    ``acc_P`` m/s² specific force, ``gyr_P`` rad/s, both already rotated by the mounting ``q_PS``;
    ``sagittal_deg`` / ``frontal_deg`` from the orientation estimate (``monitor.fusion.tilt``).
    ``t`` in seconds, strictly increasing across batches. Build one from sensor-frame data with
    :meth:`from_sensor`.
    """

    t: FloatArray  # (n,)
    acc_P: FloatArray
    gyr_P: FloatArray
    sagittal_deg: FloatArray  # (n,)
    frontal_deg: FloatArray  # (n,)

    def __post_init__(self) -> None:
        n = np.shape(self.t)[0] if np.ndim(self.t) == 1 else -1
        if n < 0:
            raise PostureConfigError(f"t must be 1-D, got shape {np.shape(self.t)}")
        for name in ("acc_P", "gyr_P"):
            if np.shape(getattr(self, name)) != (n, 3):
                got = np.shape(getattr(self, name))
                raise PostureConfigError(f"{name} must have shape ({n}, 3), got {got}")
        for name in ("sagittal_deg", "frontal_deg"):
            if np.shape(getattr(self, name)) != (n,):
                got = np.shape(getattr(self, name))
                raise PostureConfigError(f"{name} must have shape ({n},), got {got}")

    def __len__(self) -> int:
        return int(np.shape(self.t)[0])

    def slice(self, lo: int, hi: int) -> PelvisSamples:
        return PelvisSamples(
            self.t[lo:hi],
            self.acc_P[lo:hi],
            self.gyr_P[lo:hi],
            self.sagittal_deg[lo:hi],
            self.frontal_deg[lo:hi],
        )

    @classmethod
    def from_sensor(
        cls,
        t: npt.ArrayLike,
        acc_S: npt.ArrayLike,
        gyr_S: npt.ArrayLike,
        q_ES: npt.ArrayLike,
        q_PS: npt.ArrayLike,
    ) -> PelvisSamples:
        """Rotate sensor-frame samples into the pelvis frame and add the tilt angles."""
        from monitor.fusion import quat, tilt_deg  # numpy-only helpers

        q_ps = quat.normalize(np.asarray(q_PS, dtype=np.float64))
        sag, fro = tilt_deg(q_ES, q_ps)
        return cls(
            np.asarray(t, dtype=np.float64),
            quat.rotate(q_ps, np.asarray(acc_S, dtype=np.float64)),
            quat.rotate(q_ps, np.asarray(gyr_S, dtype=np.float64)),
            np.asarray(sag, dtype=np.float64),
            np.asarray(fro, dtype=np.float64),
        )


def _concat(parts: Sequence[PelvisSamples]) -> PelvisSamples:
    if len(parts) == 1:
        return parts[0]
    return PelvisSamples(
        np.concatenate([p.t for p in parts]),
        np.concatenate([p.acc_P for p in parts]),
        np.concatenate([p.gyr_P for p in parts]),
        np.concatenate([p.sagittal_deg for p in parts]),
        np.concatenate([p.frontal_deg for p in parts]),
    )


def up_from_tilt(sagittal_deg: npt.ArrayLike, frontal_deg: npt.ArrayLike) -> FloatArray:
    """Earth up in the pelvis frame from the tilt angles (the inverse of ``tilt_from_up``)."""
    s = np.radians(np.asarray(sagittal_deg, dtype=np.float64))
    f = np.radians(np.asarray(frontal_deg, dtype=np.float64))
    return np.stack([-np.sin(s), np.cos(s) * np.sin(f), np.cos(s) * np.cos(f)], axis=-1)


def _sagittal_deg(up: Vec3) -> float:
    """Sagittal tilt of an earth-up direction in the pelvis frame (anterior positive)."""
    return math.degrees(math.atan2(-up[0], math.hypot(up[1], up[2])))


def _angle_deg(u: Vec3, v: Vec3) -> float:
    # 3-vectors as Python floats: a numpy call per frame costs more than the arithmetic
    dot = u[0] * v[0] + u[1] * v[1] + u[2] * v[2]
    nu = math.sqrt(u[0] * u[0] + u[1] * u[1] + u[2] * u[2])
    nv = math.sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2])
    return math.degrees(math.acos(min(1.0, max(-1.0, dot / (nu * nv)))))


@dataclass(frozen=True, slots=True)
class SittingBout:
    """A sitting bout: from the first sitting frame to the start of the break that ended it."""

    start: float
    end: float  # for an open bout: the end of the last sitting frame so far

    @property
    def duration_s(self) -> float:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class PostureUpdate:
    """What one :meth:`PostureClassifier.update` call produced."""

    snapshots: tuple[ActivitySnapshot, ...]
    transitions: tuple[Transition, ...]


@dataclass(frozen=True, slots=True)
class PostureResult:
    """A whole recording through :func:`classify`."""

    snapshots: tuple[ActivitySnapshot, ...]
    transitions: tuple[Transition, ...]
    bouts: tuple[SittingBout, ...]
    frame_s: float

    def posture_at(self, t: npt.ArrayLike) -> list[Posture]:
        """The posture of the frame holding each time (UNKNOWN outside the snapshots)."""
        ends = np.array([s.t for s in self.snapshots])
        tt = np.asarray(t, dtype=np.float64)
        idx = np.searchsorted(ends, tt, side="right")  # snapshot t is the frame's end
        out = []
        for i, x in zip(idx.tolist(), tt.tolist(), strict=True):
            ok = i < len(ends) and ends[i] - self.frame_s <= x
            out.append(self.snapshots[i].posture if ok else Posture.UNKNOWN)
        return out


@dataclass(slots=True)
class _Frame:
    """Features of one frame (what the state machine needs, nothing per sample)."""

    start: float
    end: float
    up: Vec3  # mean earth up in the pelvis frame (unit)
    sagittal: float
    frontal: float
    incl: float  # degrees between earth up and pelvis up
    walking: bool
    moving: bool
    rot_deg: float  # integrated horizontal rotation in the frame
    av: FloatArray  # vertical acceleration samples, m/s² (gravity removed)
    av_mean: float  # their mean
    dt: float  # s per sample


@dataclass(slots=True)
class _Burst:
    start: float
    end: float
    rot_deg: float
    pre_posture: Posture
    av: list[FloatArray]
    dt: float


@dataclass(slots=True)
class _State:
    posture: Posture = Posture.UNKNOWN
    upright: Posture = Posture.UNKNOWN  # SITTING or STANDING: the still upright state
    lying: bool = False
    proto_stand: Vec3 | None = None
    proto_sit: Vec3 | None = None
    last_still_up: Vec3 | None = None
    last_still_av: float | None = None
    burst: _Burst | None = None
    walk_run_s: float = 0.0
    # bouts
    bout_start: float | None = None
    bout_last_sit_end: float | None = None
    upright_since: float | None = None
    stood_up_at: float | None = None  # start of the movement that ended the last sitting
    last_break_end: float | None = None
    in_break: bool = False
    bouts: list[SittingBout] = field(default_factory=list)
    # zones
    zone: TiltZone = TiltZone.NEUTRAL
    zone_since: float = 0.0
    sitting_baseline: float = 0.0
    bout_sagittals: list[float] = field(default_factory=list)
    baseline_done: bool = False


class PostureClassifier:
    """Streaming posture state machine: feed :class:`PelvisSamples` batches, get snapshots.

    Frames are ``frame_s`` long, counted from the first sample's time; a frame is decided when a
    sample of a later frame arrives (or at :meth:`flush`). Each decided frame gives one
    :class:`ActivitySnapshot` whose ``t`` is the frame's end.
    """

    def __init__(self, config: PostureConfig | None = None, *, heading_known: bool = True) -> None:
        self.config = config if config is not None else PostureConfig()
        # False when the mounting knows only "up": sagittal and frontal are then mixed, so the
        # direction of a tilt (forward or back) cannot be told.
        self.heading_known = heading_known
        self._t0: float | None = None
        self._frame_index = 0
        self._pending: list[PelvisSamples] = []
        # the last usable frames as (t, vertical acc), for the walking window
        self._history: list[tuple[FloatArray, FloatArray]] = []
        self._state = _State(sitting_baseline=self.config.sitting_baseline_deg)
        self._last_t = -math.inf

    @property
    def bouts(self) -> tuple[SittingBout, ...]:
        """Finished sitting bouts so far, and the open one (if any) up to the last frame."""
        s = self._state
        done = tuple(s.bouts)
        if s.bout_start is not None and s.bout_last_sit_end is not None:
            done += (SittingBout(s.bout_start, s.bout_last_sit_end),)
        return done

    def update(self, samples: PelvisSamples) -> PostureUpdate:
        """Add a batch; returns the snapshots and transitions of the frames it completed."""
        n = len(samples)
        if n == 0:
            return PostureUpdate((), ())
        t = samples.t
        if not (np.all(np.isfinite(t)) and np.all(np.diff(t) > 0) and t[0] > self._last_t):
            raise PostureConfigError("sample times must be finite and strictly increasing")
        self._last_t = float(t[-1])
        if self._t0 is None:
            self._t0 = float(t[0])
        idx = np.floor((t - self._t0) / self.config.frame_s).astype(np.int64)
        if int(idx[-1]) == self._frame_index:  # all of it in the frame in progress (live)
            self._pending.append(samples)
            return PostureUpdate((), ())
        if self._pending:  # the frame in progress goes on in this batch, or ends before it
            held = _concat(self._pending)
            self._pending = []
            idx = np.concatenate([np.full(len(held), self._frame_index, dtype=np.int64), idx])
            samples = _concat([held, samples])
        bounds = np.concatenate([[0], np.flatnonzero(idx[1:] != idx[:-1]) + 1, [len(idx)]])
        snaps: list[ActivitySnapshot] = []
        trans: list[Transition] = []
        # every frame but the last is complete: a sample of a later frame has arrived
        self._close_frames(samples, bounds[:-1], idx[bounds[:-2]], snaps, trans)
        last = int(bounds[-2])
        self._frame_index = int(idx[last])
        self._pending = [samples.slice(last, len(samples))]
        return PostureUpdate(tuple(snaps), tuple(trans))

    def flush(self) -> PostureUpdate:
        """Decide the frame in progress (end of a recording)."""
        snaps: list[ActivitySnapshot] = []
        trans: list[Transition] = []
        if self._pending:
            held = _concat(self._pending)
            self._pending = []
            bounds = np.array([0, len(held)], dtype=np.int64)
            frame = np.array([self._frame_index], dtype=np.int64)
            self._close_frames(held, bounds, frame, snaps, trans)
        return PostureUpdate(tuple(snaps), tuple(trans))

    # --- frame features ------------------------------------------------------------------------

    def _close_frames(
        self,
        x: PelvisSamples,
        bounds: npt.NDArray[np.int64],
        frames: npt.NDArray[np.int64],
        snaps: list[ActivitySnapshot],
        trans: list[Transition],
    ) -> None:
        """Decide frames ``frames`` (indices from ``t0``), ``x[bounds[i]:bounds[i + 1]]`` each.

        The features of many frames are computed together (whole-array numpy), a block at a
        time; only the state machine runs frame by frame. Every feature of a frame depends on
        its own samples (and the walking window's) alone, so how a recording is cut into
        batches and blocks does not change any result.
        """
        for b in range(0, len(frames), _BLOCK_FRAMES):
            e = min(b + _BLOCK_FRAMES, len(frames))
            lo, hi = int(bounds[b]), int(bounds[e])
            block = bounds[b : e + 1] - lo
            self._close_block(x.slice(lo, hi), block, frames[b:e], snaps, trans)

    def _close_block(
        self,
        x: PelvisSamples,
        bounds: npt.NDArray[np.int64],
        frames: npt.NDArray[np.int64],
        snaps: list[ActivitySnapshot],
        trans: list[Transition],
    ) -> None:
        cfg = self.config
        assert self._t0 is not None
        start: FloatArray = (self._t0 + frames * cfg.frame_s).astype(np.float64)
        end: FloatArray = start + cfg.frame_s
        acc, gyr, sag, fro = x.acc_P, x.gyr_P, x.sagittal_deg, x.frontal_deg
        ok = np.isfinite(sag) & np.isfinite(fro) & np.all(np.isfinite(acc), axis=1)
        ok &= np.all(np.isfinite(gyr), axis=1)
        t = x.t
        if ok.all():
            count = np.diff(bounds)
        else:  # drop the unusable samples; a frame with none left is unknown
            count = np.add.reduceat(ok.astype(np.int64), bounds[:-1])
            t, acc, gyr, sag, fro = t[ok], acc[ok], gyr[ok], sag[ok], fro[ok]
        good = count > 0
        if not good.any():
            self._history = []
            for t_start, t_end in zip(start.tolist(), end.tolist(), strict=True):
                self._emit_unknown(t_start, t_end, snaps)
            return
        n = count[good]
        first = np.concatenate([[0], np.cumsum(n)[:-1]]).astype(np.int64)

        def total(v: FloatArray) -> FloatArray:
            out: FloatArray = np.add.reduceat(v, first)
            return out

        # earth up per sample (up_from_tilt), its mean per frame, and the frame's tilt
        s, f = np.radians(sag), np.radians(fro)
        cs = np.cos(s)
        ux, uy, uz = -np.sin(s), cs * np.sin(f), cs * np.cos(f)
        mx, my, mz = total(ux) / n, total(uy) / n, total(uz) / n
        norm = np.sqrt(mx * mx + my * my + mz * mz)
        upx, upy, upz = mx / norm, my / norm, mz / norm
        sag_m = np.degrees(np.arctan2(-upx, np.hypot(upy, upz)))
        fro_m = np.degrees(np.arctan2(upy, upz))
        incl = np.degrees(np.arccos(np.clip(upz, -1.0, 1.0)))
        # vertical acceleration; rotation about horizontal axes; spread of |acc|
        ax, ay, az = acc[:, 0], acc[:, 1], acc[:, 2]
        av = ax * ux + ay * uy + az * uz - G
        gx, gy, gz = gyr[:, 0], gyr[:, 1], gyr[:, 2]
        gu = gx * ux + gy * uy + gz * uz
        hx, hy, hz = gx - gu * ux, gy - gu * uy, gz - gu * uz
        gh_mag = np.sqrt(hx * hx + hy * hy + hz * hz)
        dt = cfg.frame_s / n
        rot_deg = np.degrees(total(gh_mag) * dt)
        gh_rms = np.sqrt(total(gh_mag * gh_mag) / n)
        amag = np.sqrt(ax * ax + ay * ay + az * az)
        dev = amag - np.repeat(total(amag) / n, n)
        acc_std = np.sqrt(total(dev * dev) / n)
        moving = (gh_rms > cfg.move_gyr) | (acc_std > cfg.move_acc)
        # people walk upright: a roll in bed or a sit-up can repeat like steps
        walking = self._walking(t, av, n, good, end[good]) & (incl < cfg.walk_max_incl_deg)
        av_mean = total(av) / n

        g = 0
        offsets = [*first.tolist(), len(av)]
        rows = zip(
            upx.tolist(),
            upy.tolist(),
            upz.tolist(),
            sag_m.tolist(),
            fro_m.tolist(),
            incl.tolist(),
            walking.tolist(),
            moving.tolist(),
            rot_deg.tolist(),
            av_mean.tolist(),
            dt.tolist(),
            strict=True,
        )
        for t_start, t_end, usable in zip(start.tolist(), end.tolist(), good.tolist(), strict=True):
            if not usable:
                self._emit_unknown(t_start, t_end, snaps)
                continue
            ex, ey, ez, sg, fr, inc, walk, move, rot, avm, step = next(rows)
            frame_av = av[offsets[g] : offsets[g + 1]]
            g += 1
            frame = _Frame(
                t_start, t_end, (ex, ey, ez), sg, fr, inc, walk, move, rot, frame_av, avm, step
            )
            self._step(frame, snaps, trans)

    def _walking(
        self,
        t: FloatArray,
        av: FloatArray,
        n: npt.NDArray[np.int64],
        good: npt.NDArray[np.bool_],
        end: FloatArray,
    ) -> npt.NDArray[np.bool_]:
        """Walking for each usable frame (``n`` samples each, ending at ``end``).

        The window is the frame and the ``walk_window_s / frame_s - 1`` usable frames before it
        (an unknown frame, ``~good``, clears them), cut to ``walk_window_s`` before the frame's
        end. Windows of one length are checked together; a window's numbers depend on its own
        samples alone.
        """
        cfg = self.config
        keep = max(1, round(cfg.walk_window_s / cfg.frame_s))
        hist = self._history
        h = len(hist)
        tc = np.concatenate([*(p[0] for p in hist), t])
        avc = np.concatenate([*(p[1] for p in hist), av])
        sizes = np.concatenate([np.array([len(p[0]) for p in hist], dtype=np.int64), n])
        stop = np.cumsum(sizes)
        begin = stop - sizes
        # position (in history + usable frames) of the first frame after the last unknown one
        nf = len(good)
        # usable frames before each frame of the block
        before: npt.NDArray[np.int64] = np.cumsum(good) - good
        unknown = np.maximum.accumulate(np.where(good, -1, np.arange(nf)))
        barrier = np.where(unknown >= 0, h + before[np.maximum(unknown, 0)], 0)
        pos = h + np.arange(len(n))
        oldest = np.maximum(pos - keep + 1, barrier[good])
        hi = stop[pos]
        thr = end - cfg.walk_window_s - 1e-9
        lo = np.maximum(begin[oldest], np.searchsorted(tc, thr, side="left"))
        # what the next block needs: the last keep - 1 usable frames since an unknown one
        keep_from = max(len(sizes) - (keep - 1), int(barrier[-1]) if good[-1] else len(sizes))
        self._history = [
            (tc[a:b].copy(), avc[a:b].copy())
            for a, b in zip(begin[keep_from:].tolist(), stop[keep_from:].tolist(), strict=True)
        ]

        walking = np.zeros(len(n), dtype=bool)
        size = hi - lo
        blo, bhi = cfg.walk_band_hz
        for m in np.unique(size[size >= 8]).tolist():
            win = np.flatnonzero(size == m)
            x = avc[lo[win, None] + np.arange(m)]
            x -= x.mean(axis=1, keepdims=True)
            var = np.mean(x**2, axis=1)
            big = var >= cfg.slow_walk_std**2
            win, x, var = win[big], x[big], var[big]
            if not len(win):
                continue
            rate = (m - 1) / np.maximum(tc[hi[win] - 1] - tc[lo[win]], 1e-9)
            power = np.abs(np.fft.rfft(x, axis=1)) ** 2
            # np.fft.rfftfreq(m, 1 / rate) per window; the band is a run of bins [a, b)
            freq = np.arange(m // 2 + 1) * (1.0 / (m * (1.0 / rate)))[:, None]
            a = np.count_nonzero(freq < blo, axis=1)
            b = np.count_nonzero(freq <= bhi, axis=1)
            band = np.zeros(len(win))
            for ab in np.unique(np.stack([a, b], axis=1), axis=0).tolist():
                same = (a == ab[0]) & (b == ab[1])
                if ab[1] > ab[0]:
                    band[same] = power[same, ab[0] : ab[1]].sum(axis=1)
            stepping = band >= cfg.walk_band_frac * power[:, 1:].sum(axis=1)
            needed = np.where(
                var >= cfg.walk_std**2, cfg.walk_periodicity, cfg.slow_walk_periodicity
            )
            walking[win] = stepping & (self._step_periodicity(x, rate) > needed)
        return walking

    def _step_periodicity(self, x: FloatArray, rate: FloatArray) -> FloatArray:
        """Per window (rows of ``x``, demeaned): the highest autocorrelation (unbiased,
        normalised) at a lag within ``walk_step_period_s``."""
        m = x.shape[1]
        spectrum = np.fft.rfft(x, n=2 * m, axis=1)
        ac = np.fft.irfft(np.abs(spectrum) ** 2, n=2 * m, axis=1)[:, :m]
        lags = np.arange(m)
        ac = ac / np.maximum(ac[:, :1], 1e-12) * (m / (m - lags))
        lag_s = lags[None, :] / rate[:, None]
        lo, hi = self.config.walk_step_period_s
        in_range = (lag_s >= lo) & (lag_s <= hi)
        peak: FloatArray = np.where(in_range, ac, -np.inf).max(axis=1)
        return peak

    # --- the state machine ---------------------------------------------------------------------

    def _step(self, f: _Frame, snaps: list[ActivitySnapshot], trans: list[Transition]) -> None:
        cfg = self.config
        s = self._state
        prev = s.posture
        lying_now = f.incl >= (cfg.lying_exit_deg if s.lying else cfg.lying_deg)
        if lying_now:
            if not s.lying:
                trans.append(Transition(self._burst_mid(f), TransitionKind.TO_LYING))
            s.lying = True
            s.burst = None
            s.last_still_up = None
            s.walk_run_s = 0.0  # a roll onto the side can look like steps: not a walk
            posture = Posture.LYING
        elif f.walking and s.walk_run_s + f.end - f.start >= cfg.walk_confirm_s - 1e-9:
            s.walk_run_s += f.end - f.start
            if s.lying:
                trans.append(Transition(self._burst_mid(f), TransitionKind.FROM_LYING))
                s.lying = False
            if s.upright is Posture.SITTING:
                trans.append(Transition(self._burst_mid(f), TransitionKind.SIT_TO_STAND))
                s.stood_up_at = s.burst.start if s.burst is not None else f.start
            s.upright = Posture.STANDING  # nobody walks sitting down
            s.burst = None
            s.last_still_up = None
            posture = Posture.WALKING
        elif f.walking or f.moving:
            # movement; a short walking-like run may be a sit-down or stand-up, so it is
            # resolved like any burst when the wearer is still again
            s.walk_run_s = s.walk_run_s + f.end - f.start if f.walking else 0.0
            if s.burst is None:
                s.burst = _Burst(f.start, f.end, 0.0, prev, [], f.dt)
            s.burst.end = f.end
            s.burst.rot_deg += f.rot_deg
            s.burst.av.append(f.av)
            posture = prev if prev is not Posture.WALKING else Posture.STANDING
            if f.walking:
                posture = Posture.WALKING
            elif s.lying:
                posture = Posture.SITTING  # getting up from lying: people sit up first
        else:
            s.walk_run_s = 0.0
            posture = self._still(f, trans)
        self._bookkeep(f, posture, snaps)

    def _burst_mid(self, f: _Frame) -> float:
        b = self._state.burst
        return 0.5 * (b.start + b.end) if b is not None else f.start

    def _still(self, f: _Frame, trans: list[Transition]) -> Posture:
        """An upright, still frame: keep the state unless a transition just ended."""
        cfg = self.config
        s = self._state
        burst = s.burst
        s.burst = None
        was = s.upright
        from_lying = s.lying
        if from_lying:
            s.lying = False
            t_mid = 0.5 * (burst.start + burst.end) if burst else f.start
            trans.append(Transition(t_mid, TransitionKind.FROM_LYING))
            # A rise of the pelvis says they stood up; otherwise the orientation decides.
            rose = burst is not None and self._height_change(burst, f) >= cfg.height_change_m
            new = Posture.STANDING if rose else self._nearest(f.up)
        elif was is Posture.UNKNOWN:
            new = self._nearest(f.up)
        else:
            new = was
            if burst is not None:
                drop = self._descent(burst)
                big_drop = was is Posture.STANDING and drop <= -cfg.height_change_m
                if burst.rot_deg >= cfg.transition_rot_deg or big_drop:
                    new = self._after_transition(was, f.up, self._height_change(burst, f), drop)
            stand = s.proto_stand
            if (
                new is Posture.STANDING
                and stand is not None
                and _angle_deg(f.up, stand) >= cfg.sit_tilt_deg
                and not self._tipped_forward(f.up, stand)
            ):
                new = Posture.SITTING  # sat down too gently to see a transition
        if new is not was and was is not Posture.UNKNOWN and not from_lying:
            t_mid = 0.5 * (burst.start + burst.end) if burst else f.start
            sat = new is Posture.SITTING
            kind = TransitionKind.STAND_TO_SIT if sat else TransitionKind.SIT_TO_STAND
            trans.append(Transition(t_mid, kind))
            if not sat:
                s.stood_up_at = burst.start if burst else f.start
        elif from_lying and new is Posture.STANDING:
            s.stood_up_at = burst.start if burst else f.start
        s.upright = new
        s.last_still_up = f.up
        s.last_still_av = f.av_mean
        a = cfg.prototype_alpha
        if new is Posture.STANDING:
            # The prototype follows a clip that settles or shifts a little, never a bend or a
            # lean over a desk (which would make straightening up look like sitting down).
            if s.proto_stand is None:
                s.proto_stand = f.up
            elif _angle_deg(f.up, s.proto_stand) < 2 * cfg.stand_match_deg:
                s.proto_stand = _blend(s.proto_stand, f.up, a)
        else:
            s.proto_sit = f.up if s.proto_sit is None else _blend(s.proto_sit, f.up, a)
        return new

    def _tipped_forward(self, up: Vec3, ref: Vec3) -> bool:
        """``up`` is mostly an anterior tilt from ``ref``: a bend or a lean, not a sit.

        Sitting tips the pelvis back; bending to pick something up or leaning over a desk tips
        it forward. Needs the forward direction (``heading_known``); without it, never.
        """
        if not self.heading_known:
            return False
        d_sag = _sagittal_deg(up) - _sagittal_deg(ref)
        return d_sag >= 0.5 * _angle_deg(up, ref)

    def _after_transition(self, was: Posture, up: Vec3, dh: float, drop: float) -> Posture:
        """After a sit-down/stand-up-like burst: flip the state if the posture really changed.

        Evidence, any one is enough:
        - height: the pelvis drops or rises about 0.4 m. ``drop`` is the lowest point in the
          first ``descent_window_s`` of the burst (a sit-down drops early, then settles, so its
          end is rarely still); ``dh`` the whole burst's change, still at both ends (a
          stand-up ends still);
        - orientation: standing looks like the standing prototype, while how people sit varies
          from bout to bout (a chair, a bed's edge, a stool), so sitting is "upright but not like
          standing": more than ``stand_match_deg`` from the standing prototype and not tipped
          forward (a bend or a lean over a desk is not a sit). Leaving a sitting bout also needs
          the orientation to have moved ``min_change_deg`` from it, and to end within
          ``stand_match_deg`` of the standing prototype, or (a clip that shifted in its pouch)
          within twice that and four times nearer it than the sitting it left, not tipped
          forward (a seated forward lean).
        """
        s = self._state
        cfg = self.config
        h = cfg.height_change_m
        if was is Posture.STANDING:
            if dh <= -h or drop <= -h:
                return Posture.SITTING
            ref = s.proto_stand if s.proto_stand is not None else s.last_still_up
            if ref is None:
                return self._nearest(up)  # nothing to compare with yet
            far = _angle_deg(up, ref) >= cfg.stand_match_deg
            sat = far and not self._tipped_forward(up, ref)
            return Posture.SITTING if sat else Posture.STANDING
        if dh >= h:
            return Posture.STANDING
        ref = s.last_still_up if s.last_still_up is not None else s.proto_sit
        moved = _angle_deg(up, ref) if ref is not None else math.inf
        if moved < cfg.min_change_deg:
            return Posture.SITTING
        if s.proto_stand is not None:
            to_stand = _angle_deg(up, s.proto_stand)
            shifted = (
                to_stand < min(2 * cfg.stand_match_deg, 0.25 * moved)
                and not self._tipped_forward(up, s.proto_stand)  # a forward lean while seated
            )
            near = to_stand < cfg.stand_match_deg or shifted
            return Posture.STANDING if near else Posture.SITTING
        return Posture.STANDING

    def _descent(self, burst: _Burst) -> float:
        """Lowest height (m) in the first ``descent_window_s`` of a burst, from rest before it."""
        pre = self._state.last_still_av
        n = max(1, round(self.config.descent_window_s / burst.dt))
        av = np.concatenate(burst.av)[:n] - (0.0 if pre is None else pre)
        h = np.cumsum(np.cumsum(av)) * burst.dt * burst.dt
        return float(min(0.0, h.min()))

    def _height_change(self, burst: _Burst, f: _Frame) -> float:
        """Vertical displacement over a burst (m), still at both ends (zero velocity).

        The accelerometer's bias along the vertical changes with the orientation, so the
        baseline is the still level before the burst moving linearly to the level after it.
        """
        post = f.av_mean
        pre = self._state.last_still_av
        pre = post if pre is None else pre
        av = np.concatenate(burst.av)
        av = av - np.linspace(pre, post, av.size)
        v = np.cumsum(av) * burst.dt
        return float(np.sum(v) * burst.dt)

    def _nearest(self, up: Vec3) -> Posture:
        """Sitting or standing for a still upright orientation with no transition to go by."""
        s = self._state
        cfg = self.config
        if s.proto_stand is not None:
            near = _angle_deg(up, s.proto_stand) < cfg.stand_match_deg
            return Posture.STANDING if near else Posture.SITTING
        incl = math.degrees(math.acos(min(1.0, max(-1.0, up[2]))))
        return Posture.SITTING if incl >= cfg.sit_tilt_deg else Posture.STANDING

    # --- bouts, zones, snapshots ---------------------------------------------------------------

    def _bookkeep(self, f: _Frame, posture: Posture, snaps: list[ActivitySnapshot]) -> None:
        cfg = self.config
        s = self._state
        s.posture = posture
        if posture is not Posture.SITTING and not posture.upright:
            s.stood_up_at = None
        if posture is Posture.SITTING:
            if s.bout_start is None:
                s.bout_start = f.start
                s.bout_sagittals = []
                s.baseline_done = False
            s.bout_last_sit_end = f.end
            s.upright_since = None
            if s.in_break:
                s.last_break_end = f.start
                s.in_break = False
            self._learn_baseline(f)
        elif posture.upright:
            if s.upright_since is None:
                # The stand-up is recognised when the wearer is still (or walking) again: the
                # break began when the movement that ended the sitting began.
                began = s.stood_up_at
                ok = began is not None and s.bout_start is not None and began >= s.bout_start
                s.upright_since = min(f.start, began) if ok and began is not None else f.start
            if f.end - s.upright_since >= cfg.break_s - 1e-9:
                if s.bout_start is not None and s.bout_last_sit_end is not None:
                    s.bouts.append(SittingBout(s.bout_start, s.upright_since))
                s.bout_start = None
                s.bout_last_sit_end = None
                s.in_break = True
        else:
            s.upright_since = None  # lying or unknown: neither a break nor its end
            if s.in_break and posture is Posture.LYING:
                s.last_break_end = f.start
                s.in_break = False
        self._update_zone(f, posture)
        snaps.append(
            ActivitySnapshot(
                t=f.end,
                posture=posture,
                zone=s.zone,
                sagittal_deg=f.sagittal,
                frontal_deg=f.frontal,
                sitting_bout_start=s.bout_start,
                last_break_end=s.last_break_end,
                zone_since=s.zone_since,
                sustained_zone=self._sustained(f.end),
            )
        )

    def _learn_baseline(self, f: _Frame) -> None:
        cfg = self.config
        s = self._state
        if not cfg.adapt_sitting_baseline or s.baseline_done or s.bout_start is None:
            return
        s.bout_sagittals.append(f.sagittal)
        if f.end - s.bout_start >= cfg.baseline_window_s - 1e-9:
            lo, hi = cfg.baseline_limits_deg
            med = float(np.median(s.bout_sagittals))
            new = (1 - cfg.baseline_alpha) * s.sitting_baseline + cfg.baseline_alpha * med
            s.sitting_baseline = min(hi, max(lo, new))
            s.baseline_done = True
            s.bout_sagittals = []

    def _update_zone(self, f: _Frame, posture: Posture) -> None:
        s = self._state
        if posture is Posture.SITTING:
            base = s.sitting_baseline
        elif posture is Posture.STANDING:
            base = 0.0
        else:
            # walking, lying, unknown: tilt zones do not apply; the clock restarts afterwards
            if s.zone is not TiltZone.NEUTRAL:
                s.zone = TiltZone.NEUTRAL
                s.zone_since = f.start
            return
        zone = tilt_zone(f.sagittal - base, f.frontal, s.zone, self.config)
        if zone is not s.zone:
            s.zone = zone
            s.zone_since = f.start

    def _sustained(self, now: float) -> TiltZone | None:
        s = self._state
        held = now - s.zone_since >= self.config.sustained_s - 1e-9
        return s.zone if s.zone is not TiltZone.NEUTRAL and held else None

    def _emit_unknown(self, start: float, end: float, snaps: list[ActivitySnapshot]) -> None:
        s = self._state
        s.burst = None
        s.upright_since = None
        s.posture = Posture.UNKNOWN
        snaps.append(
            ActivitySnapshot(
                t=end,
                posture=Posture.UNKNOWN,
                zone=s.zone,
                sagittal_deg=math.nan,
                frontal_deg=math.nan,
                sitting_bout_start=s.bout_start,
                last_break_end=s.last_break_end,
                zone_since=s.zone_since,
                sustained_zone=self._sustained(end),
            )
        )


def _blend(p: Vec3, q: Vec3, a: float) -> Vec3:
    b = 1 - a
    x, y, z = b * p[0] + a * q[0], b * p[1] + a * q[1], b * p[2] + a * q[2]
    n = math.sqrt(x * x + y * y + z * z)
    return (x / n, y / n, z / n)


def tilt_zone(
    sagittal_rel_deg: float,
    frontal_deg: float,
    current: TiltZone,
    config: PostureConfig | None = None,
) -> TiltZone:
    """The tilt zone for angles relative to the posture's baseline, with hysteresis.

    The current zone is kept while its angle stays beyond its threshold minus
    ``zone_hysteresis_deg``; a new zone is entered when its threshold is crossed. When several
    are crossed the one furthest past its threshold (relative to the threshold) wins.
    """
    cfg = config if config is not None else PostureConfig()
    h = cfg.zone_hysteresis_deg
    excess = {
        TiltZone.ANTERIOR: sagittal_rel_deg / cfg.anterior_deg,
        TiltZone.POSTERIOR: -sagittal_rel_deg / cfg.posterior_deg,
        TiltZone.LATERAL_RIGHT: frontal_deg / cfg.lateral_deg,
        TiltZone.LATERAL_LEFT: -frontal_deg / cfg.lateral_deg,
    }
    thresholds = {
        TiltZone.ANTERIOR: cfg.anterior_deg,
        TiltZone.POSTERIOR: cfg.posterior_deg,
        TiltZone.LATERAL_RIGHT: cfg.lateral_deg,
        TiltZone.LATERAL_LEFT: cfg.lateral_deg,
    }
    if not (math.isfinite(sagittal_rel_deg) and math.isfinite(frontal_deg)):
        return current
    best = max(excess, key=lambda z: excess[z])
    if excess[best] >= 1.0:
        return best
    if current is not TiltZone.NEUTRAL:
        keep = (thresholds[current] - h) / thresholds[current]
        if excess[current] >= keep:
            return current
    return TiltZone.NEUTRAL


def classify(
    samples: PelvisSamples, config: PostureConfig | None = None, *, heading_known: bool = True
) -> PostureResult:
    """Run a whole recording through :class:`PostureClassifier` (identical to streaming it)."""
    clf = PostureClassifier(config, heading_known=heading_known)
    a = clf.update(samples)
    b = clf.flush()
    return PostureResult(
        snapshots=a.snapshots + b.snapshots,
        transitions=a.transitions + b.transitions,
        bouts=clf.bouts,
        frame_s=clf.config.frame_s,
    )


def sitting_time_s(snapshots: Sequence[ActivitySnapshot], frame_s: float = 1.0) -> float:
    """Seconds classified as sitting."""
    return frame_s * sum(1 for s in snapshots if s.posture is Posture.SITTING)


# --- a minimal upright reference (until calibration's alignment is available) -------------------


def upright_reference(
    acc_S: npt.ArrayLike,
    up_S: npt.ArrayLike,
    rate_hz: float,
    config: PostureConfig | None = None,
) -> FloatArray:
    """A mounting ``q_PS`` whose pelvis z is the mean earth up while walking (label-free).

    Walking is found as for the classifier but orientation-free (on ``|acc|``); ``up_S`` is the
    earth up in the sensor frame per sample (``quat.earth_up_in_sensor(q_ES)``). The heading of
    the pelvis frame is arbitrary (the shortest rotation onto z), so sagittal and frontal are mixed
    by an unknown angle; posture classes use only the inclination. Raises if nobody walked.
    """
    from monitor.fusion import quat

    cfg = config if config is not None else PostureConfig()
    acc = np.asarray(acc_S, dtype=np.float64)
    up = np.asarray(up_S, dtype=np.float64)
    n = len(acc)
    w = max(8, round(cfg.walk_window_s * rate_hz))
    mag = np.linalg.norm(acc, axis=1)
    walk = np.zeros(n, dtype=bool)
    lo, hi = cfg.walk_band_hz
    freq = np.fft.rfftfreq(w, 1.0 / rate_hz)
    band = (freq >= lo) & (freq <= hi)
    for a in range(0, n - w + 1, max(1, w // 2)):
        x = mag[a : a + w] - mag[a : a + w].mean()
        if np.mean(x**2) < cfg.walk_std**2:
            continue
        p = np.abs(np.fft.rfft(x)) ** 2
        if p[band].sum() >= cfg.walk_band_frac * p[1:].sum():
            walk[a : a + w] = True
    ok = walk & np.all(np.isfinite(up), axis=1)
    if ok.sum() < rate_hz * 5:
        raise PostureConfigError("not enough walking to find the upright direction")
    u = up[ok].mean(axis=0)
    for _ in range(3):  # drop stray samples (turns, stumbles) and re-average
        u /= np.linalg.norm(u)
        near = up[ok] @ u > math.cos(math.radians(20.0))
        u = up[ok][near].mean(axis=0)
    u /= np.linalg.norm(u)
    axis = np.cross(u, [0.0, 0.0, 1.0])
    s = float(np.linalg.norm(axis))
    ang = math.atan2(s, float(u[2]))
    rv = axis / s * ang if s > 1e-12 else np.zeros(3)
    q: FloatArray = quat.from_rotvec(rv)
    return q


__all__ = [
    "PelvisSamples",
    "PostureClassifier",
    "PostureConfig",
    "PostureConfigError",
    "PostureResult",
    "PostureUpdate",
    "SittingBout",
    "classify",
    "sitting_time_s",
    "tilt_zone",
    "up_from_tilt",
    "upright_reference",
]
