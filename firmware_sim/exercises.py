"""The wearer doing the coach's exercises: seeded motions with ground truth for every repetition.

Scenario names (``sim:NAME``, ``simulate(NAME)``):

- ``coach_range``: the pelvic range test: stand still, tilt fully forward and back three times,
  hitch the right hip three times, then the left.
- ``coach:ITEM,ITEM,...``: a routine, each ITEM ``MOVEMENT:REPS`` (``REPS`` is ``N``, or
  ``L/R`` per side, left done first) or ``hold:SECONDS`` (``hold:SECONDSx2``: once a side).
  Movements: ``pelvic_tilt_standing``, ``pelvic_tilt_seated``, ``bridge`` (lying on the back),
  ``hip_hike`` (standing on one leg on a step, the free hip dropped and lifted level),
  ``side_leg_raise`` (lying on the side, the top leg lifted).

Every session opens as the calibration protocol does (a still stand, a straight walk, a stand)
so the live pipeline can find the mounting. The person (range, tempo, holds, form, cross-talk
into the other axis, a side stronger than the other, sets stopped early) is drawn from the seed;
the sensor's mounting is drawn by the simulation from the same seed. :func:`exercise_truth`
gives what was done: every set, every repetition, its true range (the pelvis's turn about the
movement's axis from the set's rest, evaluated on the motion itself).

The counting contract is the coach's own (docs/coach.md); this module writes its side of it
without importing the monitor, as the firmware would.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from firmware_sim.motion import Activity, MotionModel, Segment, TiltZone
from firmware_sim.scenarios import _Builder

RANGE_TEST = "coach_range"
PREFIX = "coach:"
MOVEMENTS = (
    "pelvic_tilt_standing",
    "pelvic_tilt_seated",
    "bridge",
    "hip_hike",
    "side_leg_raise",
)
_SAGITTAL, _FRONTAL = "sagittal", "frontal"
_AXIS_OF = {
    "pelvic_tilt_standing": _SAGITTAL,
    "pelvic_tilt_seated": _SAGITTAL,
    "bridge": _SAGITTAL,
    "hip_hike": _FRONTAL,
    "side_leg_raise": _FRONTAL,
    "range_sagittal": _SAGITTAL,
    "range_frontal": _FRONTAL,
}


@dataclass(frozen=True, slots=True)
class RepTruth:
    set_index: int
    movement: str
    side: str  # "left"/"right" (the working side), "" for an exercise without sides
    t_start: float  # true time, s
    t_end: float
    direction: int  # the sign of the main turn (+ anterior / right side lower)
    range_deg: float  # true turn at the peak from the set's rest (both ways for pelvic tilts)
    peak_deg: float  # the true tilt at the peak (sagittal or frontal), for the range test


@dataclass(frozen=True, slots=True)
class SetTruth:
    index: int
    movement: str
    side: str
    asked: int  # what the routine asked for (0 for a hold)
    done: int  # repetitions actually done
    t_start: float
    t_end: float
    seconds: float = 0.0  # a hold's length


@dataclass(frozen=True, slots=True)
class ExerciseTruth:
    name: str
    seed: int
    sets: tuple[SetTruth, ...]
    reps: tuple[RepTruth, ...]
    neutral: tuple[float, float]  # the range test's relaxed stand (sagittal, frontal), true
    segments: tuple[Segment, ...]


@dataclass(frozen=True, slots=True)
class _Person:
    scale: float  # overall range
    tempo: float  # seconds for a move one way
    tempo_sd: float
    pause: float  # at rest between repetitions
    hold_factor: float  # of the natural hold
    variation: float  # rep-to-rep range variation (fraction)
    crosstalk: float  # the other axis moves this fraction along
    weak_left: float  # the left side's range relative to the right
    pause_at_neutral: bool  # pelvic tilts: a stop in the middle, or straight through
    quits_early: float  # chance of stopping a set short


def _person(rng: np.random.Generator) -> _Person:
    return _Person(
        scale=float(rng.uniform(0.75, 1.3)),
        tempo=float(rng.uniform(0.8, 1.9)),
        tempo_sd=float(rng.uniform(0.05, 0.2)),
        pause=float(rng.uniform(0.3, 1.5)),
        hold_factor=float(rng.uniform(0.6, 1.2)),
        variation=float(rng.uniform(0.05, 0.2)),
        crosstalk=float(rng.uniform(0.0, 0.25)) * (1 if rng.random() < 0.5 else -1),
        weak_left=float(rng.uniform(0.75, 1.25)),
        pause_at_neutral=bool(rng.random() < 0.5),
        quits_early=float(rng.uniform(0.0, 0.15)),
    )


class _Session:
    """Builds the segments and remembers what each repetition was meant to be."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.b = _Builder(rng)
        self.p = _person(rng)
        self.sets: list[SetTruth] = []
        # (set, movement, side, start, end, direction, start of the way back for two-way ones)
        self.planned: list[tuple[int, str, str, float, float, int, float]] = []
        # the rest (sagittal, frontal) the body settles in for the current set
        self.sag = 0.0
        self.fro = 0.0
        self.activity = Activity.STANDING
        self.neutral_t = (0.0, 1.0)  # the range test's relaxed stand (true time span)

    # --- building blocks ---

    def hold(self, dur: float, activity: Activity | None = None, ramp: float = 1.0) -> float:
        """Rest still in the current position (sway only)."""
        act = activity or self.activity
        return self.b.add(
            Segment(
                act,
                dur,
                zone=TiltZone.NONE,
                sagittal_deg=self.sag,
                frontal_deg=self.fro,
                ramp_s=ramp,
                turns=False,
                fidget=0.0,
            )
        )

    def move(self, sag: float, fro: float, ramp: float, hold: float) -> float:
        return self.b.add(
            Segment(
                self.activity,
                ramp + hold,
                zone=TiltZone.NONE,
                sagittal_deg=sag,
                frontal_deg=fro,
                ramp_s=ramp,
                turns=False,
                fidget=0.0,
            )
        )

    def go_to(self, activity: Activity, sag: float, fro: float, settle: float) -> None:
        self.activity = activity
        self.sag, self.fro = sag, fro
        ramp = float(self.rng.uniform(1.5, 3.0))
        self.hold(ramp + settle, ramp=ramp)  # the move, then still for ``settle``

    def tempo(self) -> float:
        return max(0.5, self.p.tempo * float(1.0 + self.rng.normal(0.0, self.p.tempo_sd)))

    def opening(self) -> None:
        b = self.b
        b.stand(5.0, still=True)
        b.walk(13.0, turns=False)  # straight, so the forward axis can be found (8 s or more)
        self.activity = Activity.STANDING
        self.sag = float(np.clip(self.rng.normal(0.0, 1.0), -2.5, 2.5))
        self.fro = float(np.clip(self.rng.normal(0.0, 0.8), -2.0, 2.0))
        self.hold(float(self.rng.uniform(9.0, 11.0)))

    # --- the range test ---

    def range_test(self) -> None:
        rng, p = self.rng, self.p
        t_still = self.hold(float(rng.uniform(4.0, 6.0)))  # "stand tall and relaxed"
        self.neutral_t = (t_still + 2.0, t_still + 3.5)
        fwd = float(rng.uniform(10.0, 20.0)) * p.scale
        back = float(rng.uniform(8.0, 18.0)) * p.scale
        s0, f0 = self.sag, self.fro
        for _ in range(3):
            a = fwd * (1 + rng.normal(0.0, 0.5 * p.variation))
            c = back * (1 + rng.normal(0.0, 0.5 * p.variation))
            self._plan(
                -1,
                "range_sagittal",
                "",
                1,
                self.move(
                    s0 + a,
                    f0 + p.crosstalk * 0.3 * a,
                    self.tempo() * 1.3,
                    float(rng.uniform(0.3, 1.0)),
                ),
            )
            self._plan(
                -1,
                "range_sagittal",
                "",
                -1,
                self.move(
                    s0 - c,
                    f0 - p.crosstalk * 0.3 * c,
                    self.tempo() * 2.0,
                    float(rng.uniform(0.3, 1.0)),
                ),
            )
        self.move(s0, f0, self.tempo() * 1.3, float(rng.uniform(2.0, 3.5)))
        up_right = float(rng.uniform(4.0, 10.0)) * p.scale
        up_left = up_right * p.weak_left
        for side, sign, size in (("right", -1, up_right), ("left", 1, up_left)):
            for _ in range(3):
                a = size * (1 + rng.normal(0.0, 0.5 * p.variation))
                self._plan(
                    -1,
                    "range_frontal",
                    side,
                    sign,
                    self.move(s0, f0 + sign * a, self.tempo(), float(rng.uniform(0.3, 1.0))),
                )
                self.move(s0, f0, self.tempo(), float(rng.uniform(0.4, 1.2)))
            self.hold(float(rng.uniform(1.0, 2.0)))
        self.hold(8.0)

    def _plan(self, set_index: int, movement: str, side: str, direction: int, t0: float) -> None:
        # the truth is measured on the motion later; here only where to look
        self.planned.append((set_index, movement, side, t0, self.b.t, direction, 0.0))

    # --- routine sets ---

    def exercise(self, movement: str, asked: dict[str, int]) -> None:
        rng = self.rng
        sides = [s for s in ("left", "right") if asked.get(s)] or [""]
        short_any = False
        for n, side in enumerate(sides):
            target = asked.get(side, 0) if side else asked[""]
            done = target
            if target > 3 and rng.random() < self.p.quits_early:
                done = target - int(rng.integers(1, 4))
                short_any = True
            self._position(movement, side, first=n == 0)
            index = len(self.sets)
            t0 = self.b.t
            self._reps(index, movement, side, done)
            self.hold(float(rng.uniform(1.5, 3.0)))
            self.sets.append(SetTruth(index, movement, side, target, done, t0, self.b.t))
        if short_any:
            self.hold(15.0)  # stopped early: the coach moves on after a while without a rep
        else:
            self.hold(float(rng.uniform(1.5, 3.5)))

    def timed(self, seconds: float, sides: int) -> None:
        rng = self.rng
        for n in range(sides):
            self.go_to(
                Activity.STANDING,
                float(rng.uniform(-12.0, -4.0)),
                float(rng.normal(0.0, 2.0)),
                float(rng.uniform(2.0, 3.0)),
            )
            t0 = self.b.t
            self.hold(seconds + float(rng.uniform(1.0, 2.0)))
            side = ("left", "right")[n] if sides == 2 else ""
            self.sets.append(SetTruth(len(self.sets), "hold", side, 0, 0, t0, self.b.t, seconds))
            if n + 1 < sides:
                self.go_to(Activity.STANDING, 0.0, 0.0, 3.0)  # change sides
        self.go_to(Activity.STANDING, 0.0, 0.0, float(rng.uniform(2.0, 3.0)))

    def _position(self, movement: str, side: str, *, first: bool) -> None:
        rng = self.rng
        settle = float(rng.uniform(2.0, 3.5))
        if movement == "pelvic_tilt_standing":
            self.go_to(
                Activity.STANDING, float(rng.normal(0.0, 1.5)), float(rng.normal(0.0, 1.0)), settle
            )
        elif movement == "pelvic_tilt_seated":
            self.go_to(
                Activity.SITTING,
                float(rng.uniform(-12.0, -4.0)),
                float(rng.normal(0.0, 1.0)),
                settle,
            )
        elif movement == "bridge":
            self.go_to(
                Activity.LYING,
                -float(rng.uniform(80.0, 87.0)),
                float(rng.normal(0.0, 2.0)),
                settle + 1.0,
            )
        elif movement == "hip_hike":
            # standing level on the working leg on a step; a side change takes stepping off,
            # turning and settling on the other leg
            if not first:
                self.go_to(Activity.STANDING, self.sag, 0.0, float(rng.uniform(4.0, 6.0)))
            self.go_to(
                Activity.STANDING, float(rng.normal(0.0, 1.5)), float(rng.normal(0.0, 1.0)), settle
            )
        elif movement == "side_leg_raise":
            # lying on the right side (frontal +) the left leg is on top and works
            sign = 1 if side == "left" else -1
            if not first:
                self.go_to(
                    Activity.LYING, -float(rng.uniform(75.0, 85.0)), 0.0, 1.0
                )  # over the back
            self.go_to(
                Activity.LYING,
                float(rng.uniform(0.0, 15.0)),
                sign * float(rng.uniform(78.0, 88.0)),
                settle + 1.0,
            )
        else:
            raise ValueError(f"unknown movement {movement!r}; known: {', '.join(MOVEMENTS)}")

    def _reps(self, index: int, movement: str, side: str, count: int) -> None:
        rng, p = self.rng, self.p
        s0, f0 = self.sag, self.fro
        weak = p.weak_left if side == "left" else 1.0

        def size(lo: float, hi: float) -> float:
            # nobody doing the exercise moves the pelvis less than ``lo`` (each way)
            return max(lo, float(rng.uniform(lo, hi)) * p.scale * weak)

        if movement in ("pelvic_tilt_standing", "pelvic_tilt_seated"):
            fwd, back = (
                (size(8.0, 16.0), size(7.0, 14.0))
                if movement.endswith("standing")
                else (size(7.0, 13.0), size(8.0, 15.0))
            )
            for _ in range(count):
                a = max(6.0, fwd * (1 + float(np.clip(rng.normal(0.0, p.variation), -0.3, 0.3))))
                c = max(6.0, back * (1 + float(np.clip(rng.normal(0.0, p.variation), -0.3, 0.3))))
                t0 = self.move(
                    s0 + a, f0 + p.crosstalk * 0.2 * a, self.tempo(), float(rng.uniform(0.0, 0.6))
                )
                t_back = self.move(
                    s0 - c,
                    f0 - p.crosstalk * 0.2 * c,
                    self.tempo() * (1.0 if p.pause_at_neutral else 1.8),
                    float(rng.uniform(0.0, 0.6)),
                )
                if p.pause_at_neutral:
                    self.move(s0, f0, self.tempo(), p.pause)
                self.planned.append((index, movement, "", t0, self.b.t, 0, t_back))
            self.move(s0, f0, self.tempo(), 0.5)
            return
        if movement == "bridge":
            floor = 12.0
            main, sign, natural_hold = size(floor, 28.0), -1, 2.0
        elif movement == "hip_hike":
            # the free hip drops (standing on the left, the right side goes lower: frontal +)
            # and lifts back level, where the three-second hold is
            floor = 4.0
            main, sign, natural_hold = size(floor, 9.0), (1 if side == "left" else -1), 0.3
        else:  # side_leg_raise: the top hip rises with the leg
            floor = 4.5
            main, sign, natural_hold = size(floor, 10.0), (1 if side == "left" else -1), 1.0
        for _ in range(count):
            a = max(floor, main * (1 + float(np.clip(rng.normal(0.0, p.variation), -0.3, 0.3))))
            hold = natural_hold * p.hold_factor * float(rng.uniform(0.8, 1.2))
            cross = p.crosstalk * a  # form: the other axis moves a little along
            ds, df = (sign * a, cross) if _AXIS_OF[movement] == _SAGITTAL else (cross, sign * a)
            t0 = self.move(s0 + ds, f0 + df, self.tempo(), hold)
            rest = p.pause + (3.0 * p.hold_factor if movement == "hip_hike" else 0.0)
            self.move(s0, f0, self.tempo(), rest)
            self.planned.append((index, movement, side, t0, self.b.t, sign, 0.0))


