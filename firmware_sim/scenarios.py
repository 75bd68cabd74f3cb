"""Named, seeded scenarios: lists of motion segments for tests, demos and the 8-hour office day.

Every builder draws only from the generator it is given, so a (name, seed) pair always yields the
same segments. Transitions (sit-down, stand-up, lie-down, get-up) are inserted automatically
whenever the body class changes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from firmware_sim.motion import Activity, MotionModel, Segment, TiltZone

_SCENARIO_STREAM = 0x5C


@dataclass(frozen=True, slots=True)
class Scenario:
    """A realised scenario: the segments for one seed."""

    name: str
    seed: int
    segments: tuple[Segment, ...]

    @property
    def duration_s(self) -> float:
        return float(sum(s.duration_s for s in self.segments))

    def motion(self) -> MotionModel:
        """The ground-truth motion (fidgets and turns are seeded from the same seed)."""
        return MotionModel(self.segments, seed=self.seed)


@dataclass(frozen=True, slots=True)
class ScenarioSpec:
    name: str
    description: str
    build: Callable[[np.random.Generator], list[Segment]]


def _class(activity: Activity) -> int:
    if activity is Activity.SITTING:
        return 1
    if activity is Activity.LYING:
        return 2
    if activity is Activity.NOT_WORN:
        return 3
    return 0


class _Builder:
    """Appends segments, inserting a transition whenever the body class changes."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.segs: list[Segment] = []
        self.t = 0.0
        # the wearer's habitual upright sitting posture, relative to neutral standing
        self.upright = float(rng.uniform(-12.0, -5.0))

    def _cls(self) -> int | None:
        for s in reversed(self.segs):
            if s.activity is not Activity.TRANSITION:
                return _class(s.activity)
        return None

    def add(self, seg: Segment, *, transition_s: float | None = None) -> float:
        """Append (after a transition if needed); returns the segment's start time.

        ``transition_s`` sets the length of that transition (a collapse into a chair is fast).
        """
        cur = self._cls()
        new = _class(seg.activity)
        if cur is not None and cur != new:
            lying = 2 in (cur, new)
            dur = self.rng.uniform(3.0, 5.0) if lying else self.rng.uniform(2.0, 3.0)
            dur = dur if transition_s is None else transition_s
            self._append(Segment(Activity.TRANSITION, float(dur), zone=TiltZone.NONE))
        start = self.t
        self._append(seg)
        return start

    def _append(self, seg: Segment) -> None:
        self.segs.append(seg)
        self.t += seg.duration_s

    def extend_last(self, extra: float) -> None:
        last = self.segs[-1]
        self.segs[-1] = replace(last, duration_s=last.duration_s + extra)
        self.t += extra

    @property
    def last(self) -> Segment:
        return self.segs[-1]

    # --- activities ---

    def stand(
        self,
        dur: float,
        *,
        still: bool = False,
        lean: TiltZone = TiltZone.NEUTRAL,
        turns: bool = True,
    ) -> float:
        rng = self.rng
        if still:
            # the calibration reference: neutral by definition, no fidgets
            return self.add(Segment(Activity.STANDING, dur, sagittal_deg=0.0, fidget=0.0))
        sag = float(np.clip(rng.normal(0.0, 0.8), -2.0, 2.0))
        fro = float(np.clip(rng.normal(0.0, 0.6), -1.5, 1.5))
        if lean is not TiltZone.NEUTRAL:
            # weight on one leg: the unloaded side of the pelvis drops
            fro = _lean(rng, lean)
        return self.add(
            Segment(
                Activity.STANDING,
                dur,
                zone=lean,
                sagittal_deg=sag,
                frontal_deg=fro,
                ramp_s=float(rng.uniform(1.0, 2.5)),
                turns=turns,
            )
        )

    def walk(self, dur: float, *, turns: bool = True, slow: bool = False) -> float:
        rng = self.rng
        if slow:
            # slow, short-stepped gait (older or tired walkers): about 0.6–0.85 m/s
            step = float(rng.uniform(1.3, 1.6))
            speed = step * float(rng.uniform(0.45, 0.53))
        else:
            step = float(rng.uniform(1.8, 2.0))
            speed = step * float(rng.uniform(0.6, 0.72))  # step length 0.60–0.72 m
        return self.add(
            Segment(
                Activity.WALKING,
                dur,
                sagittal_deg=float(rng.normal(1.0, 0.8)),
                frontal_deg=float(rng.normal(0.0, 0.5)),
                ramp_s=1.0,
                speed_mps=speed,
                step_hz=step,
                turns=turns,
            )
        )

    def bend(self, hold: float) -> float:
        """Bend forward from standing to pick something up, hold, straighten up (standing)."""
        rng = self.rng
        down = float(rng.uniform(0.8, 1.5))
        self.add(
            Segment(
                Activity.STANDING,
                down + hold,
                sagittal_deg=float(rng.uniform(30.0, 50.0)),
                frontal_deg=float(rng.normal(0.0, 2.0)),
                ramp_s=down,
                turns=False,
                fidget=0.0,
            )
        )
        return self.stand(float(rng.uniform(1.0, 2.0)) + 6.0)

    def sit(
        self,
        dur: float,
        zone: TiltZone = TiltZone.NEUTRAL,
        *,
        ramp: float = 2.0,
        transition_s: float | None = None,
    ) -> float:
        rng = self.rng
        sag = self.upright + float(rng.normal(0.0, 1.0))
        fro = float(np.clip(rng.normal(0.0, 0.8), -2.0, 2.0))
        if zone is TiltZone.POSTERIOR:
            sag = float(rng.uniform(-25.0, -15.0))
        elif zone is TiltZone.ANTERIOR:
            sag = float(rng.uniform(8.0, 15.0))
        elif zone in (TiltZone.LEFT, TiltZone.RIGHT):
            fro = _lean(rng, zone)
        return self.add(
            Segment(
                Activity.SITTING, dur, zone=zone, sagittal_deg=sag, frontal_deg=fro, ramp_s=ramp
            ),
            transition_s=transition_s,
        )

    def lie(self, dur: float, side: str = "supine") -> float:
        rng = self.rng
        if side == "supine":
            sag, fro = -float(rng.uniform(80.0, 87.0)), float(rng.normal(0.0, 2.0))
        else:
            # on the left side the left hip is lowest: frontal −90° (right side lower is +)
            sign = -1.0 if side == "left" else 1.0
            sag, fro = float(rng.uniform(0.0, 15.0)), sign * float(rng.uniform(78.0, 88.0))
        return self.add(
            Segment(
                Activity.LYING,
                dur,
                zone=TiltZone.NONE,
                sagittal_deg=sag,
                frontal_deg=fro,
                ramp_s=float(rng.uniform(2.5, 4.0)),
            )
        )

    def off(self, dur: float, place: str = "desk") -> float:
        """The sensor taken off and left lying still: flat on a desk (on its back, as a clip
        lies), or in a bag in any orientation, possibly one a sitting wearer's pelvis has."""
        rng = self.rng
        if place == "desk":
            sag, fro = -float(rng.uniform(86.0, 90.0)), float(rng.normal(0.0, 1.5))
        else:
            sag, fro = self.upright + float(rng.normal(0.0, 2.0)), float(rng.normal(0.0, 3.0))
        return self.add(
            Segment(
                Activity.NOT_WORN,
                dur,
                zone=TiltZone.NONE,
                sagittal_deg=sag,
                frontal_deg=fro,
                ramp_s=1.0,
                turns=False,
                fidget=0.0,
            ),
            transition_s=float(rng.uniform(1.5, 3.0)),
        )


