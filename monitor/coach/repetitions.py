"""Counting one exercise's repetitions from the tilt, as the catalogue's sensor table describes.

The counter first waits for the wearer to rest still in the exercise's position (the rest found
is the reference: the mounting and the wearer's own neutral cancel out), then measures the
pelvis's turn about the exercise's axis from it with a :class:`StrokeDetector`. One stroke is a
repetition; for exercises done both ways (pelvic tilts) one stroke each way is. The side comes
from the movement (the hip that drops in a hip hike is the free one) or from the side lain on.
A change of position (rolling over, standing up) sends it back to look for the rest again.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from monitor.coach.angles import lying_on_right, position_of, rotation_about, up_in_pelvis
from monitor.coach.axes import Position, matches
from monitor.coach.strokes import PositionChange, Stroke, StrokeDetector
from monitor.exercises import Counted, Sides

REST_WINDOW_S = 1.0  # still this long to count as resting in a position
REST_SPREAD_DEG = 2.0  # "still": every sample within this of the window's mean direction
MOVED_COS = float(np.cos(np.radians(10.0)))  # a change of position turns the pelvis this much
REST_CHECK_S = 0.1  # look for the rest this often (not every sample)


class CounterState(enum.StrEnum):
    FINDING_REST = "finding_rest"  # waiting to rest still in the exercise's position
    READY = "ready"  # at rest, counting
    MOVING = "moving"  # in a stroke


@dataclass(frozen=True, slots=True)
class Repetition:
    number: int  # 1-based, per side
    side: str  # "left", "right", or "" for an exercise without sides
    t_start: float
    t_end: float
    range_deg: float  # the whole turn of this repetition (both ways for a two-way exercise)
    hold_s: float  # time at the top (the longer of the two for a two-way exercise)

    @property
    def duration_s(self) -> float:
        return self.t_end - self.t_start


@dataclass(slots=True)
class SideTally:
    count: int = 0
    ranges: list[float] = field(default_factory=list)

    @property
    def mean_range_deg(self) -> float | None:
        return float(np.mean(self.ranges)) if self.ranges else None


class RepetitionCounter:
    """Feed it tilt samples with their times; it returns the repetitions as they complete."""

    def __init__(self, spec: Counted, *, after_a_move: bool = False) -> None:
        """``after_a_move``: the wearer must change position first (from standing to sitting,
        which gravity alone cannot tell apart), so a rest counts only after a large move."""
        self.spec = spec
        self.awaiting_move = after_a_move
        self._first_up: npt.NDArray[np.float64] | None = None
        self.state = CounterState.FINDING_REST
        self.position: Position | None = None  # where the wearer rests now, if resting
        self.rest_up: npt.NDArray[np.float64] | None = None
        self.side_lain = ""  # for a lying-side exercise: the side that works
        self.tally: dict[str, SideTally] = {}
        self.repetitions: list[Repetition] = []
        self.last_angle = 0.0  # the latest turn from rest (degrees), for a live bar
        self._detector: StrokeDetector | None = None
        self._window: list[tuple[float, npt.NDArray[np.float64]]] = []
        self._next_check = -np.inf
        self._half: Stroke | None = None  # a two-way exercise: the first way done

    @property
    def count(self) -> int:
        return sum(t.count for t in self.tally.values())

    def count_for(self, side: str) -> int:
        tally = self.tally.get(side)
        return tally.count if tally else 0

    def feed(
        self,
        t: npt.ArrayLike,
        sagittal_deg: npt.ArrayLike,
        frontal_deg: npt.ArrayLike,
    ) -> list[Repetition]:
        tt = np.asarray(t, dtype=np.float64).reshape(-1)
        up = up_in_pelvis(sagittal_deg, frontal_deg).reshape(-1, 3)
        out: list[Repetition] = []
        i = 0
        while i < len(tt):
            if self.state is CounterState.FINDING_REST:
                i = self._find_rest(tt, up, i)
                continue
            assert self.rest_up is not None and self._detector is not None
            angles = rotation_about(self.spec.axis, self.rest_up, up[i:])
            for k, angle in enumerate(angles.tolist()):
                self.last_angle = angle
                ti = float(tt[i + k])
                self._remember(ti, up[i + k])
                result = self._detector.feed(ti, angle)
                if isinstance(result, PositionChange):
                    # settled still somewhere new: rest there if it will do, else look again
                    rest = self._still_rest()
                    if rest is not None and matches(self.spec.position, position_of(rest)):
                        self._settle(rest)
                    else:
                        self._lose_rest()
                    i += k + 1
                    break
                if isinstance(result, Stroke):
                    rep = self._repetition(result)
                    if rep is not None:
                        out.append(rep)
                self.state = CounterState.MOVING if self._detector.moving else CounterState.READY
            else:
                i = len(tt)
        return out

    def _remember(self, t: float, u: npt.NDArray[np.float64]) -> None:
        self._window.append((t, u))
        while self._window and self._window[0][0] < t - REST_WINDOW_S:
            self._window.pop(0)

    def _still_rest(self) -> npt.NDArray[np.float64] | None:
        """The mean up direction over the last REST_WINDOW_S if the pelvis held still, else None."""
        if len(self._window) < 2 or self._window[-1][0] - self._window[0][0] < 0.9 * REST_WINDOW_S:
            return None
        vectors = np.array([u for _, u in self._window])
        mean = vectors.mean(axis=0)
        mean /= np.linalg.norm(mean)
        spread = np.degrees(np.arccos(np.clip(vectors @ mean, -1.0, 1.0))).max()
        return mean if spread <= REST_SPREAD_DEG else None

    def _find_rest(self, t: npt.NDArray[np.float64], up: npt.NDArray[np.float64], i: int) -> int:
        """Consume samples from ``i`` until a rest is found (returns the index after it)."""
        while i < len(t):
            ti = float(t[i])
            u = up[i]
            i += 1
            if self.awaiting_move:
                if self._first_up is None:
                    self._first_up = u
                if float(np.dot(u, self._first_up)) > MOVED_COS:
                    continue
                self.awaiting_move = False
            self._remember(ti, u)
            if ti < self._next_check:
                continue
            self._next_check = ti + REST_CHECK_S
            mean = self._still_rest()
            if mean is None:
                continue
            self.position = position_of(mean)
            if not matches(self.spec.position, self.position):
                continue  # resting, but not in the exercise's position yet
            self._settle(mean)
            return i
        return i

    def _settle(self, rest_up: npt.NDArray[np.float64]) -> None:
        spec = self.spec
        direction = spec.direction
        self.side_lain = ""
        if spec.sides is Sides.LYING:
            on_right = lying_on_right(rest_up)
            self.side_lain = "left" if on_right else "right"  # the top leg works
            direction = 1 if on_right else -1  # the top hip rising turns the pelvis this way
        self.rest_up = rest_up
        self._detector = StrokeDetector(
            direction=direction,
            min_range_deg=spec.min_range_deg,
            max_range_deg=spec.max_range_deg,
            max_hold_s=2.0 * spec.hold_s + 2.0,
        )
        self._half = None
        self._window.clear()
        self.state = CounterState.READY

    def _lose_rest(self) -> None:
        self.state = CounterState.FINDING_REST
        self.rest_up = None
        self._detector = None
        self._half = None
        self._window.clear()
        self._next_check = -np.inf

    def _repetition(self, stroke: Stroke) -> Repetition | None:
        spec = self.spec
        if spec.direction == 0 and spec.sides is Sides.NONE:
            # forward and then back make one repetition (as the cue asks): a back stroke with
            # no forward one before it (settling in, or the last half of a set) is not paired
            first = self._half
            if stroke.direction > 0:
                self._half = stroke
                return None
            if first is None:
                return None
            self._half = None
            return self._add(
                "",
                first.t_start,
                stroke.t_end,
                first.range_deg + stroke.range_deg,
                max(first.hold_s, stroke.hold_s),
            )
        if spec.sides is Sides.MOVEMENT:
            # the hip that drops is the free one: the right dropping (frontal +) is the left leg's
            side = "left" if stroke.direction > 0 else "right"
        else:
            side = self.side_lain
        return self._add(side, stroke.t_start, stroke.t_end, stroke.range_deg, stroke.hold_s)

    def _add(self, side: str, t0: float, t1: float, range_deg: float, hold: float) -> Repetition:
        tally = self.tally.setdefault(side, SideTally())
        tally.count += 1
        tally.ranges.append(range_deg)
        rep = Repetition(tally.count, side, t0, t1, range_deg, hold)
        self.repetitions.append(rep)
        return rep