def is_exercise_scenario(name: str) -> bool:
    return name == RANGE_TEST or name.startswith(PREFIX)


def routine_items(name: str) -> list[tuple[str, dict[str, int], float, int]]:
    """Parse ``coach:...``: (movement, reps by side or under "", hold seconds, hold sides)."""
    body = name[len(PREFIX) :]
    items: list[tuple[str, dict[str, int], float, int]] = []
    for part in filter(None, body.split(",")):
        movement, _, count = part.partition(":")
        try:
            if movement == "hold":
                secs, _, times = count.partition("x")
                items.append(("hold", {}, float(secs), int(times or 1)))
            elif movement in MOVEMENTS:
                if "/" in count:
                    left, right = (int(x) for x in count.split("/"))
                    if min(left, right) < 0:
                        raise ValueError
                    items.append((movement, {"left": left, "right": right}, 0.0, 0))
                elif movement in ("hip_hike", "side_leg_raise"):
                    items.append((movement, {"left": int(count), "right": int(count)}, 0.0, 0))
                else:
                    items.append((movement, {"": int(count)}, 0.0, 0))
            else:
                raise KeyError(movement)
        except (ValueError, KeyError):
            raise ValueError(
                f"bad exercise item {part!r}: use MOVEMENT:N, MOVEMENT:L/R or hold:SECONDS[x2];"
                f" movements: {', '.join(MOVEMENTS)}"
            ) from None
    if not items:
        raise ValueError("a coach: scenario needs at least one item")
    return items