def _lean(rng: np.random.Generator, zone: TiltZone) -> float:
    mag = float(rng.uniform(5.0, 10.0))
    return -mag if zone is TiltZone.LEFT else mag


# --- the office day ------------------------------------------------------------------------

_MIN = 60.0
DAY_S = 8 * 3600.0
BOUT_MIN_S = 20 * _MIN
BOUT_MAX_S = 70 * _MIN


def _sitting_bout(b: _Builder, length: float, must: str | None = None) -> None:
    """Exactly ``length`` s from the first sitting sample to the last, short stand-ups included.

    Slumping creeps in over minutes and grows likelier as the bout wears on; the wearer sometimes
    corrects, leans to one side, leans forward to read, or stands up briefly (< 1 min). ``must``
    names an episode the bout is sure to contain (the day uses it to guarantee variety).
    """
    rng = b.rng
    start = b.sit(min(length, rng.uniform(2.0, 10.0) * _MIN), TiltZone.NEUTRAL)
    end = start + length
    while True:
        rem = end - b.t
        if rem < 90.0:
            if rem > 0.0:
                if b.last.activity is Activity.SITTING:
                    b.extend_last(rem)
                else:
                    b.sit(rem)
            return
        progress = (b.t - start) / length
        zone = b.last.zone
        options = ["slump", "lean", "anterior", "standup", "upright"]
        weights = np.array([0.25 + 0.4 * progress, 0.15, 0.12, 0.15, 0.0])
        if zone is not TiltZone.NEUTRAL:
            weights[4] = 0.6  # corrections back to upright are common
        if zone is TiltZone.POSTERIOR:
            weights[0] = 0.0
        if rem < 300.0:
            weights[3] = 0.0
        choice = options[int(rng.choice(5, p=weights / weights.sum()))]
        if must is not None and (must != "standup" or rem >= 300.0):
            choice, must = must, None
        if choice == "standup":
            b.stand(float(rng.uniform(10.0, 40.0)))
            b.sit(min(rem - 60.0, rng.uniform(1.0, 8.0) * _MIN), ramp=2.0)
        elif choice == "slump":
            ramp = min(rng.uniform(2.0, 10.0) * _MIN, 0.5 * rem)
            b.sit(min(rem, ramp + rng.uniform(2.0, 15.0) * _MIN), TiltZone.POSTERIOR, ramp=ramp)
        elif choice == "lean":
            side = TiltZone.LEFT if rng.random() < 0.5 else TiltZone.RIGHT
            b.sit(min(rem, rng.uniform(0.5, 5.0) * _MIN), side, ramp=float(rng.uniform(2.0, 5.0)))
        elif choice == "anterior":
            dur = min(rem, rng.uniform(1.0, 5.0) * _MIN)
            b.sit(dur, TiltZone.ANTERIOR, ramp=float(rng.uniform(1.5, 3.0)))
        else:
            b.sit(min(rem, rng.uniform(2.0, 12.0) * _MIN), ramp=float(rng.uniform(1.5, 4.0)))


