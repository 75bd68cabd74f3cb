"""A guided routine: its steps one after another, counted or timed, as a pure state machine.

Fed (t, sagittal, frontal) samples like the counter, plus the wearer's pause, resume, skip and
stop with their times. A counted step ends when every side has its repetitions (and the last
one is back at rest), or once the wearer has done some and then none for ``IDLE_S`` (stopped
early: the set is recorded as done short); a timed step ends when its time has run, counted from
when the wearer first rests still in position. The result lists what was done, step by step,
and becomes one recorded event (monitor.coach.events).
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field

import numpy as np
import numpy.typing as npt

from monitor.coach.axes import Position, same_place
from monitor.coach.repetitions import CounterState, Repetition, RepetitionCounter
from monitor.exercises import SIDES, Counted, Routine, RoutineStep, Timed

_WHERE = {
    Position.UPRIGHT: "stand or sit tall",
    Position.STANDING: "stand tall",
    Position.SEATED: "sit tall near the front of your chair",
    Position.LYING_BACK: "lie on your back",
    Position.LYING_SIDE: "lie on your side",
}
IDLE_S = 12.0  # no repetition for this long after some: the set is over
GIVE_UP_S = 180.0  # nothing at all for this long: the step is passed over
TIMED_STILL_S = 1.0  # a timed hold starts once the wearer rests this still
TIMED_SPREAD_DEG = 3.0


class StepStatus(enum.StrEnum):
    DONE = "done"  # every repetition asked for (or the whole time)
    SHORT = "short"  # some, then the wearer stopped
    SKIPPED = "skipped"  # the wearer skipped it
    NOT_SEEN = "not_seen"  # nothing recognised in GIVE_UP_S
    STOPPED = "stopped"  # the routine was stopped during it


@dataclass(frozen=True, slots=True)
class SideResult:
    side: str  # "left", "right", or "" for an exercise without sides
    asked: int
    done: int
    mean_range_deg: float | None
    mean_hold_s: float | None


@dataclass(frozen=True, slots=True)
class StepResult:
    exercise: str
    measure: str  # "count" or "timed"
    status: StepStatus
    t_start: float
    t_end: float
    sides: tuple[SideResult, ...] = ()  # counted steps
    seconds_asked: float = 0.0  # timed steps (in all, both sides together)
    seconds_done: float = 0.0

    @property
    def repetitions(self) -> int:
        return sum(s.done for s in self.sides)


@dataclass(frozen=True, slots=True)
class RoutineResult:
    routine: str
    kind: str
    t_start: float
    t_end: float
    completed: bool  # ran to its end (steps may still be short or skipped)
    steps: tuple[StepResult, ...]

    @property
    def repetitions(self) -> int:
        return sum(s.repetitions for s in self.steps)

    def as_dict(self) -> dict[str, object]:
        out = asdict(self)
        out["repetitions"] = self.repetitions
        return out

    def counts(self) -> dict[str, dict[str, int]]:
        """Repetitions counted per exercise and side ("" for no sides)."""
        out: dict[str, dict[str, int]] = {}
        for step in self.steps:
            if step.measure == "count":
                per = out.setdefault(step.exercise, {})
                for s in step.sides:
                    per[s.side] = per.get(s.side, 0) + s.done
        return out


@dataclass(slots=True)
class _Timer:
    seconds: float
    sides: int
    side_index: int = 0
    started: float | None = None  # this side's hold began
    done_s: float = 0.0
    window: list[tuple[float, float, float]] = field(default_factory=list)
    switching_until: float | None = None

    def feed(self, t: float, sag: float, fro: float) -> bool:
        """True once every side's time has run."""
        if self.switching_until is not None and t < self.switching_until:
            return False
        if self.started is None:
            self.window.append((t, sag, fro))
            while self.window[0][0] < t - TIMED_STILL_S:
                self.window.pop(0)
            if self.window[-1][0] - self.window[0][0] < 0.9 * TIMED_STILL_S:
                return False
            arr = np.array(self.window)
            if np.ptp(arr[:, 1]) > TIMED_SPREAD_DEG or np.ptp(arr[:, 2]) > TIMED_SPREAD_DEG:
                return False
            self.started = t
            self.window.clear()
            return False
        if t - self.started < self.seconds:
            return False
        self.done_s += self.seconds
        self.side_index += 1
        self.started = None
        self.switching_until = t + 2.0  # time to change sides before the next hold is timed
        return self.side_index >= self.sides

    def elapsed(self, t: float) -> float:
        return self.done_s + (
            min(self.seconds, t - self.started) if self.started is not None else 0.0
        )


