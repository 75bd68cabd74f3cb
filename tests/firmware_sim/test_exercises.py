"""The simulated wearer doing exercises: seeded, varied per person, truth that adds up."""

from __future__ import annotations

import numpy as np
import pytest

from firmware_sim.exercises import exercise_truth, routine_items
from firmware_sim.scenarios import build_scenario
from firmware_sim.simulation import simulate

ROUTINE = "coach:pelvic_tilt_standing:5,bridge:4,hip_hike:3/2,side_leg_raise:2/3,hold:10x2"


def test_the_same_seed_gives_the_same_session_and_truth() -> None:
    a, b = exercise_truth(ROUTINE, 3), exercise_truth(ROUTINE, 3)
    assert a.segments == b.segments and a.reps == b.reps
    assert build_scenario(ROUTINE, 3).segments == a.segments


def test_people_differ_in_range_tempo_and_form() -> None:
    truths = [exercise_truth("coach:bridge:6", seed) for seed in range(8)]
    ranges = [np.mean([r.range_deg for r in t.reps]) for t in truths]
    tempo = [np.mean([r.t_end - r.t_start for r in t.reps]) for t in truths]
    assert np.ptp(ranges) > 5.0 and np.ptp(tempo) > 1.0
    assert min(min(r.range_deg for r in t.reps) for t in truths) >= 8.0  # all real lifts


def test_every_repetition_has_truth_and_sets_add_up() -> None:
    truth = exercise_truth(ROUTINE, 1)
    counted = [s for s in truth.sets if s.movement != "hold"]
    assert [(s.movement, s.side) for s in counted] == [
        ("pelvic_tilt_standing", ""),
        ("bridge", ""),
        ("hip_hike", "left"),
        ("hip_hike", "right"),
        ("side_leg_raise", "left"),
        ("side_leg_raise", "right"),
    ]
    for s in counted:
        reps = [r for r in truth.reps if r.set_index == s.index]
        assert len(reps) == s.done <= s.asked
        assert all(s.t_start <= r.t_start < r.t_end <= s.t_end for r in reps)
    # the side told by the movement: standing on the left, the right hip drops (frontal +)
    hikes = {r.side: r.direction for r in truth.reps if r.movement == "hip_hike"}
    assert hikes == {"left": 1, "right": -1}


def test_the_recording_moves_as_the_truth_says() -> None:
    truth = exercise_truth("coach:bridge:3", 2)
    rec = simulate("coach:bridge:3", seed=2, rate_hz=50)
    rep = truth.reps[0]
    inside = (rec.t_true >= rep.t_start) & (rec.t_true <= rep.t_end)
    assert rec.activity[inside].min() == rec.activity[inside].max()  # lying throughout
    assert len(rec) == pytest.approx(50 * sum(s.duration_s for s in truth.segments), abs=1)


@pytest.mark.parametrize(
    "name", ["coach:", "coach:jump:3", "coach:bridge:x", "coach:hip_hike:3/-1"]
)
def test_bad_names_say_what_is_allowed(name: str) -> None:
    with pytest.raises(ValueError, match=r"movement|at least one item"):
        routine_items(name)