def _session(name: str, rng: np.random.Generator) -> _Session:
    s = _Session(rng)
    s.opening()
    if name == RANGE_TEST:
        s.range_test()
        return s
    for movement, reps, seconds, sides in routine_items(name):
        if movement == "hold":
            s.timed(seconds, sides)
        else:
            s.exercise(movement, reps)
    s.go_to(Activity.STANDING, 0.0, 0.0, 10.0)
    return s


def build_segments(name: str, rng: np.random.Generator) -> list[Segment]:
    """The segments (for ``firmware_sim.scenarios.build_scenario``)."""
    return _session(name, rng).b.segs


def exercise_truth(name: str, seed: int = 0) -> ExerciseTruth:
    """What the simulated wearer did in scenario ``name`` for ``seed``: sets and repetitions,
    with true ranges measured on the motion itself."""
    from firmware_sim.scenarios import scenario_rng

    s = _session(name, scenario_rng(seed))
    motion = MotionModel(s.b.segs, seed=seed)
    reps: list[RepTruth] = []
    rests: dict[int, np.ndarray] = {}
    for index, done in enumerate(s.sets):
        # the set's rest: the still moment before its first repetition
        first = next((p for p in s.planned if p[0] == index), None)
        t_rest = (first[3] - 0.5) if first is not None else done.t_start + 0.5
        rests[index] = _up(motion, np.linspace(t_rest - 0.8, t_rest, 40)).mean(axis=0)
    state = motion.evaluate(np.linspace(*s.neutral_t, 50))
    neutral = (float(state.sagittal_deg.mean()), float(state.frontal_deg.mean()))
    for index, movement, side, t0, t1, direction, t_back in s.planned:
        tt = np.arange(t0, t1, 0.01)
        if index < 0:  # the range test: true tilt at the peak
            st = motion.evaluate(tt)
            values = st.sagittal_deg if _AXIS_OF[movement] == _SAGITTAL else st.frontal_deg
            peak = float(values.max() if direction > 0 else values.min())
            ref = neutral[0] if _AXIS_OF[movement] == _SAGITTAL else neutral[1]
            reps.append(RepTruth(index, movement, side, t0, t1, direction, abs(peak - ref), peak))
            continue
        turn = _rotation(_AXIS_OF[movement], rests[index], _up(motion, tt))
        if direction == 0:
            # this repetition's way forward, then its way back (the way forward starts where
            # the last repetition's way back ended)
            back = tt >= t_back
            peak = float(turn[~back].max())
            rng_deg = peak - float(turn[back].min())
        else:
            rng_deg = float((direction * turn).max())
            peak = float(direction * rng_deg)
        reps.append(RepTruth(index, movement, side, t0, t1, direction, rng_deg, peak))
    return ExerciseTruth(name, seed, tuple(s.sets), tuple(reps), neutral, tuple(s.b.segs))


def _up(motion: MotionModel, t: np.ndarray) -> np.ndarray:
    """Earth up in the pelvis frame (the truth tilt folds past ±90°; the quaternion does not)."""
    q = motion.evaluate(t).q_EP
    w, x, y, z = q[:, 0], q[:, 1], q[:, 2], q[:, 3]
    return np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], axis=-1)


def _rotation(axis: str, rest: np.ndarray, up: np.ndarray) -> np.ndarray:
    """Degrees the pelvis turned about its own axis from the rest (up turns the other way)."""
    a = np.array([0.0, 1.0, 0.0]) if axis == _SAGITTAL else np.array([1.0, 0.0, 0.0])
    r = rest - np.dot(rest, a) * a
    u = up - np.outer(up @ a, a)
    return np.asarray(-np.degrees(np.arctan2(np.cross(r, u) @ a, u @ r)))


__all__ = [
    "MOVEMENTS",
    "RANGE_TEST",
    "ExerciseTruth",
    "RepTruth",
    "SetTruth",
    "build_segments",
    "exercise_truth",
    "is_exercise_scenario",
    "routine_items",
]