class RoutineRun:
    def __init__(self, routine: Routine, *, starting: Position | None = None) -> None:
        """``starting``: where the wearer is when the routine begins (standing, seated), if known;
        gravity cannot tell standing from sitting, so a first step done elsewhere waits for the
        move into position."""
        self.routine = routine
        self.starting = starting
        self.index = 0
        self.paused = False
        self.finished = False
        self.t_start: float | None = None
        self.t_now: float | None = None
        self.results: list[StepResult] = []
        self.last_rep: Repetition | None = None
        self._step_start: float | None = None
        self._last_activity: float | None = None
        self._counter: RepetitionCounter | None = None
        self._timer: _Timer | None = None
        self._end: float | None = None
        self._begin_step()

    def set_starting(self, position: Position | None) -> None:
        """Where the wearer is as the routine starts (before any sample goes in)."""
        if self.t_start is None and self.index == 0:
            self.starting = position
            self._begin_step()

    # --- what the screen shows ---

    @property
    def step(self) -> RoutineStep | None:
        return None if self.finished else self.routine.steps[self.index]

    @property
    def counter(self) -> RepetitionCounter | None:
        return self._counter

    @property
    def timer(self) -> _Timer | None:
        return self._timer

    def cue(self) -> str:
        """What to do now, in a line."""
        step = self.step
        if step is None:
            return "Routine finished."
        if self.paused:
            return "Paused."
        sensor = step.exercise.sensor
        if isinstance(sensor, Counted):
            counter = self._counter
            assert counter is not None
            if counter.state is CounterState.FINDING_REST:
                where = _WHERE[sensor.position]
                return f"Get into position ({where}) and rest still a moment."
            missing = [s for s, n in step.reps.items() if s and counter.count_for(s) < n]
            if missing and sensor.sides.value != "none":
                here = counter.side_lain or (self.last_rep.side if self.last_rep else "")
                if here and here not in missing:
                    return f"That side is done: now the {missing[0]} side."
            return step.exercise.how
        timer = self._timer
        assert timer is not None
        if timer.switching_until is not None and timer.started is None and timer.side_index:
            return "Change sides and hold still again."
        if timer.started is None:
            return "Get into the stretch and hold still: the timer starts when you do."
        return step.exercise.how

    def tempo_s(self) -> float | None:
        """Mean seconds per repetition over this set, once there are two."""
        counter = self._counter
        if counter is None or len(counter.repetitions) < 2:
            return None
        reps = counter.repetitions
        return (reps[-1].t_end - reps[0].t_end) / (len(reps) - 1)

    # --- input ---

    def feed(
        self,
        t: npt.ArrayLike,
        sagittal: npt.ArrayLike,
        frontal: npt.ArrayLike,
    ) -> list[Repetition | StepResult]:
        tt = np.asarray(t, dtype=np.float64).reshape(-1)
        if self.finished or not len(tt):
            return []
        if self.t_start is None:
            self.t_start = float(tt[0])
        if self._step_start is None:
            self._step_start = self._last_activity = float(tt[0])
        self.t_now = float(tt[-1])
        if self.paused:
            return []
        sag = np.asarray(sagittal, dtype=np.float64).reshape(-1)
        fro = np.asarray(frontal, dtype=np.float64).reshape(-1)
        out: list[Repetition | StepResult] = []
        if self._timer is not None:
            for ti, si, fi in zip(tt.tolist(), sag.tolist(), fro.tolist(), strict=True):
                if self._timer is not None and self._timer.feed(ti, si, fi):
                    out.append(self._finish_step(ti, StepStatus.DONE))
                    if self.finished:
                        break
                    if self._counter is not None:  # the next step counts: hand it the rest
                        out += self._count(tt[tt > ti], sag[tt > ti], fro[tt > ti])
                        break
            return out
        return self._count(tt, sag, fro)

    def _count(
        self,
        tt: npt.NDArray[np.float64],
        sag: npt.NDArray[np.float64],
        fro: npt.NDArray[np.float64],
    ) -> list[Repetition | StepResult]:
        out: list[Repetition | StepResult] = []
        counter = self._counter
        if counter is None or not len(tt):
            return out
        reps = counter.feed(tt, sag, fro)
        for rep in reps:
            self.last_rep = rep
            self._last_activity = rep.t_end
        out += reps
        t = float(tt[-1])
        step = self.step
        assert step is not None and self._step_start is not None and self._last_activity is not None
        complete = all(counter.count_for(s) >= n for s, n in step.reps.items())
        if complete and counter.state is not CounterState.MOVING:
            out.append(self._finish_step(t, StepStatus.DONE))
        elif self._all_sides_begun(step, counter) and t - self._last_activity >= IDLE_S:
            out.append(self._finish_step(t, StepStatus.SHORT))
        elif not counter.count and t - self._step_start >= GIVE_UP_S:
            out.append(self._finish_step(t, StepStatus.NOT_SEEN))
        return out

    @staticmethod
    def _all_sides_begun(step: RoutineStep, counter: RepetitionCounter) -> bool:
        """Some repetitions on every side asked for (changing sides is not stopping)."""
        return all(counter.count_for(s) > 0 for s in step.reps)

    def pause(self, t: float) -> None:
        self.paused = True
        self.t_now = t

    def resume(self, t: float) -> None:
        """Carry on; the wearer may have moved, so the rest is found again."""
        if not self.paused:
            return
        self.paused = False
        self._last_activity = t
        if self._counter is not None:
            counter = RepetitionCounter(self._counter.spec)
            counter.tally, counter.repetitions = self._counter.tally, self._counter.repetitions
            self._counter = counter
        if self._timer is not None:
            self._timer.started = None  # the hold is timed again from the next still moment
            self._timer.window.clear()

    def skip(self, t: float) -> StepResult | None:
        if self.finished:
            return None
        return self._finish_step(t, StepStatus.SKIPPED)

    def stop(self, t: float) -> RoutineResult:
        if not self.finished:
            self._finish_step(t, StepStatus.STOPPED)
            self.finished = True
            self._end = t
        return self.result()

    def result(self) -> RoutineResult:
        t0 = self.t_start if self.t_start is not None else 0.0
        t1 = self._end if self._end is not None else (self.t_now or t0)
        completed = self.finished and not any(r.status is StepStatus.STOPPED for r in self.results)
        return RoutineResult(
            self.routine.name, self.routine.kind.value, t0, t1, completed, tuple(self.results)
        )

    # --- steps ---

    def _begin_step(self) -> None:
        step = self.routine.steps[self.index]
        sensor = step.exercise.sensor
        self._counter = None
        if isinstance(sensor, Counted):
            before = self._position_before()
            move = before is not None and not same_place(before, sensor.position)
            self._counter = RepetitionCounter(sensor, after_a_move=move)
        self._timer = None
        if isinstance(sensor, Timed):
            assert step.seconds is not None
            self._timer = _Timer(step.seconds, 2 if step.both_sides else 1)
        self._step_start = self._last_activity = self.t_now
        self.last_rep = None

    def _position_before(self) -> Position | None:
        """Where the previous counted step left the wearer (None at the start)."""
        for step in reversed(self.routine.steps[: self.index]):
            if isinstance(step.exercise.sensor, Counted):
                return step.exercise.sensor.position
            return None  # a stretch in between: they have moved anyway
        return self.starting

    def _finish_step(self, t: float, status: StepStatus) -> StepResult:
        step = self.routine.steps[self.index]
        t0 = self._step_start if self._step_start is not None else t
        if self._counter is not None:
            counter = self._counter
            names = list(step.reps) if "" not in step.reps else [""]
            names += [s for s in SIDES if s in counter.tally and s not in names]
            sides = []
            for name in names:
                tally = counter.tally.get(name)
                holds = [r.hold_s for r in counter.repetitions if r.side == name]
                sides.append(
                    SideResult(
                        name,
                        step.reps.get(name, 0),
                        tally.count if tally else 0,
                        tally.mean_range_deg if tally else None,
                        float(np.mean(holds)) if holds else None,
                    )
                )
            if status is StepStatus.SHORT and all(s.done >= s.asked for s in sides):
                status = StepStatus.DONE
            result = StepResult(step.exercise.name, "count", status, t0, t, tuple(sides))
        else:
            timer = self._timer
            assert timer is not None
            result = StepResult(
                step.exercise.name,
                "timed",
                status,
                t0,
                t,
                seconds_asked=timer.seconds * timer.sides,
                seconds_done=timer.elapsed(t),
            )
        self.results.append(result)
        self.t_now = t
        if status is StepStatus.STOPPED:
            return result
        self.index += 1
        if self.index >= len(self.routine.steps):
            self.finished = True
            self._end = t
            self._counter = None
            self._timer = None
        else:
            self._begin_step()
        return result
