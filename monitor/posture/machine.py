"""The posture state machine: frame features in, per-second activity, transitions and bouts out.

Each 1 s frame is sitting, standing, walking, lying or unknown; transitions (stand-to-sit,
sit-to-stand, to and from lying) are events; sitting bouts end only with a real break (upright for
``break_s``, counted from the start of the stand-up); tilt zones have hysteresis and a
sustained-tilt timer. The method (docs/posture.md):

- **lying**: inclination of the pelvis (angle between pelvis up and earth up) above ``lying_deg``,
  left again below ``lying_exit_deg``;
- **walking** (``monitor.posture.features``) for ``walk_confirm_s`` means upright, so the upright
  state becomes standing;
- **sitting vs standing**: a still, upright frame keeps the current state (hysteresis). The state
  changes only at the end of a *movement burst* that looks like a postural transition (rotation
  about horizontal axes, or a drop of the pelvis), when the pelvis moved down/up by
  ``height_change_m`` or the new still orientation is away from / back at the wearer's standing
  prototype (``stand_match_deg``) in a way a bend or a lean is not.

Pure: numpy only, no I/O; time is the samples' own. :class:`PostureClassifier` streams batches
(any sizes); :func:`classify` runs whole arrays through the same code, so both give identical
results.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from monitor.activity import ActivitySnapshot, Posture, TiltZone, Transition, TransitionKind
from monitor.posture.config import PostureConfig, PostureConfigError
from monitor.posture.features import (
    BLOCK_FRAMES,
    FloatArray,
    Frame,
    FrameFeatures,
    PelvisSamples,
    Vec3,
    concat_samples,
)


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
    zone_since: float = 0.0  # when the zone began; in a hold (off neutral), when the hold began
    # A hold: off neutral continuously, whichever way. A pelvis tipped forward and dropped to
    # one side flips between those two zones every few seconds; it is one hold all the same.
    hold_seconds: dict[TiltZone, float] = field(default_factory=dict)
    hold_zone: TiltZone | None = None  # the zone a sustained hold is reported as (fixed once)
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
        self._features = FrameFeatures(self.config)
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
            held = concat_samples(self._pending)
            self._pending = []
            idx = np.concatenate([np.full(len(held), self._frame_index, dtype=np.int64), idx])
            samples = concat_samples([held, samples])
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
            held = concat_samples(self._pending)
            self._pending = []
            bounds = np.array([0, len(held)], dtype=np.int64)
            frame = np.array([self._frame_index], dtype=np.int64)
            self._close_frames(held, bounds, frame, snaps, trans)
        return PostureUpdate(tuple(snaps), tuple(trans))

    def _close_frames(
        self,
        x: PelvisSamples,
        bounds: npt.NDArray[np.int64],
        frames: npt.NDArray[np.int64],
        snaps: list[ActivitySnapshot],
        trans: list[Transition],
    ) -> None:
        """Decide frames ``frames`` (indices from ``t0``), ``x[bounds[i]:bounds[i + 1]]`` each:
        features a block at a time, then the state machine frame by frame."""
        cfg = self.config
        assert self._t0 is not None
        for b in range(0, len(frames), BLOCK_FRAMES):
            e = min(b + BLOCK_FRAMES, len(frames))
            lo, hi = int(bounds[b]), int(bounds[e])
            start: FloatArray = (self._t0 + frames[b:e] * cfg.frame_s).astype(np.float64)
            end: FloatArray = start + cfg.frame_s
            found = self._features.block(x.slice(lo, hi), bounds[b : e + 1] - lo, start, end)
            for t_start, t_end, frame in zip(start.tolist(), end.tolist(), found, strict=True):
                if frame is None:
                    self._emit_unknown(t_start, t_end, snaps)
                else:
                    self._step(frame, snaps, trans)

    # --- the state machine ---------------------------------------------------------------------

    def _step(self, f: Frame, snaps: list[ActivitySnapshot], trans: list[Transition]) -> None:
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
            s.last_still_av = None  # the next burst does not start from rest
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

    def _burst_mid(self, f: Frame) -> float:
        b = self._state.burst
        return 0.5 * (b.start + b.end) if b is not None else f.start

    def _still(self, f: Frame, trans: list[Transition]) -> Posture:
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
            # People sit up out of lying (on a bed's edge, a sofa) before they stand: sitting,
            # unless the pelvis rose, or walking follows (which makes it standing). Until the
            # wearer has been seen standing (a recording that opens with the clip being put
            # on), the orientation decides.
            rose = burst is not None and self._height_change(burst, f) >= cfg.height_change_m
            if rose:
                new = Posture.STANDING
            elif s.proto_stand is not None:
                new = Posture.SITTING
            else:
                new = self._nearest(f.up)
        elif was is Posture.UNKNOWN:
            new = self._nearest(f.up)
        else:
            new = was
            if burst is not None:
                drop = self._descent(burst, f.av_mean)
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
        - height: the pelvis drops or rises about 0.4 m. A sit-down: ``drop``, the lowest
          point in the first ``descent_window_s`` of the burst (a sit-down drops early, then
          settles, so its end is rarely still and the whole burst's change says little). A
          stand-up: ``dh``, the whole burst's change, still at both ends (a stand-up ends still);
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
            if drop <= -h:
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

    def _descent(self, burst: _Burst, post: float) -> float:
        """Lowest height (m) in the first ``descent_window_s`` of a burst, from rest before it.

        Integrating twice needs a known velocity: zero at rest. A burst straight out of a walk
        does not start at rest (the last steps still move the pelvis), but it ends at rest (the
        still frame that closed it), so there the height change is integrated backwards from
        that end, with the still level after it as the baseline.
        """
        pre = self._state.last_still_av
        if pre is None:
            return min(0.0, self._height_change_from_end(burst, post))
        n = max(1, round(self.config.descent_window_s / burst.dt))
        av = np.concatenate(burst.av)[:n] - pre
        h = np.cumsum(np.cumsum(av)) * burst.dt * burst.dt
        return float(min(0.0, h.min()))

    @staticmethod
    def _height_change_from_end(burst: _Burst, post: float) -> float:
        """Height change (m) from the burst's start to its still end, velocity zero at the end."""
        av = np.concatenate(burst.av) - post
        v = -np.cumsum(av[::-1])[::-1] * burst.dt  # v[k]: what is left to stop by the end
        v = np.append(v[1:], 0.0)
        return float(np.sum(v) * burst.dt)

    def _height_change(self, burst: _Burst, f: Frame) -> float:
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

    def _bookkeep(self, f: Frame, posture: Posture, snaps: list[ActivitySnapshot]) -> None:
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

    def _learn_baseline(self, f: Frame) -> None:
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

    def _update_zone(self, f: Frame, posture: Posture) -> None:
        s = self._state
        if posture is Posture.SITTING:
            base = s.sitting_baseline
        elif posture is Posture.STANDING:
            base = 0.0
        else:
            # walking, lying, unknown: tilt zones do not apply; the clock restarts afterwards
            if s.zone is not TiltZone.NEUTRAL:
                self._set_zone(TiltZone.NEUTRAL, f.start)
            return
        if not self.heading_known:
            # Sagittal and frontal are mixed by an unknown angle until the forward axis is
            # known: a slump could read as "left hip low". No zone, so no tilt nudge and no
            # one-sided exercise on a guess.
            zone = TiltZone.NEUTRAL
        else:
            zone = tilt_zone(f.sagittal - base, f.frontal, s.zone, self.config)
        if zone is not s.zone:
            self._set_zone(zone, f.start)
        if zone is not TiltZone.NEUTRAL:
            s.hold_seconds[zone] = s.hold_seconds.get(zone, 0.0) + (f.end - f.start)

    def _set_zone(self, zone: TiltZone, t: float) -> None:
        s = self._state
        in_hold = s.zone is not TiltZone.NEUTRAL and zone is not TiltZone.NEUTRAL
        s.zone = zone
        if not in_hold:  # from or back to neutral: a new hold, or none
            s.zone_since = t
            s.hold_seconds = {}
            s.hold_zone = None

    def _sustained(self, now: float) -> TiltZone | None:
        """The zone of a hold that has lasted ``sustained_s``: the one it spent most time in,
        fixed when the hold became sustained (so one hold is one sustained tilt)."""
        s = self._state
        held = now - s.zone_since >= self.config.sustained_s - 1e-9
        if s.zone is TiltZone.NEUTRAL or not held:
            return None
        if s.hold_zone is None:
            s.hold_zone = max(s.hold_seconds, key=lambda z: s.hold_seconds[z], default=s.zone)
        return s.hold_zone

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


__all__ = [
    "PostureClassifier",
    "PostureResult",
    "PostureUpdate",
    "SittingBout",
    "classify",
    "sitting_time_s",
    "tilt_zone",
]