def _break(b: _Builder, length: float, *, lunch: bool = False) -> None:
    """Standing and walking for exactly ``length`` s (the transitions around it not counted)."""
    rng = b.rng
    end = b.stand(float(rng.uniform(5.0, 15.0))) + length
    out = (end - b.t) * (rng.uniform(0.3, 0.45) if lunch else rng.uniform(0.15, 0.35))
    b.walk(out)
    rem = end - b.t
    stop = rem * (rng.uniform(0.15, 0.3) if lunch else rng.uniform(0.3, 0.6))
    if rng.random() < 0.5 and stop > 60.0:
        # at the coffee machine or in the queue, hanging on one hip for a while
        lean = TiltZone.LEFT if rng.random() < 0.5 else TiltZone.RIGHT
        first = stop * rng.uniform(0.3, 0.6)
        b.stand(first)
        b.stand(stop - first, lean=lean)
    else:
        b.stand(stop)
    b.walk(end - b.t)


def _office_day(rng: np.random.Generator) -> list[Segment]:
    b = _Builder(rng)
    b.stand(5.0, still=True)
    b.walk(float(rng.uniform(10.0, 20.0)), turns=False)
    b.walk(float(rng.uniform(30.0, 90.0)))  # arriving at the desk
    b.stand(float(rng.uniform(5.0, 20.0)))
    leave = float(rng.uniform(150.0, 240.0))  # the walk out at the end of the day
    reserve = leave + 10.0
    lunch_done = False
    # every day has brief stand-ups, a forward lean and a side lean, whatever the dice say
    musts: list[str | None] = ["standup", "standup", "anterior", "lean"]
    musts = [musts[i] for i in rng.permutation(len(musts))]
    while True:
        must = musts.pop() if musts else None
        avail = DAY_S - b.t - reserve - 3.0
        if avail <= BOUT_MAX_S:
            _sitting_bout(b, avail, must)
            break
        lunch = not lunch_done and b.t + 30 * _MIN >= 3.5 * 3600.0
        brk = rng.uniform(25.0, 40.0) * _MIN if lunch else rng.uniform(3.0, 10.0) * _MIN
        max_len = min(BOUT_MAX_S, avail - brk - 10.0 - BOUT_MIN_S)
        if max_len < BOUT_MIN_S:
            lunch, brk = False, 3 * _MIN
            max_len = min(BOUT_MAX_S, avail - brk - 10.0 - BOUT_MIN_S)
        if max_len < BOUT_MIN_S:
            _sitting_bout(b, min(avail, BOUT_MAX_S), must)
            break
        _sitting_bout(b, rng.uniform(BOUT_MIN_S, max_len), must)
        _break(b, brk, lunch=lunch)
        lunch_done = lunch_done or lunch
    b.stand(float(rng.uniform(5.0, 15.0)))
    b.walk(DAY_S - b.t)
    return b.segs


