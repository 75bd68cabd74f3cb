"""A whole routine as the wearer does it (true motion), with pause, skip and stop."""

from __future__ import annotations

import pytest
from coach_helpers import in_chunks, ramps, true_tilt

from monitor.coach.axes import Position
from monitor.coach.routine import RoutineRun, StepStatus
from monitor.coach.simulated import routine_scenario
from monitor.exercises import Counted, load_catalogue


def routine(name: str):  # type: ignore[no-untyped-def]
    return load_catalogue().routines[name]


@pytest.mark.parametrize(("name", "seed"), [("anterior", 0), ("lateral_left", 1)])
def test_a_routine_counts_what_was_done(name: str, seed: int) -> None:
    r = routine(name)
    truth, t, sag, fro = true_tilt(routine_scenario(r), seed)
    run = RoutineRun(r, starting=Position.STANDING)
    in_chunks(run.feed, t, sag, fro)
    assert run.finished
    result = run.result()
    assert result.completed and len(result.steps) == len(r.steps)
    expected: dict[str, dict[str, int]] = {}
    for s in truth.sets:
        if s.movement != "hold":
            expected.setdefault(s.movement, {})[s.side] = s.done
    movements = {
        st.exercise.name: st.exercise.sensor.movement
        for st in r.steps
        if isinstance(st.exercise.sensor, Counted)
    }
    got = {movements[k]: v for k, v in result.counts().items()}
    assert got == expected
    timed = [s for s in result.steps if s.measure == "timed"]
    assert timed and all(s.seconds_done == s.seconds_asked for s in timed)


def test_pause_skip_and_stop_are_recorded() -> None:
    r = routine("anterior")
    run = RoutineRun(r)
    t, sag, fro = ramps(
        (0.0, 0.0, 0.0),
        (2.0, 0.0, 0.0),
        (3.0, 10.0, 0.0),
        (4.5, -8.0, 0.0),
        (5.5, 0.0, 0.0),
        (7.0, 0.0, 0.0),
    )
    run.feed(t, sag, fro)
    assert run.counter is not None and run.counter.count == 1
    run.pause(7.0)
    assert run.cue() == "Paused."
    # moving while paused counts nothing
    t2, s2, f2 = ramps((7.0, 0.0, 0.0), (8.0, 12.0, 0.0), (9.0, -10.0, 0.0), (10.0, 0.0, 0.0))
    assert run.feed(t2, s2, f2) == [] and run.counter.count == 1
    run.resume(10.0)
    skipped = run.skip(11.0)
    assert skipped is not None and skipped.status is StepStatus.SKIPPED
    assert skipped.sides[0].done == 1 and skipped.sides[0].asked == 8
    assert run.step is not None and run.step.exercise.name == "Glute bridge"
    result = run.stop(12.0)
    assert [s.status for s in result.steps] == [StepStatus.SKIPPED, StepStatus.STOPPED]
    assert not result.completed and result.repetitions == 1
    assert result.as_dict()["repetitions"] == 1


def test_a_set_stopped_early_ends_after_a_while_without_repetitions() -> None:
    r = routine("awareness")
    run = RoutineRun(r)
    pts = [(0.0, 0.0, 0.0), (2.0, 0.0, 0.0)]
    for k in range(3):  # three of the eight asked
        t0 = 2.0 + 3 * k
        pts += [(t0 + 1.0, 10.0, 0.0), (t0 + 2.0, -8.0, 0.0), (t0 + 3.0, 0.0, 0.0)]
    pts += [(40.0, 0.0, 0.0)]
    run.feed(*ramps(*pts))
    first = run.result().steps[0]
    assert first.status is StepStatus.SHORT and first.sides[0].done == 3
    assert run.step is not None and run.step.exercise.name == "Seated pelvic tilts"


def test_every_step_of_every_routine_has_a_cue_in_every_state() -> None:
    for r in load_catalogue().routines.values():
        run = RoutineRun(r)
        t = 0.0
        while not run.finished:
            assert run.cue()  # before the wearer is in position
            run.feed(*ramps((t, 0.0, 0.0), (t + 3.0, 0.0, 0.0)))  # resting upright
            assert run.cue()
            run.pause(t + 3.0)
            assert run.cue() == "Paused."
            run.resume(t + 3.0)
            run.skip(t + 3.0)
            t += 3.0
        assert run.cue() == "Routine finished."
        assert [s.status for s in run.result().steps] == [StepStatus.SKIPPED] * len(r.steps)
