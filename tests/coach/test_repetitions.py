"""The repetition counter on the true pelvis motion of simulated wearers, and on edge cases."""

from __future__ import annotations

import numpy as np
import pytest
from coach_helpers import in_chunks, ramps, true_tilt

from monitor.coach.axes import Position
from monitor.coach.repetitions import CounterState, RepetitionCounter
from monitor.exercises import Counted, load_catalogue


def spec(name: str) -> Counted:
    for entries in load_catalogue().exercises.values():
        for e in entries:
            if e.name == name:
                assert isinstance(e.sensor, Counted)
                return e.sensor
    raise KeyError(name)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_glute_bridges_are_counted_through_the_fold_at_lying(seed: int) -> None:
    # lying on the back the pipeline's sagittal cannot pass −90°: a bridge goes beyond it
    truth, t, sag, fro = true_tilt("coach:bridge:10", seed)
    assert sag.min() >= -90.0 and np.any(np.abs(fro) > 90.0)  # the fold is really in the data
    counter = RepetitionCounter(spec("Glute bridge"))
    reps = in_chunks(counter.feed, t, sag, fro)
    true_reps = [r for r in truth.reps if r.movement == "bridge"]
    assert len(reps) == len(true_reps) == truth.sets[0].done
    for rep, true in zip(reps, true_reps, strict=True):
        assert rep.range_deg == pytest.approx(true.range_deg, abs=1.0)
        assert rep.t_start < true.t_end and true.t_start < rep.t_end
        assert rep.hold_s > 0.5  # the wearer holds at the top


def test_side_lying_leg_raises_are_put_on_the_side_that_works() -> None:
    truth, t, sag, fro = true_tilt("coach:side_leg_raise:7/4", 3)
    counter = RepetitionCounter(spec("Side-lying leg raise (left leg)"))
    in_chunks(counter.feed, t, sag, fro)
    done = {s.side: s.done for s in truth.sets}
    assert counter.count_for("left") == done["left"]
    assert counter.count_for("right") == done["right"]
    assert done["left"] != done["right"]  # a swap would show


def test_hip_hikes_tell_the_standing_leg_from_the_hip_that_drops() -> None:
    truth, t, sag, fro = true_tilt("coach:hip_hike:3/6", 4)
    counter = RepetitionCounter(spec("Hip hike (standing on the left leg)"))
    in_chunks(counter.feed, t, sag, fro)
    assert {s: counter.count_for(s) for s in ("left", "right")} == {
        s.side: s.done for s in truth.sets
    }


def test_pelvic_tilts_need_one_way_and_the_other() -> None:
    # rest, then forward 10° and back to rest three times: no repetition without the back half
    pts = [(0.0, 0.0, 0.0), (2.0, 0.0, 0.0)]
    for k in range(3):
        t0 = 2.0 + 3 * k
        pts += [(t0 + 1.0, 10.0, 0.0), (t0 + 3.0, 0.0, 0.0)]
    counter = RepetitionCounter(spec("Standing pelvic tilts"))
    assert counter.feed(*ramps(*pts)) == []
    # now forward and back: each pair is one repetition with the whole range
    t, sag, fro = ramps(
        (0.0, 0.0, 0.0),
        (2.0, 0.0, 0.0),
        (3.0, 10.0, 0.0),
        (4.5, -8.0, 0.0),
        (5.5, 0.0, 0.0),
        (7.0, 0.0, 0.0),
    )
    counter = RepetitionCounter(spec("Standing pelvic tilts"))
    reps = counter.feed(t, sag, fro)
    assert len(reps) == 1 and reps[0].range_deg == pytest.approx(18.0, abs=0.3)


def test_small_wobbles_and_a_new_position_are_not_repetitions() -> None:
    counter = RepetitionCounter(spec("Glute bridge"))
    # standing: the bridge waits for lying on the back
    t, sag, fro = ramps((0.0, 0.0, 0.0), (3.0, 0.0, 0.0))
    counter.feed(t, sag, fro)
    assert counter.state is CounterState.FINDING_REST and counter.position is Position.UPRIGHT
    # lie down, wobble 3° (under the 6° minimum), then roll onto the side: no repetition
    t, sag, fro = ramps(
        (3.0, 0.0, 0.0),
        (6.0, -85.0, 0.0),
        (8.0, -85.0, 0.0),
        (8.5, -88.0, 0.0),
        (9.0, -85.0, 0.0),
        (11.0, -85.0, 0.0),
        (13.0, 0.0, 85.0),
        (15.0, 0.0, 85.0),
    )
    assert counter.feed(t, sag, fro) == []
    assert counter.count == 0


def test_after_a_move_the_rest_waits_for_the_move() -> None:
    # seated pelvic tilts after standing ones: gravity cannot tell sitting from standing, so the
    # counter waits for the sit-down before it takes the rest
    counter = RepetitionCounter(spec("Seated pelvic tilts"), after_a_move=True)
    t, sag, fro = ramps((0.0, 0.0, 0.0), (3.0, 0.0, 0.0))
    counter.feed(t, sag, fro)
    assert counter.state is CounterState.FINDING_REST
    t, sag, fro = ramps((3.0, 0.0, 0.0), (4.0, 15.0, 0.0), (5.0, -8.0, 0.0), (7.0, -8.0, 0.0))
    counter.feed(t, sag, fro)
    assert counter.state is CounterState.READY
    assert counter.rest_up is not None and counter.rest_up[0] == pytest.approx(
        np.sin(np.radians(8.0)), abs=0.01
    )