# --- short scenarios -----------------------------------------------------------------------


def _standing(rng: np.random.Generator) -> list[Segment]:
    b = _Builder(rng)
    b.stand(5.0, still=True)
    b.stand(55.0)
    return b.segs


def _sitting(rng: np.random.Generator) -> list[Segment]:
    b = _Builder(rng)
    b.stand(5.0, still=True)
    b.sit(120.0)
    return b.segs


def _slump(rng: np.random.Generator) -> list[Segment]:
    b = _Builder(rng)
    b.stand(5.0, still=True)
    b.walk(15.0, turns=False)  # to the desk: the walk tells the monitor which way is forward
    b.sit(60.0)
    b.sit(120.0, TiltZone.POSTERIOR, ramp=45.0)
    return b.segs


def _anterior(rng: np.random.Generator) -> list[Segment]:
    b = _Builder(rng)
    b.stand(5.0, still=True)
    b.sit(45.0)
    b.sit(75.0, TiltZone.ANTERIOR, ramp=3.0)
    b.sit(30.0, ramp=3.0)
    return b.segs


def _lateral(side: TiltZone) -> Callable[[np.random.Generator], list[Segment]]:
    def build(rng: np.random.Generator) -> list[Segment]:
        b = _Builder(rng)
        b.stand(5.0, still=True)
        b.stand(20.0)
        b.stand(40.0, lean=side)
        b.stand(15.0)
        b.sit(30.0)
        b.sit(60.0, side, ramp=3.0)
        b.sit(30.0, ramp=3.0)
        return b.segs

    return build


def _walk(rng: np.random.Generator) -> list[Segment]:
    b = _Builder(rng)
    b.stand(5.0, still=True)
    b.walk(120.0)
    b.stand(10.0)
    return b.segs


def _sit_stand(rng: np.random.Generator) -> list[Segment]:
    b = _Builder(rng)
    b.stand(5.0, still=True)
    for _ in range(6):
        b.sit(float(rng.uniform(8.0, 15.0)))
        b.stand(float(rng.uniform(6.0, 12.0)))
    return b.segs


def _lying(rng: np.random.Generator) -> list[Segment]:
    b = _Builder(rng)
    b.stand(5.0, still=True)
    b.sit(15.0)
    b.lie(60.0, "supine")
    b.lie(45.0, "left")
    b.lie(45.0, "right")
    b.sit(15.0)
    b.stand(10.0)
    return b.segs


