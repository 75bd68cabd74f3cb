"""The sensor tables and routines in the exercises file: what is read, and what is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.coach.axes import Axis, Position
from monitor.exercises import Counted, ExercisesError, Sides, Timed, load_catalogue


def test_every_routine_step_says_how_the_sensor_measures_it() -> None:
    catalogue = load_catalogue()
    assert set(catalogue.routines) == {
        "anterior",
        "posterior",
        "lateral_left",
        "lateral_right",
        "awareness",
    }
    for r in catalogue.routines.values():
        for step in r.steps:
            sensor = step.exercise.sensor
            assert isinstance(sensor, Counted | Timed) and sensor.note
            if isinstance(sensor, Counted):
                assert step.reps and step.seconds is None
            else:
                assert step.seconds and not step.reps
    bridge = next(
        s for s in catalogue.routines["anterior"].steps if s.exercise.name == "Glute bridge"
    )
    sensor = bridge.exercise.sensor
    assert isinstance(sensor, Counted)
    assert (sensor.axis, sensor.direction, sensor.position) == (
        Axis.SAGITTAL,
        -1,
        Position.LYING_BACK,
    )
    hike = catalogue.routines["lateral_left"].steps[0]
    assert dict(hike.reps) == {"left": 10, "right": 5} and hike.sided
    assert (
        isinstance(hike.exercise.sensor, Counted) and hike.exercise.sensor.sides is Sides.MOVEMENT
    )
    assert (
        catalogue.routine_for(catalogue.routines["posterior"].kind)
        is catalogue.routines["posterior"]
    )


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mine.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[[awareness]]\nname = "X"\nhow = "Y."\nsensor = { measure = "count", note = "n" }\n',
            "sensor.movement: missing",
        ),
        (
            '[[awareness]]\nname = "X"\nhow = "Y."\nsensor = { measure = "guess", note = "n" }\n',
            "must be count or timed",
        ),
        (
            '[[awareness]]\nname = "X"\nhow = "Y."\nsensor = { measure = "count",'
            ' movement = "m", axis = "sagittal",'
            ' direction = "right_down", position = "standing", min_range_deg = 3, note = "n" }\n',
            "must be one of anterior, posterior, both",
        ),
        (
            '[[awareness]]\nname = "X"\nhow = "Y."\nsensor = {'
            ' measure = "timed", note = "n", hold_s = 3 }\n',
            "a timed exercise takes only measure and note",
        ),
        (
            '[[routine]]\nname = "r"\nkind = "anterior"\ntitle = "T"\n'
            'steps = [{ exercise = "Nope", reps = 3 }]\n',
            "names no exercise in the catalogue",
        ),
        (
            '[[routine]]\nname = "r"\nkind = "anterior"\ntitle = "T"\n'
            'steps = [{ exercise = "Glute bridge", seconds = 30 }]\n',
            "a counted exercise needs reps",
        ),
        (
            '[[routine]]\nname = "r"\nkind = "anterior"\ntitle = "T"\n'
            'steps = [{ exercise = "Glute bridge", reps = { left = 3 } }]\n',
            "reps by side is for a sided exercise",
        ),
        (
            '[[routine]]\nname = "r"\nkind = "anterior"\ntitle = "T"\n'
            'steps = [{ exercise = "Glute bridge", reps = 0 }]\n',
            "must be between 1 and 100",
        ),
    ],
)
def test_bad_entries_are_refused_naming_the_file_and_entry(
    tmp_path: Path, text: str, message: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ExercisesError, match=message) as info:
        load_catalogue(path)
    assert str(path) in str(info.value)


def test_a_wearer_file_that_replaces_exercises_drops_the_routines_that_used_them(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, '[[anterior]]\nname = "Wall sit"\nhow = "Sit against a wall."\n')
    catalogue = load_catalogue(path)
    assert "anterior" not in catalogue.routines  # its bridge is gone
    assert "posterior" in catalogue.routines  # its own exercises are still there