def _desk_short(rng: np.random.Generator) -> list[Segment]:
    return _desk_short_into(_Builder(rng)).segs


def _desk_demo(rng: np.random.Generator) -> list[Segment]:
    # After the tour, an hour at the desk: a slump held past the tilt nudge's 20 minutes, and one
    # sitting bout past the gentle and firm nudges' 45 and 60 (defaults). Then sitting on.
    b = _desk_short_into(_Builder(rng))
    b.sit(10 * _MIN)
    b.sit(25 * _MIN, TiltZone.POSTERIOR, ramp=3 * _MIN)
    b.sit(30 * _MIN, ramp=1 * _MIN)
    return b.segs


def _desk_short_into(b: _Builder) -> _Builder:
    b.stand(5.0, still=True)
    b.walk(15.0, turns=False)
    b.walk(20.0)
    b.sit(30.0)
    b.sit(50.0, TiltZone.POSTERIOR, ramp=25.0)
    b.sit(20.0, ramp=2.0)
    b.sit(20.0, TiltZone.LEFT, ramp=3.0)
    b.sit(15.0, ramp=2.0)
    b.sit(20.0, TiltZone.RIGHT, ramp=3.0)
    b.sit(25.0, TiltZone.ANTERIOR, ramp=2.0)
    b.stand(15.0)  # a short stand-up
    b.sit(25.0)
    b.stand(10.0)
    b.walk(25.0)
    b.stand(15.0, lean=TiltZone.LEFT)
    b.stand(10.0)
    return b


def _desk(rng: np.random.Generator) -> list[Segment]:
    b = _Builder(rng)
    b.stand(5.0, still=True)
    b.walk(20.0, turns=False)
    b.sit(1200.0)
    # unclipped while seated and left in a bag on the chair: as upright as a sitting pelvis,
    # so only its stillness tells it from more sitting
    b.off(3600.0, "bag")
    b.stand(15.0)  # clipped on again, standing
    b.walk(60.0)
    b.sit(600.0)
    b.off(2700.0, "desk")  # left lying flat on the desk
    b.stand(15.0)
    b.walk(60.0)
    b.stand(30.0)
    return b.segs


def _still_sitting(rng: np.random.Generator) -> list[Segment]:
    b = _Builder(rng)
    b.stand(5.0, still=True)
    b.walk(20.0, turns=False)
    b.sit(3600.0)
    b.segs[-1] = replace(b.segs[-1], fidget=0.0)  # an hour without a shift: only sway
    b.stand(20.0)
    b.walk(30.0)
    return b.segs


def _slow_walk(rng: np.random.Generator) -> list[Segment]:
    b = _Builder(rng)
    b.stand(5.0, still=True)
    for _ in range(3):
        b.walk(float(rng.uniform(30.0, 60.0)), slow=True)
        b.stand(float(rng.uniform(15.0, 30.0)))  # the stop after a walk: quiet standing
    return b.segs


def _bend_pick_up(rng: np.random.Generator) -> list[Segment]:
    b = _Builder(rng)
    b.stand(5.0, still=True)
    b.walk(15.0, turns=False)
    b.stand(10.0)
    for _ in range(5):
        b.bend(float(rng.uniform(1.0, 3.0)))
        b.stand(float(rng.uniform(5.0, 15.0)))
    return b.segs


def _collapse_sit(rng: np.random.Generator) -> list[Segment]:
    b = _Builder(rng)
    b.stand(5.0, still=True)
    b.walk(15.0, turns=False)
    for _ in range(4):
        b.stand(float(rng.uniform(8.0, 15.0)))
        b.sit(float(rng.uniform(40.0, 60.0)), transition_s=float(rng.uniform(0.6, 0.9)))
    b.stand(15.0)
    return b.segs


def _calibration(rng: np.random.Generator) -> list[Segment]:
    b = _Builder(rng)
    b.stand(5.0, still=True)
    b.walk(10.0, turns=False)  # straight, so the forward axis can be found
    b.stand(5.0)
    b.sit(30.0)
    b.sit(30.0, TiltZone.POSTERIOR, ramp=10.0)
    b.stand(5.0)
    b.walk(20.0)
    b.stand(10.0)
    return b.segs


SCENARIOS: dict[str, ScenarioSpec] = {
    s.name: s
    for s in (
        ScenarioSpec("office_day", "8 h at a desk: bouts, slumps, breaks, lunch walk", _office_day),
        ScenarioSpec("standing", "quiet standing with sway and weight shifts (60 s)", _standing),
        ScenarioSpec("sitting", "upright sitting (2 min)", _sitting),
        ScenarioSpec(
            "slump", "a walk to the desk, upright sitting, then slumping in over 45 s", _slump
        ),
        ScenarioSpec("anterior", "upright, anterior tilt, upright again", _anterior),
        ScenarioSpec(
            "lateral_left", "left hip low: standing, then sitting", _lateral(TiltZone.LEFT)
        ),
        ScenarioSpec(
            "lateral_right", "right hip low: standing, then sitting", _lateral(TiltZone.RIGHT)
        ),
        ScenarioSpec("walk", "two minutes of walking with turns", _walk),
        ScenarioSpec("sit_stand", "six sit-down / stand-up cycles", _sit_stand),
        ScenarioSpec("lying", "supine, left side, right side, getting up", _lying),
        ScenarioSpec("desk_short", "a few minutes of everything, for demos", _desk_short),
        ScenarioSpec(
            "desk_demo",
            "desk_short, then an hour at the desk with a slump: nudges (try --sim-speed 60)",
            _desk_demo,
        ),
        ScenarioSpec(
            "calibration", "5 s still standing, 10 s straight walking, then more", _calibration
        ),
        ScenarioSpec("slow_walk", "slow, short-stepped walks (0.6–0.85 m/s) and stops", _slow_walk),
        ScenarioSpec(
            "bend_pick_up", "bending forward from standing to pick things up", _bend_pick_up
        ),
        ScenarioSpec("collapse_sit", "dropping fast into a chair (under a second)", _collapse_sit),
        ScenarioSpec(
            "desk",
            "the sensor left in a bag on the chair for an hour, later 45 min on the desk",
            _desk,
        ),
        ScenarioSpec(
            "still_sitting",
            "an hour of sitting without a single shift (still worn)",
            _still_sitting,
        ),
    )
}


def scenario_names() -> list[str]:
    return list(SCENARIOS)


def scenario_rng(seed: int) -> np.random.Generator:
    """The generator a scenario's segments are drawn from for ``seed``."""
    if seed < 0:
        raise ValueError("seed must be non-negative")
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, _SCENARIO_STREAM])))


def build_scenario(name: str, seed: int = 0) -> Scenario:
    """The segments of scenario ``name`` for ``seed`` (also the coach's exercise sessions,
    ``coach_range`` and ``coach:...``: see firmware_sim.exercises)."""
    from firmware_sim import exercises

    if exercises.is_exercise_scenario(name):
        segs = exercises.build_segments(name, scenario_rng(seed))
        return Scenario(name=name, seed=seed, segments=tuple(segs))
    spec = SCENARIOS.get(name)
    if spec is None:
        raise ValueError(
            f"unknown scenario {name!r}; valid names: {', '.join(scenario_names())},"
            " coach_range, coach:MOVEMENT:N,..."
        )
    rng = scenario_rng(seed)
    segs = spec.build(rng)
    if not math.isfinite(sum(s.duration_s for s in segs)):
        raise AssertionError("scenario durations must be finite")
    return Scenario(name=name, seed=seed, segments=tuple(segs))


__all__ = [
    "BOUT_MAX_S",
    "BOUT_MIN_S",
    "DAY_S",
    "SCENARIOS",
    "Scenario",
    "ScenarioSpec",
    "build_scenario",
    "scenario_names",
    "scenario_rng",
]
